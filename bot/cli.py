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
from bot.policy import Plan
from bot.settings import Settings
from bot.ticket import Status
from bot.views import queue_line


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot", description="Supportbot: a support desk in chat."
    )
    workers_help = (
        "serve Telegram with one receiver in this process and N worker processes "
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
        help="only receive Telegram updates into the update queue (the bot's one poller "
        "or webhook endpoint)",
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
    for sp in (lst, show):
        sp.add_argument("--lang", default=None, help="en, cs, pl or ru")
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
