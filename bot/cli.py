"""Command line: run the bot, and the admin commands for accounts and tickets.

The admin commands speak the operator's language: ``--lang``, else the policy's
``default_language`` (read from the file as it is, so a policy that cannot be used is
still reported in it), with the desk's catalogs (``cli.*`` messages). argparse's own
usage and help texts stay English.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import sys
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from bot.account import Account, normalise_domain, normalise_support_number
from bot.app import App, build_app, run_terminal, serve_chats, serve_receiver, serve_worker
from bot.clock import OffsetClock
from bot.errors import DeskError
from bot.i18n import FALLBACK, LANGUAGES, Translator, pick_language
from bot.knowledge.article import ArticleError, parse_article, render_article
from bot.policy import EXAMPLE_POLICY, Plan, PolicyError
from bot.policy_report import check_policy, describe
from bot.reply import Reply, Text
from bot.settings import Settings
from bot.stats import DEFAULT_DAYS, PERIODS, chart_png, report_replies
from bot.ticket import Status
from bot.transcript import FORMATS, export
from bot.views import queue_line


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot", description="Supportbot: a support desk in chat."
    )
    workers_help = (
        "serve Telegram and Discord with one receiver in this process and N worker processes "
        "(python -m bot worker), sharing DATABASE_URL and REDIS_URL"
    )
    p.add_argument("--workers", type=_count, metavar="N", help=workers_help)
    sub = p.add_subparsers(dest="command")
    run = sub.add_parser("run", help="serve the configured channels (default)")
    # SUPPRESS: without it the sub-command's default would hide a --workers given before.
    run.add_argument(
        "--workers", type=_count, metavar="N", default=argparse.SUPPRESS, help=workers_help
    )
    sub.add_parser(
        "receiver",
        help="only receive updates into the update queue (Telegram's one poller or webhook "
        "endpoint, Discord's gateway connection)",
    )
    sub.add_parser(
        "worker", help="one worker: updates from the update queue, outbox relay and clock"
    )
    sub.add_parser("console", help="the terminal channel: play customer, agent and moderator")
    discord_cmd = sub.add_parser("discord", help="Discord set-up")
    dis = discord_cmd.add_subparsers(dest="action", required=True)
    panel = dis.add_parser(
        "panel", help='post the "Open a ticket" panel message in a support channel'
    )
    panel.add_argument("channel", type=int, help="the channel's id")
    _lang_option(panel)

    accounts = sub.add_parser("accounts", help="customer accounts (support numbers)")
    acc = accounts.add_subparsers(dest="action", required=True)
    add = acc.add_parser("add", help="add or replace an account")
    add.add_argument("support_number")
    add.add_argument("--domain", action="append", required=True, help="repeat for several")
    add.add_argument("--plan", required=True)
    add.add_argument("--valid-until", type=date.fromisoformat)
    add.add_argument("--purchased-on", type=date.fromisoformat)
    add.add_argument("--organisation", default="")
    add.add_argument(
        "--admin",
        action="append",
        default=[],
        help="participant (platform:id) who sees all the organisation's tickets; repeatable",
    )
    add.add_argument(
        "--reseller",
        action="store_true",
        help="the licence was sold by a reseller, not bought directly from us",
    )
    _lang_option(add)
    _lang_option(acc.add_parser("list", help="list accounts"))
    imp = acc.add_parser(
        "import",
        help="import a CSV: support_number,domain,plan,valid_until"
        "[,purchased_on,organisation,admins,direct]",
    )
    imp.add_argument("file", type=Path)
    _lang_option(imp)

    tickets = sub.add_parser("tickets", help="look at tickets")
    tic = tickets.add_subparsers(dest="action", required=True)
    lst = tic.add_parser("list", help="the newest tickets")
    lst.add_argument("--status", choices=[s.value for s in Status])
    lst.add_argument("--limit", type=int, default=50)
    show = tic.add_parser("show", help="a ticket's whole thread and status history")
    show.add_argument("number", type=int)
    exp = tic.add_parser(
        "export", help="a ticket's transcript as a file (thread, files, statuses, rating)"
    )
    exp.add_argument("number", type=int)
    exp.add_argument("--format", choices=sorted(FORMATS), default="md")
    exp.add_argument("--output", type=Path, default=None, help="a file (default: stdout)")
    for sp in (lst, show, exp):
        _lang_option(sp)

    stats = sub.add_parser("stats", help="the lead's dashboard: tickets, SLA, deflection, ratings")
    stats.add_argument("--days", type=int, choices=sorted(PERIODS.values()), default=DEFAULT_DAYS)
    stats.add_argument("--department", action="append", help="repeatable (default: all)")
    stats.add_argument("--chart", type=Path, default=None, help="also write the PNG chart here")
    _lang_option(stats)

    policy_cmd = sub.add_parser("policy", help="the desk policy file")
    pol = policy_cmd.add_subparsers(dest="action", required=True)
    pc = pol.add_parser(
        "check", help="check a policy file and say what it means; exit 2 if it cannot be used"
    )
    pc.add_argument(
        "file",
        type=Path,
        nargs="?",
        default=None,
        help="the policy (default: DESK_POLICY_FILE, else the shipped example)",
    )
    _lang_option(pc)

    help_ = sub.add_parser("help", help="the help centre's articles (the policy's [help] folder)")
    hlp = help_.add_subparsers(dest="action", required=True)
    _lang_option(hlp.add_parser("reindex", help="read the article folder again and index it"))
    _lang_option(
        hlp.add_parser("check", help="check every article file; exit 1 if one cannot be used")
    )
    hl = hlp.add_parser("list", help="the indexed articles")
    hl.add_argument("--lang", default=None)
    ha = hlp.add_parser("add", help="check a Markdown article and add it to the folder")
    ha.add_argument("file", type=Path)
    ha.add_argument("--lang", required=True, help="the article's language (en, cs, pl, ru)")
    ha.add_argument("--slug", default=None, help="its id (default: the file's name)")
    ha.add_argument("--replace", action="store_true", help="overwrite an article of that id")
    _lang_option(
        hlp.add_parser("feedback", help='"Was this helpful?" per article, most "no" first')
    )
    hs = hlp.add_parser("search", help="what a customer's words find")
    hs.add_argument("text")
    hs.add_argument("--lang", default="en")
    hs.add_argument("--department", default=None)
    return p


def _lang_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=None,
        help="the output's language (default: the policy's default_language)",
    )


def cli_language(lang: str | None, policy_file: Path | None) -> str:
    """The admin output's language: ``lang`` (``--lang``), else the policy's
    ``default_language``, read from the file without checking the rest of it (a policy
    that cannot be used is reported in its own language), else English."""
    if lang:
        return pick_language(lang)
    try:
        data = tomllib.loads((policy_file or EXAMPLE_POLICY).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return FALLBACK
    desk = data.get("desk")
    value = desk.get("default_language") if isinstance(desk, dict) else None
    return pick_language(value if isinstance(value, str) else None)


class Say:
    """Writes the ``cli.*`` messages (and any reply) in the operator's language."""

    def __init__(self, translator: Translator, lang: str, out: TextIO) -> None:
        self.translator = translator
        self.lang = lang
        self.out = out

    def text(self, key: str, **params: Any) -> str:
        return self.translator.text(key, self.lang, params)

    def __call__(self, key: str, **params: Any) -> None:
        self.out.write(self.text(key, **params) + "\n")

    def reply(self, reply: Reply) -> None:
        self.out.write(self.translator.reply(reply, self.lang) + "\n")


