"""The desk policy: departments, categories and plans, read from a TOML file.

The file is the deployment's own (see ``bot/desk.example.toml``); nothing about a
particular vendor is hard-coded. Labels are given per language and fall back to
English.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bot.errors import DeskError
from bot.files import MB, FileLimits
from bot.reactions import Reactions
from bot.reply import Reply, Text
from bot.ticket import QuoteRefusal, RequestType

EXAMPLE_POLICY = Path(__file__).with_name("desk.example.toml")

Labels = dict[str, str]
# The deployment's own words for a few sentences ([wording] in the policy file), by
# the catalog key they replace: e.g. where customers find their support number.
WORDING = {
    "where_to_find_support_number": "intake.where_to_find_support_number",
}
# Ways forward offered to a customer whose monthly quota is used up: the sales
# department (never counted), or a paid request (not counted; the team quotes first).
OVER_QUOTA_WAYS = ("sales", "paid")


class PolicyError(DeskError):
    """A policy that cannot be used. ``lines`` say the problem in messages any language
    has (``cli.policy.*``), for the operator reading ``python -m bot policy check``; the
    exception's text is the same in English, for logs."""

    key = "error.policy"

    def __init__(self, detail: str = "", *, lines: Sequence[Reply] = (), **params: Any) -> None:
        super().__init__(detail, **params)
        self.lines = tuple(lines)


# -- the keys a policy file may hold ---------------------------------------------------
#
# A misspelled key would otherwise be read as "not given" and its default used without a
# word (``peek`` for ``peak``: no busy hours; ``monthly_qouta``: no quota at all), so a
# policy holds only the keys below; anything else is an error naming the key, the file
# and line, and the nearest valid key. A table is a dict of its keys; ``ANY`` stands for
# keys the policy names itself (a department's, a category's, a holiday list's); None is
# a value. A new setting is added here as well as where it is read.
ANY = "*"
Schema = Mapping[str, "Schema | None"]
# Labels (``name = { en = "...", cs = "..." }``): one per language of the desk.
LABELS: Schema = dict.fromkeys(("en", "cs", "pl", "ru"))
# Platforms are the channels' own names (telegram, discord, console; tests add their
# own), so they are not checked here; ``python -m bot policy check`` warns of others.
KNOWN_PLATFORMS = ("telegram", "discord", "console")
PLATFORMS: Schema = {ANY: None}
WEEKDAY_KEYS: Schema = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
# [targets.<request type or "critical">] and [plans.X.targets.<...>] (``TargetRule``).
TARGET_TABLE: Schema = dict.fromkeys(
    ("first_response_hours", "resolution_hours", "clock", "due", "departments")
)
SCHEMA: Schema = {
    "desk": {
        "sales_department": None,
        "languages": None,
        "default_language": None,
        "leads": None,
        "moderators": None,
        "lead_roles": PLATFORMS,
        "moderator_roles": PLATFORMS,
        "default_plan": None,
        "escalation_department": None,
        "timezone": None,
    },
    "quota": {"over_quota": None, "exempt_critical": None},
    "wording": dict.fromkeys(WORDING, LABELS),
    "departments": {
        ANY: {
            "name": LABELS,
            "team_channels": PLATFORMS,
            "agent_roles": PLATFORMS,
            "timezone": None,
            "hours": WEEKDAY_KEYS,
            "workdays": None,
            "open": None,
            "close": None,
            "holidays": None,
            "off_hours_critical_only": None,
            "peak": None,
            "holiday_region": None,
            "hotline": LABELS,
        }
    },
    "categories": {
        ANY: {
            "name": LABELS,
            "department": None,
            "request_type": None,
            "critical": None,
            "paid": None,
            "listed": None,
            "plans": None,
            "once_per_account": None,
            "counts_toward_quota": None,
            "keywords": None,
            "due": None,
        }
    },
    "quotes": {"on_refusal": None, "currency": None},
    "plans": {
        ANY: {
            "name": LABELS,
            "departments": None,
            "first_response_hours": None,
            "resolution_hours": None,
            "monthly_quota": None,
            "support_months": None,
            "domains_per_package": None,
            "ask_support_number": None,
            "ask_domain": None,
            "direct_only": None,
            "priority_boost": None,
            "target_clock": None,
            "targets": {ANY: TARGET_TABLE},
        }
    },
    "targets": {ANY: TARGET_TABLE},
    "holidays": {ANY: None},
    "sla": {"warn_at": None},
    "reminders": {
        "waiting_reminder_hours": None,
        "waiting_close_hours": None,
        "resolved_close_days": None,
    },
    "help": {"folder": None},
    "onboarding": {"plans": None, "days": None, "trial": None},
    "reactions": {"received": None, "seen": None, "confirm": None},
    "files": {"receive_mb": PLATFORMS, "send_mb": PLATFORMS},
}


