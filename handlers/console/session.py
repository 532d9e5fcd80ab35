"""The terminal session: one person plays customer, agent and moderator in turn.

Lines are translated into the same desk calls the chat channels make: a customer's
text, commands and numbered choices go to ``Desk.handle``; an agent's commands
become ``ClaimTicket``, ``AskCustomer`` ... for ``TicketService``; a moderator's
``/escalate`` becomes ``EscalatePost``. Notifications for the other roles are printed
by the relay as they are delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import mimetypes
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from bot.agent_commands import Usage, read_agent_command
from bot.app import App
from bot.clock import OffsetClock, parse_duration
from bot.commands import (
    Command,
    EscalatePost,
)
from bot.desk import parse_number
from bot.errors import DeskError
from bot.i18n import pick_language
from bot.inputs import ChoicePicked, CommandGiven, FileSent, Input, TextSent
from bot.paging import Page
from bot.participant import Actor, Participant, Role
from bot.reply import Choice, Moment, Reply, Text
from bot.stats import parse_period, report_replies
from bot.ticket import AGENT_DECLINE_REASONS, Attachment
from bot.transcript import FORMATS, export
from bot.views import found_tickets, page_footer, queue_counts, queue_line
from handlers.console.notifier import ConsoleNotifier
from handlers.console.render import render

PLATFORM = "console"
# How many digits a menu number typed at the prompt can have.
MENU_DIGITS = 2


class ConsoleSession:
    """State of one terminal: who is speaking, and the choices last offered."""

    def __init__(self, app: App, write: Callable[[str], None], lang: str | None = None) -> None:
        self.app = app
        self.write = write
        # The terminal's locale plays the platform's (LANG=cs_CZ.UTF-8 -> Czech).
        self.lang = lang or pick_language(
            os.environ.get("LC_ALL") or os.environ.get("LANG") or app.policy.default_language,
            app.policy.languages,
        )
        self.role = Role.CUSTOMER
        self.name = "customer"
        self.departments: frozenset[str] = frozenset()
        self.choices: list[tuple[str, str]] = []
        # Buttons sent to a customer by notification, usable once that customer speaks.
        self._offered: dict[str, list[tuple[str, str]]] = {}
        self.notifier = ConsoleNotifier(app.translator, write, self._offer)
        app.relay.register(self.notifier)

    # -- output -----------------------------------------------------------------------

    def _offer(self, recipient: str, choices: list[tuple[str, str]]) -> None:
        if self.role is Role.CUSTOMER and recipient == self.participant.external_id:
            self.choices = choices
        else:
            self._offered[recipient] = choices

    def say(self, replies: list[Reply], lang: str | None = None) -> None:
        lines, choices = render(self.app.translator, replies, lang or self.lang)
        for line in lines:
            self.write(line)
        if replies:
            # Numbers pick from what was offered last; a reply without choices ends that.
            self.choices = choices

    def say_key(self, key: str, **params: object) -> None:
        self.say([Reply(key, dict(params))])

    @property
    def participant(self) -> Participant:
        prefix = {Role.CUSTOMER: "", Role.AGENT: "agent:", Role.MODERATOR: "mod:"}[self.role]
        return Participant(PLATFORM, prefix + self.name)

    @property
    def actor(self) -> Actor:
        lead = not self.departments or self.participant.key in self.app.policy.leads
        return Actor(self.participant, self.name, self.role, self.departments, lead=lead)

    @property
    def prompt(self) -> str:
        return f"{self.name} ({self.role.value})> "

    # -- input ----------------------------------------------------------------------------

    async def handle_line(self, raw: str) -> None:
        line = raw.strip()
        if not line or line.startswith("#"):
            return
        try:
            if line.startswith("/as ") or line == "/as":
                self._switch(line.split()[1:])
            elif line in ("/quit", "/exit"):
                raise EOFError
            elif line.startswith("/wait"):
                self._wait(line[len("/wait") :].strip())
            elif self.role is Role.AGENT:
                await self._agent(line)
            elif self.role is Role.MODERATOR:
                await self._moderator(line)
            else:
                await self._customer(line)
        except DeskError as exc:
            self.say([Reply(exc.key, {k: v for k, v in exc.params.items() if v is not None})])
        await self.app.ticker.tick()
        await self.app.relay.drain()

    def _wait(self, arg: str) -> None:
        """Move the desk's clock forward (terminal only) to see reminders and auto-close."""
        delta = parse_duration(arg)
        if delta is None or not isinstance(self.app.clock, OffsetClock):
            self.say_key("console.wait_usage")
            return
        try:
            now = self.app.clock.advance(delta)
        except OverflowError:
            self.say_key("console.wait_usage")
            return
        # In the desk's zone (the one its quotas count months in), named by its city.
        zone = self.app.tickets.schedule.levels.desk_timezone
        self.say_key("console.waited", now=Moment(now, zone, "short"))

    def _switch(self, args: list[str]) -> None:
        if not args or args[0] not in ("customer", "agent", "moderator"):
            self.say_key("console.as_usage")
            return
        role = Role(args[0])
        if role is Role.AGENT and len(args) < 2:
            self.say_key("console.as_usage")
            return
        departments: frozenset[str] = frozenset()
        if role is Role.AGENT and len(args) > 2:
            unknown = [d for d in args[2:] if d not in self.app.policy.departments]
            if unknown:
                self.say_key("console.unknown_department", department=unknown[0])
                return
            departments = frozenset(args[2:])
        self.role = role
        self.name = args[1] if len(args) > 1 else "customer"
        self.departments = departments
        scope = ", ".join(sorted(departments)) if departments else "*"
        self.say_key(f"console.now_{role.value}", name=self.name, departments=scope)
        # Buttons a notification brought this customer while someone else was typing.
        self.choices = self._offered.pop(self.participant.external_id, [])

    # -- customer --------------------------------------------------------------------------

    async def _customer(self, line: str) -> None:
        event: Input
        if line.startswith("/file"):
            files = self._files(line.split()[1:])
            if files is None:
                return
            event = FileSent(files)
        elif line.startswith("/"):
            name, _, arg = line[1:].partition(" ")
            event = CommandGiven(name.lower(), arg.strip())
        elif picked := self._pick(line):
            event = ChoicePicked(picked)
        elif self.choices and line.isdigit() and len(line) <= MENU_DIGITS:
            # A menu is showing and this is no number of it: an invalid choice, never
            # text for the ticket (a phone number or a year is longer).
            # The menu stays: the next number still picks from it.
            params = {"number": line, "count": len(self.choices)}
            self.write(self.app.translator.text("console.invalid_choice", self.lang, params))
            return
        else:
            event = TextSent(line)
        who = self.participant
        answer = await self.app.desk.answer(who, event, name=self.name, locale=self.lang)
        self.say(answer.replies, answer.locale)
        if answer.acknowledged is not None:
            # A terminal cannot react to a line: a short mark stands for the reaction.
            self.say([Reply("console.received", {"number": answer.acknowledged})], answer.locale)

    def _pick(self, line: str) -> str | None:
        options = self.choices
        if line.isdigit() and 1 <= int(line) <= len(options):
            return options[int(line) - 1][0]
        for value, label in options:
            if line.casefold() == label.casefold():
                return value
        return None

    def _files(self, paths: list[str]) -> tuple[Attachment, ...] | None:
        if not paths:
            self.say_key("console.file_usage")
            return None
        files = []
        for raw in paths:
            path = Path(raw).expanduser()
            if not path.is_file():
                self.say_key("console.file_missing", path=raw)
                return None
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            files.append(
                Attachment(str(path.resolve()), path.name, mime, path.stat().st_size, PLATFORM)
            )
        return tuple(files)

    # -- agent --------------------------------------------------------------------------------

    async def _agent(self, line: str) -> None:
        if not line.startswith("/"):
            self.say_key("console.agent_help")
            return
        name, _, rest = line[1:].partition(" ")
        args = rest.split()
        name = name.lower()
        if name == "help":
            self.say_key("console.agent_help")
            return
        if name == "queue":
            await self._queue(parse_number(args[0]) if args else 1)
            return
        if name == "stats":
            days = parse_period(rest)
            if days is None:
                self.say_key("stats.usage")
                return
            scope = None if self.actor.lead or not self.departments else self.departments
            self.say(report_replies(await self.app.stats.report(scope, days)))
            return
        if name == "incident":
            self.say(await self.app.incidents.handle(self.actor, rest))
            return
        if name == "find":
            if not rest.strip():
                self.say_key("find.usage")
                return
            self.say(found_tickets(rest.strip(), await self.app.tickets.find(self.actor, rest)))
            return
        number = parse_number(args[0]) if args else None
        if number is None:
            self.say_key("console.agent_help")
            return
        text = rest.split(None, 1)[1] if len(args) > 1 else ""
        if name == "show":
            self.say(await self.app.tickets.transcript(number, self.actor))
            return
        if name == "transcript":
            fmt = args[1] if len(args) > 1 else "md"
            if fmt not in FORMATS:
                self.say_key("transcript.usage")
                return
            replies = await self.app.tickets.transcript(number, self.actor)
            ticket = await self.app.tickets.get(number)
            exported = export(ticket, replies, self.app.translator, self.lang, fmt)
            self.write(exported.data.decode().rstrip("\n"))
            return
        command = self._agent_command(name, number, text)
        if command is None:
            return
        ticket = await self.app.tickets.execute(self.actor, command)
        self.say_key(
            "console.done",
            number=number,
            status=f"{self.app.translator.text(f'status.{ticket.status}', self.lang)}",
        )

    async def _queue(self, number: int | None) -> None:
        """A page of the agent's queue (``/queue 2``): the first says how many are open
        in each status; the last line tells how to turn the page."""
        counts = await self.app.tickets.queue_counts(self.actor)
        total = sum(counts.values())
        if not total:
            self.say_key("console.queue_empty")
            return
        page = Page(min(max(number or 1, 1), Page().count(total)))
        tickets = await self.app.tickets.queue(self.actor, page=page)
        replies = [queue_counts(counts)] if page.number == 1 else []
        replies += [queue_line(t) for t in tickets]
        footer = page_footer(page, total, lambda n: f"/queue {n}")
        if footer is not None:
            # The terminal has no buttons: the footer names the commands instead.
            replies.append(replace(footer, choices=()))
            replies += [
                Reply("console.queue_turn", {"label": Text(c.key), "command": c.value})
                for c in footer.choices
            ]
        self.say(replies)

    def _agent_command(self, name: str, number: int, text: str) -> Command | None:
        read = read_agent_command(name, number, text, departments=self.app.policy.departments)
        if not isinstance(read, Usage):
            return read
        match read:
            case Usage.NEEDS_TEXT:
                self.say_key("console.needs_text", command=name)
            case Usage.QUOTE:
                self.say_key("console.quote_usage")
            case Usage.TRANSFER:
                departments = ", ".join(self.app.policy.departments)
                self.say_key("console.transfer_usage", departments=departments)
            case Usage.DECLINE:
                reasons = tuple(
                    Choice(r.value, f"decline.{r.value}") for r in AGENT_DECLINE_REASONS
                )
                # Numbered in the agent's language: /decline N 2 picks the second.
                self.say([Reply("console.decline_usage", choices=reasons)])
            case Usage.UNKNOWN:
                self.say_key("console.agent_help")
        return None

    # -- moderator -------------------------------------------------------------------------------

    async def _moderator(self, line: str) -> None:
        name, _, rest = line.partition(" ")
        if name != "/escalate" or not rest.strip():
            self.say_key("console.moderator_help")
            return
        author, _, text = rest.strip().partition(" ")
        department = None
        if text.startswith("@"):
            department, _, text = text[1:].partition(" ")
        digest = hashlib.sha1(f"{author}\n{text.strip()}".encode()).hexdigest()[:10]
        post = f"community:{digest}"
        ticket = await self.app.tickets.escalate(
            self.actor,
            EscalatePost(
                author_platform=PLATFORM,
                author_id=author,
                author_name=author,
                post_ref=post,
                post_link=f"console://{post}",
                text=text.strip(),
                department=department,
                locale=self.lang,
            ),
        )
        self.say_key("console.escalated", number=ticket.number, author=author)


async def run_console(app: App, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
    """Read lines until end of input; prompts only when a person is typing."""
    source = stdin or sys.stdin
    sink = stdout or sys.stdout
    interactive = source.isatty()

    def write(text: str) -> None:
        sink.write(text + "\n")
        sink.flush()

    session = ConsoleSession(app, write)
    session.say_key("console.banner")
    loop = asyncio.get_running_loop()
    pending: list[str] = []
    while True:
        if interactive:
            sink.write("... " if pending else session.prompt)
            sink.flush()
        line = await loop.run_in_executor(None, source.readline)
        if not line:
            if pending:  # input ended on a continued line: it is still a message
                await session.handle_line("\n".join(pending))
            break
        # A line ending in a backslash continues on the next: one message, several lines.
        stripped = line.rstrip("\r\n")
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        message = "\n".join([*pending, stripped])
        pending.clear()
        try:
            await session.handle_line(message)
        except EOFError:
            break
    with contextlib.suppress(Exception):
        await app.relay.drain()