class CliError(ValueError):
    """A refusal of the CLI's own, said in the operator's language (``reply``); the
    text is the English one, for logs and tracebacks."""

    def __init__(self, english: str, key: str, **params: Any) -> None:
        super().__init__(english)
        self.reply = Reply(key, params)


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


# How the CSV's ``direct`` column says yes or no (empty: bought directly).
YES = frozenset({"yes", "y", "true", "1", "direct"})
NO = frozenset({"no", "n", "false", "0", "reseller"})


def parse_account_row(row: dict[str, str], policy_plans: Mapping[str, Plan]) -> Account:
    """One CSV row -> Account; several domains are separated by ';' or spaces."""
    number = normalise_support_number(row.get("support_number", ""))
    if not number:
        raise CliError(
            "support_number is empty", "cli.accounts.no_number", column="support_number"
        )
    domains = tuple(
        normalise_domain(d) for d in row.get("domain", "").replace(";", " ").split() if d
    )
    if not domains:
        raise CliError(f"{number}: no domain", "cli.accounts.no_domain", number=number)
    plan = row.get("plan", "").strip()
    if plan not in policy_plans:
        known = ", ".join(policy_plans)
        raise CliError(
            f"{number}: unknown plan {plan!r} (known: {known})",
            "cli.accounts.unknown_plan",
            number=number,
            plan=repr(plan),
            plans=known,
        )
    allowed = policy_plans[plan].domains_per_package
    if len(domains) > allowed:
        raise CliError(
            f"{number}: {len(domains)} domains, but the {plan} plan covers {allowed} per package",
            "cli.accounts.too_many_domains",
            number=number,
            count=len(domains),
            plan=plan,
            limit=allowed,
        )
    valid = _row_date(row, "valid_until", number)
    purchased = _row_date(row, "purchased_on", number)
    direct = (row.get("direct") or "yes").strip().lower()
    if direct not in YES | NO:
        raise CliError(
            f"{number}: direct is {direct!r} (yes or no)",
            "cli.accounts.bad_direct",
            number=number,
            value=repr(direct),
        )
    return Account(
        support_number=number,
        domains=domains,
        plan=plan,
        valid_until=valid,
        purchased_on=purchased,
        organisation=row.get("organisation", "").strip(),
        admins=tuple(a for a in row.get("admins", "").replace(";", " ").split() if ":" in a),
        direct=direct in YES,
    )