@dataclass(frozen=True, slots=True)
class UnknownKey:
    """A key the schema does not know: where it is (its table's keys, then its own)
    and the valid key it most resembles."""

    path: tuple[str, ...]
    valid: tuple[str, ...]

    @property
    def nearest(self) -> str | None:
        found = difflib.get_close_matches(self.path[-1], self.valid, n=1, cutoff=0.5)
        return found[0] if found else None

    def describe(self, source: str = "", line: int | None = None) -> str:
        table = ".".join(self.path[:-1])
        where = f"in [{table}]" if table else "at the top level"
        at = f"{source}:{line}: " if source and line else (f"{source}: " if source else "")
        hint = (
            f"did you mean {self.nearest!r}?"
            if self.nearest
            else f"valid keys: {', '.join(sorted(self.valid))}"
        )
        return f"{at}unknown key {self.path[-1]!r} {where}; {hint}"

    def reply(self, source: str = "", line: int | None = None) -> Reply:
        """``describe`` as a message (``cli.policy.unknown_key_*``)."""
        table = ".".join(self.path[:-1])
        at = f"{source}:{line}: " if source and line else (f"{source}: " if source else "")
        nearest = self.nearest
        hint = (
            Text("cli.policy.did_you_mean", {"key": nearest})
            if nearest
            else Text("cli.policy.valid_keys", {"keys": ", ".join(sorted(self.valid))})
        )
        key = "cli.policy.unknown_key_in" if table else "cli.policy.unknown_key_top"
        return Reply(key, {"at": at, "key": self.path[-1], "table": table, "hint": hint})


def unknown_keys(data: Mapping[str, Any], schema: Schema = SCHEMA) -> list[UnknownKey]:
    """Every key of ``data`` the schema does not know, in the file's order."""
    return list(_unknown(data, schema, ()))


def _unknown(
    data: Mapping[str, Any], schema: Schema, path: tuple[str, ...]
) -> Iterator[UnknownKey]:
    for key, value in data.items():
        if key in schema:
            inner = schema[key]
        elif ANY in schema:
            inner = schema[ANY]
        else:
            yield UnknownKey((*path, str(key)), tuple(schema))
            continue
        # A table where a value is expected (or the reverse) is the parsers' to report.
        if inner is not None and isinstance(value, Mapping):
            yield from _unknown(value, inner, (*path, str(key)))


