"""Command line: run the bot, and the admin commands for accounts and tickets."""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TextIO

from bot.account import Account, normalise_domain, normalise_support_number
from bot.app import App, build_app, run_terminal, serve_chats, serve_receiver, serve_worker
from bot.clock import OffsetClock
from bot.errors import DeskError
from bot.i18n import Translator, pick_language
from bot.knowledge.article import ArticleError, parse_article, render_article
from bot.policy import Plan, PolicyError
from bot.policy_report import check_policy, describe
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
    acc.add_parser("list", help="list accounts")
    imp = acc.add_parser(
        "import",
        help="import a CSV: support_number,domain,plan,valid_until"
        "[,purchased_on,organisation,admins,direct]",
    )
    imp.add_argument("file", type=Path)

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
        sp.add_argument("--lang", default=None, help="en, cs, pl or ru")

    stats = sub.add_parser("stats", help="the lead's dashboard: tickets, SLA, deflection, ratings")
    stats.add_argument("--days", type=int, choices=sorted(PERIODS.values()), default=DEFAULT_DAYS)
    stats.add_argument("--department", action="append", help="repeatable (default: all)")
    stats.add_argument("--chart", type=Path, default=None, help="also write the PNG chart here")
    stats.add_argument("--lang", default=None, help="en, cs, pl or ru")

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

    help_ = sub.add_parser("help", help="the help centre's articles (the policy's [help] folder)")
    hlp = help_.add_subparsers(dest="action", required=True)
    hlp.add_parser("reindex", help="read the article folder again and index it")
    hlp.add_parser("check", help="check every article file; exit 1 if one cannot be used")
    hl = hlp.add_parser("list", help="the indexed articles")
    hl.add_argument("--lang", default=None)
    ha = hlp.add_parser("add", help="check a Markdown article and add it to the folder")
    ha.add_argument("file", type=Path)
    ha.add_argument("--lang", required=True, help="the article's language (en, cs, pl, ru)")
    ha.add_argument("--slug", default=None, help="its id (default: the file's name)")
    ha.add_argument("--replace", action="store_true", help="overwrite an article of that id")
    hlp.add_parser("feedback", help='"Was this helpful?" per article, most "no" first')
    hs = hlp.add_parser("search", help="what a customer's words find")
    hs.add_argument("text")
    hs.add_argument("--lang", default="en")
    hs.add_argument("--department", default=None)
    return p


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
        raise ValueError("support_number is empty")
    domains = tuple(
        normalise_domain(d) for d in row.get("domain", "").replace(";", " ").split() if d
    )
    if not domains:
        raise ValueError(f"{number}: no domain")
    plan = row.get("plan", "").strip()
    if plan not in policy_plans:
        raise ValueError(f"{number}: unknown plan {plan!r} (known: {', '.join(policy_plans)})")
    allowed = policy_plans[plan].domains_per_package
    if len(domains) > allowed:
        raise ValueError(
            f"{number}: {len(domains)} domains, but the {plan} plan covers {allowed} per package"
        )
    valid = row.get("valid_until", "").strip()
    purchased = row.get("purchased_on", "").strip()
    direct = (row.get("direct") or "yes").strip().lower()
    if direct not in YES | NO:
        raise ValueError(f"{number}: direct is {direct!r} (yes or no)")
    return Account(
        support_number=number,
        domains=domains,
        plan=plan,
        valid_until=date.fromisoformat(valid) if valid else None,
        purchased_on=date.fromisoformat(purchased) if purchased else None,
        organisation=row.get("organisation", "").strip(),
        admins=tuple(a for a in row.get("admins", "").replace(";", " ").split() if ":" in a),
        direct=direct in YES,
    )