def _row_date(row: dict[str, str], column: str, number: str) -> date | None:
    value = row.get(column, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(
            f"{number}: {column} is not a date (YYYY-MM-DD): {value}",
            "cli.accounts.bad_date",
            number=number,
            column=column,
            value=value,
        ) from None


async def _accounts(app: App, args: argparse.Namespace, say: Say) -> int:
    if args.action == "add":
        account = parse_account_row(
            {
                "support_number": args.support_number,
                "domain": " ".join(args.domain),
                "plan": args.plan,
                "valid_until": args.valid_until.isoformat() if args.valid_until else "",
                "purchased_on": args.purchased_on.isoformat() if args.purchased_on else "",
                "organisation": args.organisation,
                "admins": " ".join(args.admin),
                "direct": "no" if args.reseller else "yes",
            },
            app.policy.plans,
        )
        async with app.uow() as uow:
            await uow.accounts.put(account)
            await uow.commit()
        say("cli.accounts.saved", number=account.support_number)
        return 0
    if args.action == "import":
        # utf-8-sig: spreadsheets save "CSV UTF-8" with a byte-order mark.
        with args.file.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        accounts, errors = [], []
        for i, row in enumerate(rows, start=2):
            try:
                accounts.append(parse_account_row(row, app.policy.plans))
            except CliError as exc:
                errors.append((i, exc.reply))
        if errors:
            say("cli.accounts.nothing_imported")
            for line, error in errors:
                say("cli.accounts.line", line=line, error=Text(error.key, error.params))
            return 1
        async with app.uow() as uow:
            for account in accounts:
                await uow.accounts.put(account)
            await uow.commit()
        say("cli.accounts.imported", count=len(accounts))
        return 0
    async with app.uow() as uow:
        accounts = await uow.accounts.all()
    for a in accounts:
        until = a.valid_until.isoformat() if a.valid_until else "-"
        sold = say.text("cli.accounts.direct" if a.direct else "cli.accounts.reseller")
        say.out.write(f"{a.support_number}\t{a.plan}\t{until}\t{','.join(a.domains)}\t{sold}\n")
    return 0


async def _tickets(app: App, args: argparse.Namespace, say: Say) -> int:
    lang, out = say.lang, say.out
    if args.action == "list":
        async with app.uow() as uow:
            found = await uow.tickets.recent(
                args.limit, Status(args.status) if args.status else None
            )
        for t in found:
            out.write(app.translator.reply(queue_line(t), lang) + "\n")
        return 0
    if args.action == "export":
        ticket = await app.tickets.get(args.number)
        replies = await app.tickets.transcript(args.number)
        exported = export(ticket, replies, app.translator, lang, args.format)
        if args.output is None:
            out.write(exported.data.decode())
        else:
            args.output.write_bytes(exported.data)
            say("cli.tickets.wrote", path=str(args.output), size=len(exported.data))
        return 0
    for reply in await app.tickets.transcript(args.number):
        out.write(app.translator.reply(reply, lang) + "\n")
    return 0


def _chats_enabled(settings: Settings) -> bool:
    return settings.telegram_enabled or settings.discord_enabled


async def _discord(app: App, args: argparse.Namespace, say: Say) -> int:
    """``discord panel CHANNEL``: the "Open a ticket" message in a support channel."""
    from handlers.discord import DiscordChannel

    channel = DiscordChannel.from_app(app)
    try:
        await channel.login()
        message = await channel.send_panel(args.channel)
    finally:
        await channel.close()
    say("cli.discord.panel", channel=str(args.channel), message=str(message))
    return 0


async def _stats(app: App, args: argparse.Namespace, say: Say) -> int:
    departments = frozenset(args.department) if args.department else None
    if departments is not None and (unknown := departments - app.policy.departments.keys()):
        say("cli.stats.unknown_departments", departments=", ".join(sorted(unknown)))
        return 1
    report = await app.stats.report(departments, args.days)
    for reply in report_replies(report):
        say.reply(reply)
    if args.chart is not None:
        args.chart.write_bytes(chart_png(report, app.translator, say.lang))
        say("cli.stats.wrote", path=str(args.chart))
    return 0


async def _help(app: App, args: argparse.Namespace, say: Say) -> int:
    centre = app.help
    if args.action == "reindex":
        loaded = await centre.reindex()
        for problem in loaded.problems:
            say("cli.help.left_out", problem=str(problem))
        say("cli.help.indexed", count=len(loaded.articles), folder=str(centre.folder))
        return 0
    if args.action == "check":
        loaded = centre.load()
        for problem in loaded.problems:
            say("cli.help.problem", problem=str(problem))
        by_lang: dict[str, set[str]] = {}
        for article in loaded.articles:
            by_lang.setdefault(article.lang, set()).add(article.slug)
        every = set().union(*by_lang.values()) if by_lang else set()
        for lang in app.policy.languages:
            for slug in sorted(every - by_lang.get(lang, set())):
                say("cli.help.not_translated", path=f"{lang}/{slug}.md")
        say(
            "cli.help.checked",
            articles=Text("cli.help.articles", {"count": len(loaded.articles)}),
            problems=Text("cli.help.problems", {"count": len(loaded.problems)}),
        )
        return 1 if loaded.problems else 0
    if args.action == "add":
        return await _help_add(app, args, say)
    if args.action == "feedback":
        async with app.uow() as uow:
            counts = await uow.articles.feedback()
        for c in counts:
            reasons = ", ".join(
                f"{say.text(f'cli.help.reason.{name}')} ×{n}"
                for name, n in sorted(c.reasons.items())
            )
            line = say.text(
                "cli.help.feedback",
                article=f"{c.lang}/{c.slug}",
                helpful=Text("stats.count.helpful", {"count": c.helpful}),
                not_helpful=Text("stats.count.not_helpful", {"count": c.not_helpful}),
            )
            say.out.write(line + (f" ({reasons})" if reasons else "") + "\n")
            for comment in c.comments:
                say.out.write(f"\t\u201c{comment}\u201d\n")
        if not counts:
            say("cli.help.no_feedback")
        return 0
    if args.action == "search":
        lang = pick_language(args.lang, app.policy.languages)
        async with app.uow() as uow:
            found = await centre.search(uow, args.text, lang, department=args.department)
        for hit in found:
            say.out.write(f"{hit.score:6.2f}  {hit.article.key}  {hit.article.title}\n")
        if not found:
            say("cli.help.nothing_found")
        return 0
    async with app.uow() as uow:
        articles = await uow.articles.all()
    for a in articles:
        if args.lang is None or a.lang == args.lang:
            say.out.write(f"{a.lang}\t{a.slug}\t{','.join(a.departments)}\t{a.title}\n")
    return 0


async def _help_add(app: App, args: argparse.Namespace, say: Say) -> int:
    folder = app.help.folder
    if folder is None:
        say("cli.help.no_folder")
        return 1
    if args.lang not in app.policy.languages:
        known = ", ".join(app.policy.languages)
        say("cli.help.unknown_language", lang=repr(args.lang), languages=known)
        return 1
    slug = args.slug or args.file.stem
    try:
        article = parse_article(args.file.read_text(encoding="utf-8"), slug, args.lang)
    except ArticleError as exc:
        say("cli.help.article_error", path=str(args.file), detail=str(exc))
        return 1
    unknown = [d for d in article.departments if d not in app.policy.departments]
    if unknown:
        say("cli.help.unknown_departments", path=str(args.file), departments=", ".join(unknown))
        return 1
    target = folder / args.lang / f"{slug}.md"
    if target.exists() and not args.replace:
        say("cli.help.exists", path=str(target))
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_article(article), encoding="utf-8")
    loaded = await app.help.reindex()
    say("cli.help.added", article=article.key, count=len(loaded.articles))
    return 0