_HEADER = re.compile(r"^\[\[?\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_PART = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+')
_ASSIGN = re.compile(r'^((?:"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_.\s-])+?)\s*=')


def _key_parts(text: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _KEY_PART.findall(text))


def key_line(text: str, path: Sequence[str]) -> int | None:
    """The line of ``text`` (TOML) where the key at ``path`` is written: a table header,
    a ``key = value`` line, or the line of the inline table holding it."""
    wanted = tuple(path)
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if header := _HEADER.match(stripped):
            table = _key_parts(header[1])
            if table == wanted:
                return number
            continue
        assign = _ASSIGN.match(stripped)
        if not assign:
            continue
        full = table + _key_parts(assign[1])
        if full == wanted:
            return number
        inner = wanted[len(full) :]
        if wanted[: len(full)] == full and all(
            re.search(rf"[{{,]\s*[\"']?{re.escape(part)}[\"']?\s*=", line) for part in inner
        ):
            return number
    return None


def check_keys(data: Mapping[str, Any], source: Path | None = None, text: str = "") -> None:
    """Raise ``PolicyError`` naming every unknown key of ``data`` (with the file and line
    when read from ``source``) and the valid key nearest to each."""
    found = unknown_keys(data)
    if not found:
        return
    name = str(source) if source else ""
    lines = [key_line(text, key.path) if text else None for key in found]
    raise PolicyError(
        "\n".join(key.describe(name, line) for key, line in zip(found, lines, strict=True)),
        lines=[key.reply(name, line) for key, line in zip(found, lines, strict=True)],
    )


class TargetClock(StrEnum):
    """How a service-level target counts its hours."""

    BUSINESS = "business"  # only the department's opening hours (minus holidays)
    CALENDAR = "calendar"  # every hour, nights, weekends and holidays included


class DueRule(StrEnum):
    """How a request's resolution is due."""

    PLAN = "plan"  # the plan's (or the target table's) resolution hours
    SAME_BUSINESS_DAY = "same_business_day"  # seed 004: payment and subscription


@dataclass(frozen=True, slots=True)
class Hours:
    """A target in hours: one number, or a range ``low-high`` ("24-48 h"): the customer
    is told the range, the team is warned at ``low`` and the target breached at ``high``."""

    low: float
    high: float

    @property
    def is_range(self) -> bool:
        return self.low < self.high


@dataclass(frozen=True, slots=True)
class Target:
    """One promise: hours counted on a clock."""

    hours: Hours
    clock: TargetClock = TargetClock.BUSINESS


@dataclass(frozen=True, slots=True)
class TargetRule:
    """``[targets.<key>]`` or ``[plans.<plan>.targets.<key>]``: what requests of a type
    (``bug``, ``payment``, ...) or every critical request (``critical``) are promised,
    overriding the plan's targets for what the table states. Its ``clock`` applies to
    the hours the table states, or, when it states none, to the inherited ones."""

    key: str
    first_response_hours: Hours | None = None
    resolution_hours: Hours | None = None
    clock: TargetClock | None = None
    due: DueRule | None = None
    # Only in these departments (empty: in every department).
    departments: frozenset[str] = frozenset()

    def applies(self, department: str) -> bool:
        return not self.departments or department in self.departments

    def over(self, promise: Promise) -> Promise:
        """``promise`` with this table's overrides laid over it."""
        stated = self.first_response_hours is not None or self.resolution_hours is not None

        def one(current: Target, hours: Hours | None) -> Target:
            if hours is not None:
                return Target(hours, self.clock or current.clock)
            if not stated and self.clock is not None:
                return Target(current.hours, self.clock)
            return current

        return Promise(
            first_response=one(promise.first_response, self.first_response_hours),
            resolution=one(promise.resolution, self.resolution_hours),
            due=self.due or promise.due,
        )


@dataclass(frozen=True, slots=True)
class Promise:
    """What one request is promised: its two targets and how its resolution is due."""

    first_response: Target
    resolution: Target
    due: DueRule = DueRule.PLAN


# The keys of target tables: a request type, or "critical" for critical requests.
CRITICAL_TARGET = "critical"


@dataclass(frozen=True, slots=True)
class Department:
    key: str
    labels: Labels
    # platform -> the team chats (e.g. telegram chat ids, "console"): one, or several
    # that share the department's tickets (Telegram lets ~20 messages a minute into one
    # group; two groups take twice as many new tickets a minute).
    team_channels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # platform -> ids of the roles whose members are this department's agents (Discord).
    agent_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    # Phone (or other contact) for emergencies, per language ([departments.X] hotline):
    # shown to a customer who picks a critical category and in the off-hours notice.
    hotline: Labels = field(default_factory=dict)
    # Public holidays from the ``holidays`` package: ISO country code ("CZ") and
    # subdivision ("10" for Prague; "" for the whole country).
    holiday_country: str = ""
    holiday_subdivision: str = ""

    def team_chat(self, platform: str, number: int) -> str | None:
        """The team chat of ``platform`` that ticket ``number`` lives in. With several,
        rendezvous hashing: each ticket's own ranking of the chats, the first wins, so
        tickets spread evenly, a ticket stays where it is as long as the list does, and
        a chat added later draws only its share of them (a chat removed gives away only
        its own)."""
        chats = self.team_channels.get(platform, ())
        if len(chats) <= 1:
            return chats[0] if chats else None
        return max(chats, key=lambda chat: _weight(number, chat))


def _weight(number: int, chat: str) -> int:
    digest = hashlib.blake2b(f"{number}/{chat}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True, slots=True)
class Category:
    key: str
    department: str
    request_type: RequestType
    labels: Labels
    critical: bool = False
    paid: bool = False
    # How its resolution is due ([categories.X] due).
    due: DueRule = DueRule.PLAN
    # False: not offered in the intake menu (e.g. training, filed by its own dialog).
    listed: bool = True
    # Offered only to accounts on these plans (empty: to everyone).
    plans: frozenset[str] = frozenset()
    # A one-off request (e.g. a free installation): each account may file it once.
    once_per_account: bool = False
    # False: never counted against (nor refused by) the monthly quota.
    counts_toward_quota: bool = True
    # Words (any language) that suggest this category for a further part of a split
    # description.
    keywords: tuple[str, ...] = ()

    def offered_to(self, plan: str | None) -> bool:
        """Whether an account on ``plan`` (None: no account) may file this category."""
        return not self.plans or plan in self.plans


@dataclass(frozen=True, slots=True)
class Plan:
    key: str
    labels: Labels
    departments: frozenset[str]
    # The plan's targets: first_response_hours / resolution_hours (a number or a range
    # "24-48"), counted on ``target_clock`` ("business" hours, or "calendar" hours).
    first_response: Target = Target(Hours(24.0, 24.0))
    resolution: Target = Target(Hours(72.0, 72.0))
    monthly_quota: int | None = None
    support_months: int | None = None
    domains_per_package: int = 1
    # Seed 003: the support number and the address the software is installed at are
    # given with every request. ``ask_support_number``: the number is asked each time
    # (the saved one offered as a button); ``ask_domain``: the domain is asked each time,
    # even when the package covers a single one.
    ask_support_number: bool = False
    ask_domain: bool = False
    # Support only for licences bought directly from the vendor (not via a reseller).
    direct_only: bool = False
    # [plans.X.targets.<request type or "critical">]: this plan's own overrides.
    targets: dict[str, TargetRule] = field(default_factory=dict)

    @property
    def first_response_hours(self) -> float:
        return self.first_response.hours.high

    @property
    def resolution_hours(self) -> float:
        return self.resolution.hours.high


@dataclass(frozen=True, slots=True)
class DeskPolicy:
    departments: dict[str, Department]
    categories: dict[str, Category]
    plans: dict[str, Plan]
    sales_department: str
    leads: frozenset[str] = frozenset()
    moderators: frozenset[str] = frozenset()
    # platform -> role ids whose members are leads / community moderators (Discord).
    lead_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    moderator_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    languages: tuple[str, ...] = ("en", "cs", "pl", "ru")
    default_language: str = "en"
    # The plan of customers without an account (e.g. would-be buyers talking to sales).
    default_plan: str = ""
    # What a refused quote does to its ticket ([quotes] on_refusal).
    quote_refusal: QuoteRefusal = QuoteRefusal.DECLINE
    # ISO code of the currency of prices typed without one ([quotes] currency; "": none,
    # such prices are shown as typed).
    quote_currency: str = ""
    # The help centre's articles: <help_folder>/<lang>/*.md (None: no help centre).
    help_folder: Path | None = None
    # [quota]: critical requests are never counted nor refused; the ways forward
    # offered when the monthly quota is used up ("sales", "paid").
    quota_exempts_critical: bool = False
    over_quota: tuple[str, ...] = ("sales",)
    # Catalog key -> the policy's labels for it ([wording]).
    wording: dict[str, Labels] = field(default_factory=dict)
    # What emoji reactions mean (``bot.reactions``).
    reactions: Reactions = field(default_factory=Reactions)
    # [targets.<request type or "critical">]: overrides for every plan.
    targets: dict[str, TargetRule] = field(default_factory=dict)
    # [files]: how large a file each channel lets the desk fetch and send.
    files: FileLimits = field(default_factory=FileLimits)
    raw: dict[str, Any] = field(default_factory=dict)

    def department(self, key: str) -> Department:
        try:
            return self.departments[key]
        except KeyError:
            raise PolicyError(f"unknown department {key!r}") from None

    def category(self, key: str) -> Category:
        try:
            return self.categories[key]
        except KeyError:
            raise PolicyError(f"unknown category {key!r}") from None

    def plan(self, key: str) -> Plan:
        try:
            return self.plans[key]
        except KeyError:
            raise PolicyError(f"unknown plan {key!r}") from None

    def listed_categories(self) -> list[Category]:
        """The categories a customer picks from at intake."""
        return [c for c in self.categories.values() if c.listed]

    def counts_toward_quota(self, department: str, category: str, paid: bool = False) -> bool:
        """Whether a request counts against the monthly quota: never for the sales
        department (the way forward when the quota is used up), a paid request, a
        category the policy exempts, nor, where the policy says so, a critical one."""
        if paid or department == self.sales_department:
            return False
        found = self.categories.get(category)
        if found is None:
            return True
        return found.counts_toward_quota and not (found.critical and self.quota_exempts_critical)

    def promise(self, plan: Plan, category: str, department: str) -> Promise:
        """The targets a request of ``category`` filed for ``department`` under ``plan``
        gets: the plan's, then the request type's tables, then the critical ones (each
        first for every plan, then the plan's own), each over the last."""
        found = self.category(category)
        promise = Promise(plan.first_response, plan.resolution, found.due)
        keys = [found.request_type.value] + ([CRITICAL_TARGET] if found.critical else [])
        for key in keys:
            for rule in (self.targets.get(key), plan.targets.get(key)):
                if rule is not None and rule.applies(department):
                    promise = rule.over(promise)
        return promise

    def route(self, category: str) -> str:
        """The department a new ticket of ``category`` goes to."""
        return self.category(category).department

    def labels(self) -> dict[str, Labels]:
        """Translation overlay: ``department.<key>``, ``category.<key>``, ``plan.<key>``."""
        out: dict[str, Labels] = {}
        for d in self.departments.values():
            out[f"department.{d.key}"] = d.labels
        for c in self.categories.values():
            out[f"category.{c.key}"] = c.labels
        for p in self.plans.values():
            out[f"plan.{p.key}"] = p.labels
        for d in self.departments.values():
            if d.hotline:
                out[f"hotline.{d.key}"] = d.hotline
        out.update(self.wording)
        return out


def _labels(raw: Any, where: str) -> Labels:
    if isinstance(raw, str):
        return {"en": raw}
    if not isinstance(raw, dict) or "en" not in raw:
        raise PolicyError(f"{where}: 'name' needs at least an English label")
    return {str(k): str(v) for k, v in raw.items()}


def _team_chats(value: Any, where: str) -> tuple[str, ...]:
    """One team chat ("-100123") or several (["-100123", "-100456"])."""
    chats = (value,) if isinstance(value, str | int) else value
    if not isinstance(chats, list | tuple) or not chats:
        raise PolicyError(f"{where}: a chat reference or a list of them")
    out = tuple(str(chat) for chat in chats)
    if len(set(out)) != len(out):
        raise PolicyError(f"{where}: a chat is listed twice")
    return out


def _roles(value: Any, where: str) -> dict[str, frozenset[str]]:
    """``{ discord = ["123", ...] }``: role ids per platform."""
    if not isinstance(value, dict):
        raise PolicyError(f"{where}: a table of role ids per platform")
    out: dict[str, frozenset[str]] = {}
    for platform, ids in value.items():
        items = (ids,) if isinstance(ids, str | int) else ids
        if not isinstance(items, list | tuple):
            raise PolicyError(f"{where}.{platform}: a role id or a list of them")
        out[str(platform)] = frozenset(str(i) for i in items)
    return out


_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-|–)\s*(\d+(?:\.\d+)?)\s*h?\s*$")


def _hours(value: Any, where: str) -> Hours:
    """``24``, ``"24-48"`` (or ``"24–48 h"``) or ``[24, 48]``: hours, maybe a range."""
    low: Any
    high: Any
    if isinstance(value, list) and len(value) == 2:
        low, high = value
    elif isinstance(value, str) and (match := _RANGE.match(value)):
        low, high = float(match[1]), float(match[2])
    else:
        low = high = value
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, int | float) or bound <= 0:
            raise PolicyError(
                f'{where}: expected hours (a positive number) or a range like "24-48", '
                f"got {value!r}"
            )
    if low > high:
        raise PolicyError(f"{where}: the range {value!r} ends before it starts")
    return Hours(float(low), float(high))


