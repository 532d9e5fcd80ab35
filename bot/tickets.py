"""Ticket services: one unit of work per action of a customer, agent or moderator.

Every action loads the ticket, applies one lifecycle move through the aggregate,
records events and writes their notifications to the outbox in the same
transaction. Authorisation is checked here, never in a channel.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.announce import Announcer
from bot.commands import (
    AddNote,
    AnswerCustomer,
    AskCustomer,
    BlockTicket,
    ClaimTicket,
    Command,
    ConfirmResolution,
    DeclineTicket,
    DisputeResolution,
    EscalatePost,
    ResolveTicket,
    TicketDraft,
    TransferTicket,
    UnblockTicket,
    WriteToTicket,
)
from bot.customer import Customer
from bot.errors import DeskError, DuplicateEscalation, InvalidInput, InvalidTransition, NotAllowed
from bot.events import (
    AgentAnswered,
    AgentAsked,
    CustomerWrote,
    Event,
    NoteAdded,
    StatusChanged,
    TicketClaimed,
    TicketOpened,
    TicketTransferred,
)
from bot.participant import Actor, Participant, Role
from bot.policy import DeskPolicy
from bot.ports import Clock, UnitOfWork, UnitOfWorkFactory
from bot.ticket import (
    OPEN_STATUSES,
    DeclineReason,
    EntryKind,
    Origin,
    Priority,
    RequestType,
    Status,
    ThreadEntry,
    Ticket,
)

log = logging.getLogger(__name__)

TITLE_LIMIT = 120


class TicketBlocked(DeskError):
    """The ticket is Blocked while a fix is applied: the customer must wait."""

    key = "notice.blocked_wait"


class TicketClosed(DeskError):
    """Closed tickets are read-only; the customer is offered a follow-up."""

    key = "notice.closed_read_only"


def default_priority(request_type: RequestType, critical: bool) -> Priority:
    if critical:
        return Priority.URGENT
    if request_type in (RequestType.PAYMENT, RequestType.COMPLAINT):
        return Priority.HIGH
    if request_type is RequestType.MODIFICATION:
        return Priority.LOW
    return Priority.NORMAL


class TicketService:
    """Agents', customers' and moderators' actions on tickets."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        policy: DeskPolicy,
        clock: Clock,
        announcer: Announcer | None = None,
    ) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock
        self._announcer = announcer or Announcer(policy)

    # -- reading -----------------------------------------------------------------------

    async def get(self, number: int) -> Ticket:
        async with self._uow() as uow:
            return await uow.tickets.get(number)

    async def queue(
        self, actor: Actor, statuses: frozenset[Status] = OPEN_STATUSES
    ) -> list[Ticket]:
        """The tickets an agent may work on, most urgent first, then oldest."""
        if actor.role is not Role.AGENT:
            raise NotAllowed("only agents have a queue")
        departments = None if actor.lead else actor.departments
        async with self._uow() as uow:
            tickets = await uow.tickets.queue(departments, statuses)
        return sorted(tickets, key=lambda t: (-t.priority, t.created_at))

    # -- filing --------------------------------------------------------------------------

    async def open_tickets(
        self, customer: Customer, drafts: tuple[TicketDraft, ...], channel: str
    ) -> list[Ticket]:
        """File one ticket per draft for ``customer`` (intake's final step)."""
        now = self._clock.now()
        opened: list[Ticket] = []
        async with self._uow() as uow:
            for draft in drafts:
                category = self._policy.category(draft.category)
                department = draft.department or category.department
                self._policy.department(department)
                ticket = Ticket(
                    customer=customer.participant,
                    customer_name=customer.name,
                    department=department,
                    category=category.key,
                    request_type=category.request_type,
                    critical=category.critical,
                    title=draft.title[:TITLE_LIMIT],
                    description=draft.description,
                    steps=draft.steps,
                    attachments=list(draft.attachments),
                    support_number=draft.support_number,
                    domain=draft.domain,
                    phone=draft.phone,
                    locale=customer.locale,
                    origin=Origin(channel=channel),
                    created_at=now,
                    follow_up_of=draft.follow_up_of,
                    priority=default_priority(category.request_type, category.critical),
                )
                ticket.record_filed(now, customer.name or customer.participant.key)
                await uow.tickets.add(ticket)
                await self._publish(uow, ticket, [TicketOpened(number=_n(ticket), at=now)])
                opened.append(ticket)
            await uow.commit()
        return opened

    async def escalate(self, actor: Actor, command: EscalatePost) -> Ticket:
        """A moderator turns a community post into a ticket for its author."""
        if actor.role is not Role.MODERATOR:
            raise NotAllowed("only moderators escalate posts")
        text = command.text.strip()
        if not text and not command.attachments:
            raise InvalidInput("the post is empty")
        department = command.department or self._escalation_department()
        if department not in self._policy.departments:
            raise InvalidInput(f"unknown department {department!r}", department=department)
        category = next(c for c in self._policy.categories.values() if c.department == department)
        now = self._clock.now()
        author = Participant(command.author_platform, command.author_id)
        title = (text.splitlines()[0] if text else command.post_link)[:80] or "—"
        async with self._uow() as uow:
            existing = await uow.tickets.by_post(command.post_ref)
            if existing is not None:
                raise DuplicateEscalation(command.post_ref, number=existing.number)
            profile = await uow.customers.get(author)
            ticket = Ticket(
                customer=author,
                customer_name=command.author_name,
                department=department,
                category=category.key,
                request_type=category.request_type,
                critical=category.critical,
                title=title,
                description=text,
                attachments=list(command.attachments),
                support_number=profile.support_number if profile else "",
                domain=profile.domain if profile else "",
                locale=profile.locale if profile else command.locale,
                origin=Origin(
                    channel=command.author_platform,
                    post_ref=command.post_ref,
                    post_link=command.post_link,
                    escalated_by=actor.name,
                ),
                created_at=now,
                priority=default_priority(category.request_type, category.critical),
            )
            ticket.record_filed(now, actor.name)
            ticket.add_entry(
                ThreadEntry(EntryKind.SYSTEM, f"escalated by {actor.name}", now, actor.participant)
            )
            await uow.tickets.add(ticket)
            if profile is None:
                await uow.customers.put(
                    Customer(author, name=command.author_name, locale=command.locale)
                )
            await self._publish(uow, ticket, [TicketOpened(number=_n(ticket), escalated=True)])
            await uow.commit()
        return ticket

    def _escalation_department(self) -> str:
        wanted = self._policy.raw.get("desk", {}).get("escalation_department")
        return str(wanted) if wanted else next(iter(self._policy.departments))

    # -- actions on a ticket --------------------------------------------------------------

    async def execute(self, actor: Actor, command: Command) -> Ticket:
        """Carry out an agent's or a customer's command on one ticket."""
        number = getattr(command, "number", None)
        if not isinstance(number, int):
            raise InvalidInput(f"{type(command).__name__} names no ticket")
        async with self._uow() as uow:
            ticket = await uow.tickets.get(number)
            events = self._apply(actor, ticket, command)
            await uow.tickets.save(ticket)
            await self._publish(uow, ticket, events)
            await uow.commit()
        log.info("ticket #%s: %s by %s", number, type(command).__name__, actor.participant.key)
        return ticket

    def _apply(self, actor: Actor, ticket: Ticket, command: Command) -> list[Event]:
        now = self._clock.now()
        n = _n(ticket)
        match command:
            case WriteToTicket() | ConfirmResolution() | DisputeResolution():
                self._authorise_customer(actor, ticket)
            case _:
                self._authorise_agent(actor, ticket)
        match command:
            case ClaimTicket():
                if not ticket.is_open:
                    raise InvalidTransition(f"#{n} is {ticket.status}", number=n)
                if ticket.status is Status.NEW:
                    ticket.move(Status.ACCEPTED, now, actor.name)
                ticket.assign(actor)
                return [TicketClaimed(number=n, agent_name=actor.name, at=now)]
            case AnswerCustomer(text=text, attachments=files):
                if not ticket.is_open:
                    raise TicketClosed(f"#{n} is {ticket.status}", number=n)
                self._take(ticket, actor, now)
                ticket.add_entry(
                    ThreadEntry(EntryKind.AGENT, text, now, actor.participant, actor.name, files)
                )
                return [
                    AgentAnswered(number=n, agent_name=actor.name, text=text, files=len(files))
                ]
            case AskCustomer(text=text):
                if ticket.status is not Status.WAITING:
                    ticket.move(Status.WAITING, now, actor.name, text)
                self._take(ticket, actor, now)
                ticket.add_entry(
                    ThreadEntry(EntryKind.AGENT, text, now, actor.participant, actor.name)
                )
                return [AgentAsked(number=n, agent_name=actor.name, text=text, at=now)]
            case ResolveTicket(text=text):
                old = ticket.status
                ticket.move(Status.RESOLVED, now, actor.name, text)
                self._take(ticket, actor, now)
                if text:
                    ticket.add_entry(
                        ThreadEntry(EntryKind.AGENT, text, now, actor.participant, actor.name)
                    )
                return [_changed(n, old, ticket, actor, text)]
            case DeclineTicket(reason=reason, text=text):
                old = ticket.status
                ticket.move(Status.DECLINED, now, actor.name, reason.value)
                ticket.decline_reason = reason
                if text:
                    ticket.add_entry(
                        ThreadEntry(EntryKind.AGENT, text, now, actor.participant, actor.name)
                    )
                return [_changed(n, old, ticket, actor, text, reason=reason)]
            case BlockTicket(text=text):
                old = ticket.status
                ticket.move(Status.BLOCKED, now, actor.name, text)
                return [_changed(n, old, ticket, actor, text)]
            case UnblockTicket(text=text):
                old = ticket.status
                ticket.move(Status.ACCEPTED, now, actor.name, text)
                return [_changed(n, old, ticket, actor, text)]
            case TransferTicket(department=department, text=text):
                if department not in self._policy.departments:
                    raise InvalidInput(f"unknown department {department!r}", department=department)
                if department == ticket.department:
                    raise InvalidInput("the ticket is already there", department=department)
                if not ticket.is_open:
                    raise TicketClosed(f"#{n} is {ticket.status}", number=n)
                old_department = ticket.department
                ticket.department = department
                ticket.assignee, ticket.assignee_name = None, ""
                ticket.add_entry(
                    ThreadEntry(
                        EntryKind.SYSTEM,
                        f"transferred {old_department} -> {department}"
                        + (f": {text}" if text else ""),
                        now,
                        actor.participant,
                        actor.name,
                    )
                )
                return [
                    TicketTransferred(
                        number=n,
                        old_department=old_department,
                        new_department=department,
                        by_name=actor.name,
                        at=now,
                    )
                ]
            case AddNote(text=text):
                ticket.add_entry(
                    ThreadEntry(EntryKind.NOTE, text, now, actor.participant, actor.name)
                )
                return [NoteAdded(number=n, agent_name=actor.name, text=text, at=now)]
            case WriteToTicket(text=text, attachments=files):
                if ticket.status is Status.BLOCKED:
                    raise TicketBlocked(f"#{n} is blocked", number=n)
                if not ticket.is_open:
                    raise TicketClosed(f"#{n} is {ticket.status}", number=n)
                ticket.add_entry(
                    ThreadEntry(
                        EntryKind.CUSTOMER, text, now, actor.participant, actor.name, files
                    )
                )
                if ticket.status is Status.WAITING:
                    # The customer's answer hands the ticket back to the agent.
                    ticket.move(Status.ACCEPTED, now, actor.name)
                return [CustomerWrote(number=n, text=text, files=len(files), at=now)]
            case ConfirmResolution():
                old = ticket.status
                ticket.move(Status.CLOSED, now, actor.name, "confirmed")
                return [_changed(n, old, ticket, actor, "", by_customer=True)]
            case DisputeResolution(text=text):
                old = ticket.status
                ticket.move(Status.ACCEPTED, now, actor.name, text or "disputed")
                if text:
                    ticket.add_entry(
                        ThreadEntry(EntryKind.CUSTOMER, text, now, actor.participant, actor.name)
                    )
                return [_changed(n, old, ticket, actor, text, by_customer=True)]
        raise InvalidInput(f"unsupported command {type(command).__name__}")

    # -- helpers ------------------------------------------------------------------------

    def _authorise_agent(self, actor: Actor, ticket: Ticket) -> None:
        if not actor.serves(ticket.department):
            raise NotAllowed(
                f"{actor.participant.key} does not serve {ticket.department}",
                number=ticket.number,
            )

    @staticmethod
    def _authorise_customer(actor: Actor, ticket: Ticket) -> None:
        if actor.participant != ticket.customer:
            raise NotAllowed(f"{actor.participant.key} does not own #{ticket.number}")

    @staticmethod
    def _take(ticket: Ticket, actor: Actor, now: datetime) -> None:
        """The first agent to answer a New ticket accepts it and becomes its assignee."""
        if ticket.status is Status.NEW:
            ticket.move(Status.ACCEPTED, now, actor.name)
        if ticket.assignee is None:
            ticket.assign(actor)

    async def _publish(self, uow: UnitOfWork, ticket: Ticket, events: list[Event]) -> None:
        now = self._clock.now()
        for event in events:
            for notification in self._announcer.notifications(event, ticket, now):
                await uow.outbox.add(notification)


def _n(ticket: Ticket) -> int:
    if ticket.number is None:
        raise InvalidInput("ticket has no number yet")
    return ticket.number


def _changed(
    number: int,
    old: Status,
    ticket: Ticket,
    actor: Actor,
    text: str,
    reason: DeclineReason | None = None,
    by_customer: bool = False,
) -> StatusChanged:
    return StatusChanged(
        number=number,
        old=old,
        new=ticket.status,
        by_name=actor.name,
        text=text,
        decline_reason=reason,
        by_customer=by_customer,
    )