def _policy_problems(exc: PolicyError, say: Say) -> list[str]:
    """Each problem in the operator's language where the loader said it in words
    (unknown keys, a missing or unreadable file); else the loader's English text."""
    return [say.translator.reply(line, say.lang) for line in exc.lines] or [str(exc)]


def _policy(args: argparse.Namespace, settings: Settings, say: Say, err: TextIO) -> int:
    """``policy check``: no database, no channel; only the file is read."""
    path = args.file or settings.desk_policy_file
    try:
        policy, levels = check_policy(path)
    except PolicyError as exc:
        # Each problem in the operator's language where the loader said it in words
        # (unknown keys, a missing or unreadable file); else the loader's English text.
        for message in _policy_problems(exc, say):
            err.write(say.text("cli.error", message=message) + "\n")
        return 2
    say.out.write("\n".join(describe(policy, levels, path, say.translator, say.lang)) + "\n")
    return 0


def _check_fleet(args: argparse.Namespace, settings: Settings) -> None:
    """Refuse the receiver/worker commands where they cannot work, before connecting."""
    workers = getattr(args, "workers", None)
    if workers is not None and args.command not in (None, "run"):
        raise CliError(
            "--workers goes with serving: python -m bot --workers N", "cli.fleet.workers_alone"
        )
    what = "--workers" if workers is not None else f"python -m bot {args.command}"
    if workers is None and args.command not in ("receiver", "worker"):
        return
    if not (settings.telegram_enabled or settings.discord_enabled):
        raise CliError(
            f"{what} needs a chat channel (TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN); "
            "the terminal channel runs in one process: python -m bot console",
            "cli.fleet.no_channel",
            what=what,
        )
    url = settings.database_url
    if url.startswith("sqlite") and (":memory:" in url or url.rstrip("/").endswith(":")):
        raise CliError(
            f"{what} needs a database the processes share, not in-memory SQLite",
            "cli.fleet.memory_db",
            what=what,
        )