def _target_clock(value: Any, where: str) -> TargetClock:
    try:
        return TargetClock(value)
    except ValueError:
        choices = ", ".join(repr(c.value) for c in TargetClock)
        raise PolicyError(f"{where}: {value!r} is not one of {choices}") from None


def _due(value: Any, where: str) -> DueRule:
    try:
        return DueRule(value)
    except ValueError:
        allowed = ", ".join(r.value for r in DueRule)
        raise PolicyError(f"{where}: {value!r} is not one of {allowed}") from None


TARGET_KEYS = (*(t.value for t in RequestType), CRITICAL_TARGET)


def _target_rules(
    raw: Any, where: str, departments: dict[str, Department]
) -> dict[str, TargetRule]:
    """``[targets]`` or ``[plans.X.targets]``: a table per request type or "critical"."""
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a table of target tables")
    out: dict[str, TargetRule] = {}
    for key, table in raw.items():
        here = f"{where}.{key}"
        if key not in TARGET_KEYS:
            raise PolicyError(f"{here}: unknown; one of {', '.join(TARGET_KEYS)}")
        if not isinstance(table, dict):
            raise PolicyError(f"{here}: expected a table")
        only = frozenset(str(d) for d in table.get("departments", ()))
        if unknown := only - departments.keys():
            raise PolicyError(f"{here}.departments: unknown departments {sorted(unknown)}")
        first, resolution = table.get("first_response_hours"), table.get("resolution_hours")
        clock, due = table.get("clock"), table.get("due")
        out[key] = TargetRule(
            key=key,
            first_response_hours=None
            if first is None
            else _hours(first, f"{here}.first_response_hours"),
            resolution_hours=None
            if resolution is None
            else _hours(resolution, f"{here}.resolution_hours"),
            clock=None if clock is None else _target_clock(clock, f"{here}.clock"),
            due=None if due is None else _due(due, f"{here}.due"),
            departments=only,
        )
    return out