async def _accounts(app: App, args: argparse.Namespace, out: TextIO) -> int:
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
        out.write(f"saved {account.support_number}\n")
        return 0
    if args.action == "import":
        # utf-8-sig: spreadsheets save "CSV UTF-8" with a byte-order mark.
        with args.file.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        accounts, errors = [], []
        for i, row in enumerate(rows, start=2):
            try:
                accounts.append(parse_account_row(row, app.policy.plans))
            except ValueError as exc:
                errors.append(f"line {i}: {exc}")
        if errors:
            out.write("nothing imported:\n" + "\n".join(errors) + "\n")
            return 1
        async with app.uow() as uow:
            for account in accounts:
                await uow.accounts.put(account)
            await uow.commit()
        out.write(f"imported {len(accounts)} accounts\n")
        return 0
    async with app.uow() as uow:
        accounts = await uow.accounts.all()
    for a in accounts:
        until = a.valid_until.isoformat() if a.valid_until else "-"
        sold = "direct" if a.direct else "reseller"
        out.write(f"{a.support_number}\t{a.plan}\t{until}\t{','.join(a.domains)}\t{sold}\n")
    return 0


async def _tickets(app: App, args: argparse.Namespace, out: TextIO) -> int:
    lang = pick_language(args.lang or app.policy.default_language)
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
            out.write(f"wrote {args.output} ({len(exported.data)} bytes)\n")
        return 0
    for reply in await app.tickets.transcript(args.number):
        out.write(app.translator.reply(reply, lang) + "\n")
    return 0


def _chats_enabled(settings: Settings) -> bool:
    return settings.telegram_enabled or settings.discord_enabled


async def _discord(app: App, args: argparse.Namespace, out: TextIO) -> int:
    """``discord panel CHANNEL``: the "Open a ticket" message in a support channel."""
    from handlers.discord import DiscordChannel

    channel = DiscordChannel.from_app(app)
    try:
        await channel.login()
        message = await channel.send_panel(args.channel)
    finally:
        await channel.close()
    out.write(f"panel posted in {args.channel} (message {message})\n")
    return 0


async def _stats(app: App, args: argparse.Namespace, out: TextIO) -> int:
    lang = pick_language(args.lang or app.policy.default_language)
    departments = frozenset(args.department) if args.department else None
    if departments is not None and (unknown := departments - app.policy.departments.keys()):
        out.write(f"unknown departments: {', '.join(sorted(unknown))}\n")
        return 1
    report = await app.stats.report(departments, args.days)
    for reply in report_replies(report):
        out.write(app.translator.reply(reply, lang) + "\n")
    if args.chart is not None:
        args.chart.write_bytes(chart_png(report, app.translator, lang))
        out.write(f"wrote {args.chart}\n")
    return 0


async def _help(app: App, args: argparse.Namespace, out: TextIO) -> int:
    centre = app.help
    if args.action == "reindex":
        loaded = await centre.reindex()
        for problem in loaded.problems:
            out.write(f"left out: {problem}\n")
        out.write(f"indexed {len(loaded.articles)} articles from {centre.folder}\n")
        return 0
    if args.action == "check":
        loaded = centre.load()
        for problem in loaded.problems:
            out.write(f"problem: {problem}\n")
        by_lang: dict[str, set[str]] = {}
        for article in loaded.articles:
            by_lang.setdefault(article.lang, set()).add(article.slug)
        every = set().union(*by_lang.values()) if by_lang else set()
        for lang in app.policy.languages:
            for slug in sorted(every - by_lang.get(lang, set())):
                out.write(f"not translated: {lang}/{slug}.md (the English one is shown)\n")
        out.write(f"{len(loaded.articles)} articles, {len(loaded.problems)} problems\n")
        return 1 if loaded.problems else 0
    if args.action == "add":
        return await _help_add(app, args, out)
    if args.action == "feedback":
        async with app.uow() as uow:
            counts = await uow.articles.feedback()
        for c in counts:
            reasons = ", ".join(f"{name} {n}" for name, n in sorted(c.reasons.items()))
            out.write(
                f"{c.lang}/{c.slug}\thelpful {c.helpful}\tnot helpful {c.not_helpful}"
                + (f" ({reasons})" if reasons else "")
                + "\n"
            )
            for comment in c.comments:
                out.write(f"\t\u201c{comment}\u201d\n")
        if not counts:
            out.write("no feedback yet\n")
        return 0
    if args.action == "search":
        lang = pick_language(args.lang, app.policy.languages)
        async with app.uow() as uow:
            found = await centre.search(uow, args.text, lang, department=args.department)
        for hit in found:
            out.write(f"{hit.score:6.2f}  {hit.article.key}  {hit.article.title}\n")
        if not found:
            out.write("nothing found\n")
        return 0
    async with app.uow() as uow:
        articles = await uow.articles.all()
    for a in articles:
        if args.lang is None or a.lang == args.lang:
            out.write(f"{a.lang}\t{a.slug}\t{','.join(a.departments)}\t{a.title}\n")
    return 0