async def _main(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    _check_fleet(args, settings)
    workers = getattr(args, "workers", None)
    terminal = args.command == "console" or (
        args.command in (None, "run") and not _chats_enabled(settings)
    )
    # The terminal may move its clock forward (/wait) to show timers at work.
    app = await build_app(
        settings,
        clock=OffsetClock() if terminal else None,
        platforms=("console",) if terminal else ("telegram",),
    )
    say = Say(app.translator, lang, sys.stdout)
    try:
        if args.command == "accounts":
            return await _accounts(app, args, say)
        if args.command == "tickets":
            return await _tickets(app, args, say)
        if args.command == "discord":
            return await _discord(app, args, say)
        if args.command == "help":
            return await _help(app, args, say)
        if args.command == "stats":
            return await _stats(app, args, say)
        if terminal:
            await run_terminal(app)
        elif args.command == "receiver":
            await serve_receiver(app)
        elif args.command == "worker":
            await serve_worker(app)
        elif workers is not None:
            await serve_receiver(app, workers)
        else:
            await serve_chats(app)
        return 0
    finally:
        await app.close()


def _output_lang(args: argparse.Namespace) -> str | None:
    """``--lang``, where it names the output's language (``help list``, ``add`` and
    ``search`` have their own: the articles')."""
    if args.command == "help" and args.action in ("list", "add", "search"):
        return None
    lang = getattr(args, "lang", None)
    return lang if isinstance(lang, str) else None


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    quiet = args.command == "console" or (
        args.command in (None, "run") and not _chats_enabled(settings)
    )
    logging.basicConfig(
        level="WARNING" if quiet else settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    policy_file = args.file if args.command == "policy" and args.file else None
    lang = cli_language(_output_lang(args), policy_file or settings.desk_policy_file)
    say = Say(Translator.load(), lang, sys.stdout)
    if args.command == "policy":
        return _policy(args, settings, say, sys.stderr)
    # Migrations run at every start; their chatter is not news.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return asyncio.run(_main(args, settings, lang))
    except PolicyError as exc:
        # The policy the desk starts with cannot be used.
        for message in _policy_problems(exc, say):
            sys.stderr.write(say.text("cli.error", message=message) + "\n")
        return 2
    except DeskError as exc:
        # The admin reads the desk's own message, in the operator's language.
        sys.stderr.write(say.text("cli.error", message=say.text(exc.key, **exc.params)) + "\n")
        return 2
    except CliError as exc:
        message = say.translator.reply(exc.reply, lang)
        sys.stderr.write(say.text("cli.error", message=message) + "\n")
        return 2
    except (ValueError, OSError) as exc:
        sys.stderr.write(say.text("cli.error", message=str(exc)) + "\n")
        return 2
    except KeyboardInterrupt:
        return 130