def _holiday_region(value: Any, where: str) -> tuple[str, str]:
    """``"CZ"`` or ``"DE-BY"`` (country and subdivision) -> ``("CZ", "")``/``("DE", "BY")``."""
    if value is None or value == "":
        return "", ""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2}(-[A-Za-z0-9]{1,4})?", value):
        raise PolicyError(f'{where}: expected a country code like "CZ" or "DE-BY", got {value!r}')
    country, _, subdivision = value.partition("-")
    return country.upper(), subdivision.upper()


def parse_policy(data: dict[str, Any], base: Path | None = None) -> DeskPolicy:
    """Build a policy from parsed TOML, checking every key and cross-reference. Relative
    paths (the help folder) are taken from ``base``, the policy file's folder."""
    check_keys(data)
    departments = {
        key: Department(
            key=key,
            labels=_labels(d.get("name", key), f"departments.{key}"),
            team_channels={
                str(k): _team_chats(v, f"departments.{key}.team_channels.{k}")
                for k, v in d.get("team_channels", {}).items()
            },
            agent_roles=_roles(d.get("agent_roles", {}), f"departments.{key}.agent_roles"),
            hotline=_labels(d["hotline"], f"departments.{key}.hotline")
            if d.get("hotline")
            else {},
            holiday_country=_holiday_region(
                d.get("holiday_region"), f"departments.{key}.holiday_region"
            )[0],
            holiday_subdivision=_holiday_region(
                d.get("holiday_region"), f"departments.{key}.holiday_region"
            )[1],
        )
        for key, d in data.get("departments", {}).items()
    }
    if not departments:
        raise PolicyError("the policy defines no departments")
    categories: dict[str, Category] = {}
    for key, c in data.get("categories", {}).items():
        if c.get("department") not in departments:
            raise PolicyError(f"categories.{key}: unknown department {c.get('department')!r}")
        try:
            request_type = RequestType(c.get("request_type", "consultation"))
        except ValueError:
            raise PolicyError(f"categories.{key}: unknown request type") from None
        categories[key] = Category(
            key=key,
            department=c["department"],
            request_type=request_type,
            labels=_labels(c.get("name", key), f"categories.{key}"),
            critical=bool(c.get("critical", False)),
            paid=bool(c.get("paid", False)),
            listed=bool(c.get("listed", True)),
            plans=frozenset(str(p) for p in c.get("plans", ())),
            once_per_account=bool(c.get("once_per_account", False)),
            due=_due(c.get("due", DueRule.PLAN.value), f"categories.{key}.due"),
            counts_toward_quota=bool(c.get("counts_toward_quota", True)),
            keywords=tuple(str(k) for k in c.get("keywords", ())),
        )
    if not categories:
        raise PolicyError("the policy defines no categories")
    plans: dict[str, Plan] = {}
    for key, p in data.get("plans", {}).items():
        allowed = frozenset(p.get("departments", list(departments)))
        if unknown := allowed - departments.keys():
            raise PolicyError(f"plans.{key}: unknown departments {sorted(unknown)}")
        plans[key] = Plan(
            key=key,
            labels=_labels(p.get("name", key), f"plans.{key}"),
            departments=allowed,
            first_response=Target(
                _hours(p.get("first_response_hours", 24), f"plans.{key}.first_response_hours"),
                _target_clock(p.get("target_clock", "business"), f"plans.{key}.target_clock"),
            ),
            resolution=Target(
                _hours(p.get("resolution_hours", 72), f"plans.{key}.resolution_hours"),
                _target_clock(p.get("target_clock", "business"), f"plans.{key}.target_clock"),
            ),
            targets=_target_rules(p.get("targets", {}), f"plans.{key}.targets", departments),
            monthly_quota=p.get("monthly_quota"),
            support_months=p.get("support_months"),
            domains_per_package=int(p.get("domains_per_package", 1)),
            ask_support_number=bool(p.get("ask_support_number", False)),
            ask_domain=bool(p.get("ask_domain", False)),
            direct_only=bool(p.get("direct_only", False)),
        )
    for category in categories.values():
        if unknown := category.plans - plans.keys():
            raise PolicyError(f"categories.{category.key}.plans: unknown plans {sorted(unknown)}")
    desk = data.get("desk", {})
    sales = str(desk.get("sales_department", "sales"))
    if sales not in departments:
        raise PolicyError(f"desk.sales_department: unknown department {sales!r}")
    default_plan = str(desk.get("default_plan", "free" if "free" in plans else ""))
    if not plans:
        raise PolicyError("the policy defines no plans")
    if default_plan and default_plan not in plans:
        raise PolicyError(f"desk.default_plan: unknown plan {default_plan!r}")
    quota = data.get("quota", {})
    over_quota = tuple(str(way) for way in quota.get("over_quota", ("sales",)))
    if unknown_ways := set(over_quota) - set(OVER_QUOTA_WAYS):
        raise PolicyError(
            f"quota.over_quota: unknown {sorted(unknown_ways)}; one of {list(OVER_QUOTA_WAYS)}"
        )
    wording: dict[str, Labels] = {}
    for name, labels in data.get("wording", {}).items():
        if name not in WORDING:
            raise PolicyError(f"wording.{name}: unknown; one of {sorted(WORDING)}")
        wording[WORDING[name]] = _labels(labels, f"wording.{name}")
    quotes = data.get("quotes", {})
    try:
        quote_refusal = QuoteRefusal(quotes.get("on_refusal", QuoteRefusal.DECLINE.value))
    except ValueError:
        choices = ", ".join(repr(r.value) for r in QuoteRefusal)
        raise PolicyError(f"quotes.on_refusal: one of {choices}") from None
    currency = str(quotes.get("currency", ""))
    if currency and not re.fullmatch(r"[A-Z]{3}", currency):
        raise PolicyError(f'quotes.currency: an ISO currency code like "CZK", got {currency!r}')
    help_folder: Path | None = None
    folder = data.get("help", {}).get("folder")
    if folder:
        help_folder = (base or Path.cwd()) / str(folder)
    return DeskPolicy(
        quote_refusal=quote_refusal,
        quote_currency=currency,
        help_folder=help_folder,
        quota_exempts_critical=bool(quota.get("exempt_critical", False)),
        wording=wording,
        over_quota=over_quota,
        default_plan=default_plan or next(iter(plans)),
        departments=departments,
        categories=categories,
        plans=plans,
        sales_department=sales,
        leads=frozenset(str(x) for x in desk.get("leads", [])),
        moderators=frozenset(str(x) for x in desk.get("moderators", [])),
        lead_roles=_roles(desk.get("lead_roles", {}), "[desk] lead_roles"),
        moderator_roles=_roles(desk.get("moderator_roles", {}), "[desk] moderator_roles"),
        languages=tuple(desk.get("languages", ("en", "cs", "pl", "ru"))),
        default_language=str(desk.get("default_language", "en")),
        reactions=Reactions.parse(data.get("reactions", {})),
        targets=_target_rules(data.get("targets", {}), "targets", departments),
        files=_file_limits(data.get("files", {})),
        raw=data,
    )


