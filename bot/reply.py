"""Neutral replies: a translation key, its parameters and the choices offered.

Channels render them (``handlers/<channel>/render.py``); user text in ``params`` is
escaped there for the platform's markup, never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Text:
    """A translatable value used as a parameter of another message."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Moment:
    """A moment shown to a reader: rendered in their language with Babel, in zone
    ``tz`` (the department's), named by the zone's local name ("Praha", "Москва").
    ``long``: weekday and date in words (customers); ``short``: a compact date and time
    (cards, histories)."""

    at: datetime
    tz: str
    # bare: as short, without the zone's name (lines under a header naming it).
    style: Literal["long", "short", "bare"] = "long"


@dataclass(frozen=True, slots=True)
class Day:
    """A calendar day shown to a reader, formatted per language by Babel."""

    day: date


@dataclass(frozen=True, slots=True)
class Zone:
    """A time zone shown to a reader: its city's name in their language ("Praha")."""

    tz: str


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of money, rendered per language with Babel (``3 000,00 Kč``)."""

    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Choice:
    """One button / numbered option: ``value`` comes back as ``ChoicePicked``."""

    value: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a ``Form``: text (one line, or several when ``long``) or files."""

    name: str
    key: str
    long: bool = False
    min_length: int = 0
    max_length: int = 4000
    required: bool = True
    files: bool = False


@dataclass(frozen=True, slots=True)
class Form:
    """Several answers a channel that has forms (Discord's modals) may ask for at once;
    they come back as one ``FormSent``. Channels without forms ask step by step."""

    name: str
    key: str
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Reply:
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    # A form that answers this reply's question (and the ones after it) in one go.
    form: Form | None = None


def encode_params(params: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe form of params (``Text`` values become ``{"$t": key, "$p": ...}``,
    ``Moment`` ones ``{"$d": iso, "z": zone, "s": style}``, ``Money`` ones
    ``{"$m": amount, "c": currency}``)."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, Text):
            out[name] = {"$t": value.key, "$p": encode_params(value.params)}
        elif isinstance(value, Moment):
            out[name] = {"$d": value.at.isoformat(), "z": value.tz, "s": value.style}
        elif isinstance(value, Money):
            out[name] = {"$m": str(value.amount), "c": value.currency}
        elif isinstance(value, Zone):
            out[name] = {"$z": value.tz}
        elif isinstance(value, Day):
            out[name] = {"$day": value.day.isoformat()}
        else:
            out[name] = value
    return out


def decode_params(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict) and "$t" in value:
            out[name] = Text(str(value["$t"]), decode_params(value.get("$p", {})))
        elif isinstance(value, dict) and "$d" in value:
            at, tz = datetime.fromisoformat(str(value["$d"])), str(value["z"])
            style = value.get("s")
            out[name] = Moment(at, tz, style) if style in ("short", "bare") else Moment(at, tz)
        elif isinstance(value, dict) and "$z" in value:
            out[name] = Zone(str(value["$z"]))
        elif isinstance(value, dict) and "$day" in value:
            out[name] = Day(date.fromisoformat(str(value["$day"])))
        elif isinstance(value, dict) and "$m" in value:
            out[name] = Money(Decimal(str(value["$m"])), str(value["c"]))
        else:
            out[name] = value
    return out


def dump_replies(replies: list[Reply]) -> list[dict[str, Any]]:
    """Replies as JSON-safe data (kept with a handled update, to answer it again)."""
    return [
        {
            "key": reply.key,
            "params": _json_safe(encode_params(reply.params)),
            "choices": [
                {"value": c.value, "key": c.key, "params": _json_safe(encode_params(c.params))}
                for c in reply.choices
            ],
            **({"form": _dump_form(reply.form)} if reply.form is not None else {}),
        }
        for reply in replies
    ]


def _dump_form(form: Form) -> dict[str, Any]:
    return {
        "name": form.name,
        "key": form.key,
        "fields": [
            {
                "name": f.name,
                "key": f.key,
                "long": f.long,
                "min_length": f.min_length,
                "max_length": f.max_length,
                "required": f.required,
                "files": f.files,
            }
            for f in form.fields
        ],
    }


def _load_form(data: Any) -> Form | None:
    if not isinstance(data, dict):
        return None
    return Form(
        str(data["name"]),
        str(data["key"]),
        tuple(
            Field(
                str(f["name"]),
                str(f["key"]),
                bool(f.get("long", False)),
                int(f.get("min_length", 0)),
                int(f.get("max_length", 4000)),
                bool(f.get("required", True)),
                bool(f.get("files", False)),
            )
            for f in data.get("fields", ())
        ),
    )


def load_replies(data: list[dict[str, Any]]) -> list[Reply]:
    return [
        Reply(
            str(item["key"]),
            decode_params(item.get("params", {})),
            tuple(
                Choice(str(c["value"]), str(c["key"]), decode_params(c.get("params", {})))
                for c in item.get("choices", ())
            ),
            _load_form(item.get("form")),
        )
        for item in data
    ]


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
