"""The customer's side of the desk: every message, command and button of a customer.

``Desk.handle`` is the one entry point channels call for a customer. It keeps the
customer's profile (language, linked account, the ticket they are looking at),
runs the pure conversations (intake) one step at a time with their state stored
between steps, and carries out the commands those conversations return.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.account import Account, normalise_support_number
from bot.commands import (
    AcceptQuote,
    AppendToTicket,
    Command,
    ConfirmResolution,
    DisputeResolution,
    LookupAccount,
    OpenTickets,
    RefuseQuote,
    WriteToTicket,
)
from bot.customer import Customer
from bot.dialog import DeskContext, Dialog, TicketBrief, Transition
from bot.errors import DeskError, InvalidTransition, TicketNotFound
from bot.i18n import LANGUAGES, pick_language
from bot.inputs import (
    AccountLooked,
    AddedToTicket,
    ChoicePicked,
    CommandGiven,
    FileSent,
    Input,
    Refused,
    TextSent,
    TicketsFiled,
)
from bot.participant import Actor, Participant, Role
from bot.policy import DeskPolicy
from bot.ports import Clock, StateStore, UnitOfWorkFactory
from bot.reply import Choice, Reply, Text
from bot.ticket import OPEN_STATUSES, Status, Ticket
from bot.tickets import TicketBlocked, TicketClosed, TicketService

log = logging.getLogger(__name__)

TICKET_FILTERS: dict[str, frozenset[Status] | None] = {
    "all": None,
    "open": frozenset({Status.NEW, Status.ACCEPTED, Status.WAITING, Status.BLOCKED}),
    "done": frozenset({Status.RESOLVED, Status.CLOSED, Status.DECLINED}),
}
THREAD_PREVIEW = 5
# A conversation untouched this long is over (intake.timed_out).
CONVERSATION_TTL = timedelta(days=3)
# Ticket numbers a customer may type: ASCII digits, within the database's integer range.
MAX_NUMBER = 2**31 - 1


def parse_number(text: str) -> int | None:
    """``12``, ``#12`` -> 12; anything else (``²``, ``99999999999999``) -> None."""
    digits = text.strip().lstrip("#")
    if not digits.isascii() or not digits.isdigit():
        return None
    number = int(digits)
    return number if 0 < number <= MAX_NUMBER else None