async def _help_add(app: App, args: argparse.Namespace, out: TextIO) -> int:
    folder = app.help.folder
    if folder is None:
        out.write("the policy names no help folder ([help] folder = ...)\n")
        return 1
    if args.lang not in app.policy.languages:
        known = ", ".join(app.policy.languages)
        out.write(f"unknown language {args.lang!r} (the desk's: {known})\n")
        return 1
    slug = args.slug or args.file.stem
    try:
        article = parse_article(args.file.read_text(encoding="utf-8"), slug, args.lang)
    except ArticleError as exc:
        out.write(f"{args.file}: {exc}\n")
        return 1
    unknown = [d for d in article.departments if d not in app.policy.departments]
    if unknown:
        out.write(f"{args.file}: unknown departments {', '.join(unknown)}\n")
        return 1
    target = folder / args.lang / f"{slug}.md"
    if target.exists() and not args.replace:
        out.write(f"{target} exists (--replace to overwrite)\n")
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_article(article), encoding="utf-8")
    loaded = await app.help.reindex()
    out.write(f"added {article.key}; indexed {len(loaded.articles)} articles\n")
    return 0


def _policy(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """``policy check``: no database, no channel; only the file is read."""
    path = args.file or settings.desk_policy_file
    try:
        policy, levels = check_policy(path)
    except PolicyError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    out.write("\n".join(describe(policy, levels, path)) + "\n")
    return 0


def _check_fleet(args: argparse.Namespace, settings: Settings) -> None:
    """Refuse the receiver/worker commands where they cannot work, before connecting."""
    workers = getattr(args, "workers", None)
    if workers is not None and args.command not in (None, "run"):
        raise ValueError("--workers goes with serving: python -m bot --workers N")
    what = "--workers" if workers is not None else f"python -m bot {args.command}"
    if workers is None and args.command not in ("receiver", "worker"):
        return
    if not (settings.telegram_enabled or settings.discord_enabled):
        raise ValueError(
            f"{what} needs a chat channel (TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN); "
            "the terminal channel "
            "runs in one process: python -m bot console"
        )
    url = settings.database_url
    if url.startswith("sqlite") and (":memory:" in url or url.rstrip("/").endswith(":")):
        raise ValueError(f"{what} needs a database the processes share, not in-memory SQLite")


async def _main(args: argparse.Namespace, settings: Settings) -> int:
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
    try:
        if args.command == "accounts":
            return await _accounts(app, args, sys.stdout)
        if args.command == "tickets":
            return await _tickets(app, args, sys.stdout)
        if args.command == "discord":
            return await _discord(app, args, sys.stdout)
        if args.command == "help":
            return await _help(app, args, sys.stdout)
        if args.command == "stats":
            return await _stats(app, args, sys.stdout)
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
    if args.command == "policy":
        return _policy(args, settings, sys.stdout)
    # Migrations run at every start; their chatter is not news.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return asyncio.run(_main(args, settings))
    except DeskError as exc:
        # The admin reads the desk's own message, in the desk's language.
        translator = Translator.load()
        sys.stderr.write(f"error: {translator.text(exc.key, 'en', exc.params)} ({exc})\n")
        return 2
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