def _file_limits(data: dict[str, Any]) -> FileLimits:
    """``[files] receive_mb = { telegram = 20 }``, ``send_mb = { telegram = 50, ... }``:
    megabytes by channel, over the defaults of ``bot.files``."""
    limits = FileLimits()
    tables: dict[str, dict[str, int]] = {}
    for name, default in (("receive_mb", limits.receive), ("send_mb", limits.send)):
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise PolicyError(f"files.{name}: a table of channel = megabytes")
        merged = dict(default)
        for channel, mb in table.items():
            if not isinstance(mb, int | float) or isinstance(mb, bool) or mb <= 0:
                raise PolicyError(f"files.{name}.{channel}: a positive number of megabytes")
            merged[str(channel)] = int(mb * MB)
        tables[name] = merged
    return FileLimits(receive=tables["receive_mb"], send=tables["send_mb"])


def load_policy(path: Path | None = None) -> DeskPolicy:
    """Read the policy file; the shipped example when ``path`` is None."""
    source = path or EXAMPLE_POLICY
    try:
        text = source.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise PolicyError(
            f"policy file not found: {source}",
            lines=[Reply("cli.policy.not_found", {"path": str(source)})],
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # The parser's own words (where and what it expected) are kept as it says them.
        raise PolicyError(
            f"{source}: {exc}",
            lines=[Reply("cli.policy.unreadable", {"path": str(source), "detail": str(exc)})],
        ) from None
    # Checked here first, so the error can say the file and line.
    check_keys(data, source, text)
    return parse_policy(data, source.resolve().parent)