class Desk:
    """Customers' conversations with the desk, on any channel."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        tickets: TicketService,
        states: StateStore,
        policy: DeskPolicy,
        clock: Clock,
        dialogs: Sequence[Dialog[Any]],
    ) -> None:
        self._uow = uow
        self._tickets = tickets
        self._states = states
        self._policy = policy
        self._clock = clock
        self._dialogs = {dialog.kind: dialog for dialog in dialogs}
        if "intake" not in self._dialogs:
            raise ValueError("the desk needs an intake dialog")

    # -- entry point ------------------------------------------------------------------

    async def handle(
        self, who: Participant, event: Input, *, name: str = "", locale: str | None = None
    ) -> list[Reply]:
        """One customer input in, the replies to show out."""
        customer = await self.customer(who, name=name, locale=locale)
        try:
            return await self._dispatch(customer, event)
        except DeskError as exc:
            log.info("refused for %s: %s", who.key, exc)
            return [Reply(exc.key, _plain(exc.params))]

    async def customer(
        self, who: Participant, *, name: str = "", locale: str | None = None
    ) -> Customer:
        """The customer's profile, created on first contact."""
        async with self._uow() as uow:
            found = await uow.customers.get(who)
            if found is None:
                found = Customer(
                    who, name=name, locale=pick_language(locale, self._policy.languages)
                )
                await uow.customers.put(found)
                await uow.commit()
            elif (name and name != found.name) or found.unreachable:
                # Whoever writes to us can be reached again.
                found = replace(found, name=name or found.name, unreachable=False)
                await uow.customers.put(found)
                await uow.commit()
        return found

    async def language(self, who: Participant) -> str:
        return (await self.customer(who)).locale

    # -- dispatch -------------------------------------------------------------------------

    async def _dispatch(self, customer: Customer, event: Input) -> list[Reply]:
        if isinstance(event, CommandGiven):
            return await self._command(customer, event)
        if isinstance(event, ChoicePicked) and ":" in event.value:
            handled = await self._global_choice(customer, event.value)
            if handled is not None:
                return handled
        stored = await self._states.get(customer.participant.key)
        notes: list[Reply] = []
        if stored is not None and self._abandoned(stored):
            # A conversation left for days is over; the message is read afresh.
            notes = await self._step(customer, CommandGiven("timeout"), stored)
            stored = None
        if stored is not None and isinstance(event, TextSent | FileSent):
            waiting = await self._question_since(customer, stored)
            if waiting is not None:
                # An agent asked something after this conversation began: the answer
                # belongs to that ticket, and the conversation waits where it was.
                answered = await self._write(customer, waiting, event)
                await self._states.set(customer.participant.key, stored | {"at": self._stamp()})
                return [*answered, Reply("desk.conversation_paused")]
        if stored is not None:
            return await self._step(customer, event, stored)
        if isinstance(event, TextSent | FileSent):
            return [*notes, *(await self._loose_message(customer, event))]
        return [*notes, Reply("desk.choice_expired"), *self._help()]

    def _stamp(self) -> str:
        return self._clock.now().isoformat()

    def _abandoned(self, stored: dict[str, Any]) -> bool:
        try:
            at = datetime.fromisoformat(str(stored["at"]))
        except (KeyError, ValueError):
            return False
        return self._clock.now() - at > CONVERSATION_TTL

    async def _question_since(self, customer: Customer, stored: dict[str, Any]) -> Ticket | None:
        """The customer's ticket that went Waiting for customer after the conversation's
        last step, if any."""
        try:
            since = datetime.fromisoformat(str(stored["at"]))
        except (KeyError, ValueError):
            return None
        async with self._uow() as uow:
            waiting = await uow.tickets.for_customer(
                customer.participant, frozenset({Status.WAITING})
            )
        for ticket in waiting:
            asked = ticket.history[-1].at if ticket.history else None
            if asked is not None and asked > since:
                return ticket
        return None

    async def _command(self, customer: Customer, event: CommandGiven) -> list[Reply]:
        name, arg = event.name.lower().lstrip("/"), event.arg.strip()
        if name == "start":
            if arg.startswith("t") and (number := parse_number(arg[1:])) is not None:
                return await self._show_ticket(customer, number)
            return [Reply("desk.welcome", {"name": customer.name}), *self._help()]
        if name == "help":
            return self._help()
        if name == "new":
            await self._states.delete(customer.participant.key)
            return await self._begin(customer)
        if name == "training" and "training" in self._dialogs:
            await self._states.delete(customer.participant.key)
            return await self._begin(customer, "training")
        if name == "tickets":
            if arg in TICKET_FILTERS:
                return await self._list(customer, arg)
            if arg == "org":
                return await self._list_organisation(customer, None)
            filters = [Choice(f"tickets:{f}", f"filter.{f}") for f in TICKET_FILTERS]
            if await self._organisation(customer) is not None:
                filters.append(Choice("tickets:org", "filter.org"))
            return [Reply("desk.tickets_filter", choices=tuple(filters))]
        if name == "ticket":
            number = parse_number(arg)
            if number is None:
                return [Reply("desk.ticket_usage")]
            return await self._show_ticket(customer, number)
        if name == "language":
            return await self._set_language(customer, arg)
        stored = await self._states.get(customer.participant.key)
        if stored is not None and name in ("cancel", "skip"):
            return await self._step(customer, CommandGiven(name, arg), stored)
        if name == "cancel":
            return [Reply("desk.nothing_to_cancel")]
        return [Reply("desk.unknown_command", {"command": name}), *self._help()]

    async def _global_choice(self, customer: Customer, value: str) -> list[Reply] | None:
        """Buttons that work whatever the customer is doing (they may be old messages)."""
        prefix, _, arg = value.partition(":")
        if prefix == "tickets" and arg in TICKET_FILTERS:
            return await self._list(customer, arg)
        if prefix == "tickets" and arg == "org":
            return await self._list_organisation(customer, None)
        if prefix == "tickets" and arg.startswith("by:"):
            return await self._list_organisation(customer, arg[3:])
        if prefix == "lang":
            return await self._set_language(customer, arg)
        number = parse_number(arg) if arg.isdigit() else None
        if prefix in ("quote_yes", "quote_no") and number is not None:
            decision: Command = (
                AcceptQuote(number=number) if prefix == "quote_yes" else RefuseQuote(number=number)
            )
            try:
                await self._tickets.execute(self._actor(customer), decision)
            except InvalidTransition:
                return [Reply("desk.already_done", {"number": number})]
            key = "desk.quote_accepted" if prefix == "quote_yes" else "desk.quote_refused"
            return [Reply(key, {"number": number})]
        if prefix in ("confirm", "dispute", "ticket", "followup") and number is not None:
            if prefix == "ticket":
                return await self._show_ticket(customer, number)
            if prefix == "followup":
                return await self._begin(customer, closed_ticket=number)
            actor = self._actor(customer)
            command: Command = (
                ConfirmResolution(number=number)
                if prefix == "confirm"
                else DisputeResolution(number=number)
            )
            try:
                await self._tickets.execute(actor, command)
            except InvalidTransition:
                return [Reply("desk.already_done", {"number": number})]
            key = "desk.resolution_confirmed" if prefix == "confirm" else "desk.dispute_sent"
            return [Reply(key, {"number": number})]
        return None

    # -- conversations ----------------------------------------------------------------------

    async def _begin(
        self, customer: Customer, kind: str = "intake", **options: Any
    ) -> list[Reply]:
        if closed := options.get("closed_ticket"):
            ticket = await self._own_ticket(customer, int(closed))
            options["category"] = ticket.category
        dialog = self._dialogs[kind]
        context = await self._context(customer)
        return await self._run(customer, dialog, dialog.start(context, **options))

    async def _step(self, customer: Customer, event: Input, stored: dict[str, Any]) -> list[Reply]:
        context = await self._context(customer)
        # States stored before conversations had kinds are intakes.
        dialog = self._dialogs.get(str(stored.get("kind", "intake")))
        try:
            if dialog is None:
                raise ValueError(f"no dialog {stored.get('kind')!r}")
            state = dialog.load(stored.get("data", stored))
        except ValueError:
            log.warning("dropping unreadable conversation state of %s", customer.participant.key)
            await self._states.delete(customer.participant.key)
            return [Reply("desk.conversation_lost"), *self._help()]
        return await self._run(customer, dialog, dialog.advance(state, event, context))

    async def _run(
        self, customer: Customer, dialog: Dialog[Any], transition: Transition[Any]
    ) -> list[Reply]:
        replies = list(transition.replies)
        notes: list[Reply] = []
        # A conversation's command is carried out and its answer fed straight back.
        while transition.command is not None and transition.state is not None:
            answer, extra = await self._carry_out(customer, transition.command)
            notes.extend(extra)
            customer = await self.customer(customer.participant)
            context = await self._context(customer)
            transition = dialog.advance(transition.state, answer, context)
            replies.extend(transition.replies)
        key = customer.participant.key
        if transition.state is None:
            await self._states.delete(key)
        else:
            data = {
                "kind": dialog.kind,
                "data": dialog.dump(transition.state),
                "at": self._stamp(),
            }
            await self._states.set(key, data)
        return replies + notes

    async def _filing_notes(self, tickets: list[Ticket]) -> list[Reply]:
        """When to expect an answer, and what is left of the monthly quota."""
        notes: list[Reply] = []
        for ticket in tickets:
            expected = self._tickets.schedule.expectation(ticket)
            if expected is not None and expected not in notes:
                notes.append(expected)
        for number in sorted({t.support_number for t in tickets if t.support_number}):
            left = await self._tickets.quota_left(number)
            if left is not None:
                notes.append(left)
        return notes

    async def _carry_out(self, customer: Customer, command: Command) -> tuple[Input, list[Reply]]:
        """Carry out a conversation's command: its answer, and notes for the customer."""
        match command:
            case LookupAccount(support_number=raw):
                number = normalise_support_number(raw)
                async with self._uow() as uow:
                    found = await uow.accounts.get(number)
                account = self._tickets.schedule.entitled_account(found)
                if account is not None and account.is_valid_on(self._clock.now().date()):
                    # Given once, remembered: the next intake skips this question.
                    await self._remember(customer, support_number=number)
                return AccountLooked(number, account), []
            case OpenTickets(drafts=drafts):
                try:
                    opened = await self._tickets.open_tickets(
                        customer, drafts, customer.participant.platform
                    )
                except DeskError as exc:
                    return Refused(exc.key, tuple(_plain(exc.params).items())), []
                first = drafts[0]
                await self._remember(
                    customer,
                    current_ticket=opened[-1].number,
                    domain=first.domain or customer.domain,
                    phone=first.phone or customer.phone,
                )
                filed = TicketsFiled(tuple(t.number for t in opened if t.number is not None))
                return filed, await self._filing_notes(opened)
            case AppendToTicket(number=number, text=text, attachments=files):
                await self._tickets.execute(
                    self._actor(customer),
                    WriteToTicket(number=number, text=text, attachments=files),
                )
                await self._remember(customer, current_ticket=number)
                return AddedToTicket(number), []
        raise DeskError(f"conversation issued unsupported command {type(command).__name__}")

    async def _context(self, customer: Customer) -> DeskContext:
        async with self._uow() as uow:
            account = self._tickets.schedule.entitled_account(
                await uow.accounts.get(customer.support_number)
                if customer.support_number
                else None
            )
            open_tickets = await uow.tickets.for_customer(customer.participant, OPEN_STATUSES)
        today = self._clock.now().date()
        return DeskContext(
            policy=self._policy,
            today=today,
            training_eligible=self._tickets.schedule.training_eligible(account, today),
            locale=customer.locale,
            account=account,
            domain=customer.domain,
            phone=customer.phone,
            open_tickets=tuple(_brief(t) for t in open_tickets),
        )

    # -- messages outside a conversation -------------------------------------------------------

    async def _loose_message(self, customer: Customer, event: TextSent | FileSent) -> list[Reply]:
        """A message with no conversation running joins the customer's open ticket."""
        async with self._uow() as uow:
            open_tickets = await uow.tickets.for_customer(customer.participant, OPEN_STATUSES)
            current = None
            if customer.current_ticket is not None:
                try:
                    current = await uow.tickets.get(customer.current_ticket)
                except TicketNotFound:
                    current = None
        if current is not None and not current.is_open and current.number is not None:
            # They are looking at a closed ticket: offer a follow-up, never another ticket.
            return await self._begin(customer, closed_ticket=current.number)
        target = current if current is not None else (open_tickets[0] if open_tickets else None)
        if target is None:
            return [Reply("desk.no_open_ticket"), *(await self._begin(customer))]
        return await self._write(customer, target, event)

    async def _write(
        self, customer: Customer, target: Ticket, event: TextSent | FileSent
    ) -> list[Reply]:
        """The customer's message joins ``target``."""
        assert target.number is not None
        text = event.text if isinstance(event, TextSent) else event.caption
        files = event.files if isinstance(event, FileSent) else ()
        try:
            await self._tickets.execute(
                self._actor(customer),
                WriteToTicket(number=target.number, text=text, attachments=files),
            )
        except TicketBlocked:
            return [Reply("notice.blocked_wait", {"number": target.number})]
        except TicketClosed:
            return await self._begin(customer, closed_ticket=target.number)
        await self._remember(customer, current_ticket=target.number)
        return [Reply("desk.added_to_ticket", {"number": target.number, "title": target.title})]

    # -- views ------------------------------------------------------------------------------------

    async def _list(self, customer: Customer, which: str) -> list[Reply]:
        statuses = TICKET_FILTERS[which]
        async with self._uow() as uow:
            tickets = await uow.tickets.for_customer(customer.participant, statuses)
        if not tickets:
            return [Reply("desk.no_tickets", {"filter": Text(f"filter.{which}")})]
        lines = [
            Reply(
                "desk.ticket_line",
                {"number": t.number, "title": t.title, "status": Text(f"status.{t.status}")},
            )
            for t in tickets
        ]
        choices = tuple(
            Choice(f"ticket:{t.number}", "choice.open_ticket", {"number": t.number})
            for t in tickets[:10]
        )
        return [
            Reply("desk.tickets_header", {"filter": Text(f"filter.{which}")}),
            *lines[:-1],
            replace(lines[-1], choices=choices),
        ]

    async def _organisation(self, customer: Customer) -> Account | None:
        """The customer's account if they are one of its organisation admins."""
        if not customer.support_number:
            return None
        async with self._uow() as uow:
            account = await uow.accounts.get(customer.support_number)
        if account is None or customer.participant.key not in account.admins:
            return None
        return account

    async def _list_organisation(self, customer: Customer, opener: str | None) -> list[Reply]:
        """An organisation admin's view: every ticket of the account, and who opened it;
        ``opener`` (a participant key) narrows it to one person's tickets."""
        account = await self._organisation(customer)
        if account is None:
            return [Reply("error.not_allowed")]
        async with self._uow() as uow:
            tickets = await uow.tickets.for_account(account.support_number)
        people = {t.customer.key: t.customer_name or t.customer.external_id for t in tickets}
        if opener is not None:
            tickets = [t for t in tickets if t.customer.key == opener]
        if not tickets:
            return [Reply("desk.no_tickets", {"filter": Text("filter.org")})]
        header = Reply(
            "desk.tickets_header",
            {"filter": Text("filter.org")},
            tuple(
                Choice(f"tickets:by:{key}", "choice.by_person", {"who": who})
                for key, who in list(people.items())[:10]
            ),
        )
        lines = [
            Reply(
                "desk.ticket_line_by",
                {
                    "number": t.number,
                    "title": t.title,
                    "status": Text(f"status.{t.status}"),
                    "who": t.customer_name or t.customer.external_id,
                },
            )
            for t in tickets
        ]
        return [header, *lines]

    async def _show_ticket(self, customer: Customer, number: int) -> list[Reply]:
        ticket = await self._own_ticket(customer, number)
        owner = ticket.customer == customer.participant
        if owner:
            await self._remember(customer, current_ticket=number)
        replies = [
            Reply(
                "desk.ticket_view",
                {
                    "number": number,
                    "title": ticket.title,
                    "status": Text(f"status.{ticket.status}"),
                    "department": Text(f"department.{ticket.department}"),
                    "category": Text(f"category.{ticket.category}"),
                    "created": ticket.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                },
            )
        ]
        visible = [e for e in ticket.entries if e.kind.value in ("customer", "agent")]
        for entry in visible[-THREAD_PREVIEW:]:
            who = Text("desk.you") if entry.kind.value == "customer" else entry.author_name
            replies.append(Reply("desk.thread_entry", {"who": who, "text": entry.text}))
        if not owner:
            return replies  # an organisation admin reads along; the buttons are the owner's
        hint: Reply
        if ticket.status is Status.RESOLVED:
            hint = Reply(
                "desk.hint_resolved",
                {"number": number},
                (
                    Choice(f"confirm:{number}", "choice.confirm_resolution"),
                    Choice(f"dispute:{number}", "choice.dispute_resolution"),
                ),
            )
        elif ticket.status is Status.BLOCKED:
            hint = Reply("notice.blocked_wait", {"number": number})
        elif ticket.is_open:
            hint = Reply("desk.hint_open", {"number": number})
        else:
            hint = Reply(
                "desk.hint_closed",
                {"number": number},
                (Choice(f"followup:{number}", "choice.follow_up"),),
            )
        replies.append(hint)
        return replies

    async def _set_language(self, customer: Customer, code: str) -> list[Reply]:
        if code not in self._policy.languages:
            return [
                Reply(
                    "desk.language_pick",
                    choices=tuple(
                        Choice(f"lang:{lang}", f"language.{lang}")
                        for lang in self._policy.languages
                        if lang in LANGUAGES
                    ),
                )
            ]
        await self._remember(customer, locale=code)
        return [Reply("desk.language_set", {"language": Text(f"language.{code}")})]

    def _help(self) -> list[Reply]:
        return [Reply("desk.help")]

    # -- helpers ----------------------------------------------------------------------------------

    async def _own_ticket(self, customer: Customer, number: int) -> Ticket:
        async with self._uow() as uow:
            ticket = await uow.tickets.get(number)
        if ticket.customer != customer.participant:
            organisation = await self._organisation(customer)
            if organisation is None or ticket.support_number != organisation.support_number:
                # Someone else's ticket looks exactly like a missing one.
                raise TicketNotFound(f"#{number}", number=number)
        return ticket

    async def _remember(self, customer: Customer, **changes: Any) -> None:
        async with self._uow() as uow:
            current = await uow.customers.get(customer.participant) or customer
            await uow.customers.put(replace(current, **changes))
            await uow.commit()

    @staticmethod
    def _actor(customer: Customer) -> Actor:
        return Actor(customer.participant, customer.name, Role.CUSTOMER)


def _brief(ticket: Ticket) -> TicketBrief:
    assert ticket.number is not None
    return TicketBrief(
        number=ticket.number,
        title=ticket.title,
        description=ticket.description,
        status=ticket.status,
        department=ticket.department,
        category=ticket.category,
    )


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if isinstance(v, str | int | float | Text)}
