"""Ticket services: the actions of customers, agents and moderators on tickets.

Every action loads the ticket, applies one lifecycle move through the aggregate,
records events and writes their notifications to the outbox in the same
transaction: the unit of work of the update that asked for it (``execute_in``, used
by the customer desk), or one of its own taken through the ``Gate`` (``execute``,
for an agent's or moderator's update). Authorisation is checked here, never in a
channel.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime

from bot.account import Account
from bot.announce import Announcer
from bot.commands import (
    AcceptQuote,
    AddNote,
    AnswerCustomer,
    AskCustomer,
    BlockTicket,
    ClaimTicket,
    Command,
    CommentRating,
    ConfirmResolution,
    DeclineTicket,
    DisputeResolution,
    EscalatePost,
    LinkToIncident,
    MarkSeen,
    PostIncidentUpdate,
    QuoteTicket,
    RateTicket,
    RefuseQuote,
    ResendNotification,
    ResolveTicket,
    TicketDraft,
    TransferTicket,
    UnblockTicket,
    WriteToTicket,
)
from bot.customer import Customer
from bot.errors import (
    ConcurrentUpdate,
    DeskError,
    DuplicateEscalation,
    DuplicateUpdate,
    EscalationNotCovered,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
)
from bot.events import (
    AgentAnswered,
    AgentAsked,
    CustomerWrote,
    Event,
    IncidentLinked,
    IncidentUpdated,
    NoteAdded,
    QuoteDecided,
    QuoteOffered,
    StatusChanged,
    TeamAlerted,
    TicketClaimed,
    TicketOpened,
    TicketRated,
    TicketTransferred,
)
from bot.files import check_attachment, megabytes, refusal
from bot.gate import TRIES, Gate, MemoryLocks
from bot.incident import Incident, IncidentStatus
from bot.inputs import UpdateRef
from bot.knowledge.ticket_search import FIND_RESULTS
from bot.knowledge.ticket_search import find as find_tickets
from bot.paging import Page
from bot.participant import Actor, Participant, Role
from bot.policy import DeskPolicy
from bot.ports import Clock, OutboxStore, UnitOfWork, UnitOfWorkFactory
from bot.quota import QUOTA_LEFT, QuotaStatus
from bot.reactions import Signal
from bot.reply import Reply, Text
from bot.resend import resend_notification
from bot.schedule import Schedule
from bot.sla import critical_alert
from bot.ticket import (
    AGENT_DECLINE_REASONS,
    OPEN_STATUSES,
    DeclineReason,
    EntryKind,
    Origin,
    Status,
    ThreadEntry,
    Ticket,
)
from bot.views import transcript

log = logging.getLogger(__name__)


TITLE_LIMIT = 120
# One message in a thread; longer text belongs in a file.
MESSAGE_LIMIT = 8000


class TicketClosed(DeskError):
    """Closed tickets are read-only; the customer is offered a follow-up."""

    key = "notice.closed_read_only"


class TooLong(DeskError):
    key = "error.too_long"


def _check_length(text: str) -> None:
    if len(text) > MESSAGE_LIMIT:
        raise TooLong(f"{len(text)} characters", length=len(text), max=MESSAGE_LIMIT)


class FileRefused(DeskError):
    """A file of a type or size the desk does not take (``bot.files``)."""

    key = "files.refused"


def _require(ticket: Ticket, status: Status) -> None:
    """Buttons may be old: an action meant for one status does nothing in another."""
    if ticket.status is not status:
        raise InvalidTransition(
            f"#{ticket.number} is {ticket.status}, not {status}", number=ticket.number
        )


class QuotaExceeded(DeskError):
    """The account's monthly ticket quota is used up (sales is still open)."""

    key = "sla.quota_exceeded"


class QuotaTooSmall(DeskError):
    """Fewer tickets left this month than a split description would file."""

    key = "desk.quota_split"


class OnceUsed(DeskError):
    """A once-per-account request (e.g. a free installation) the account has filed
    already."""

    key = "intake.once_used"


class QuoteNotOpen(DeskError):
    """A quote goes only to a request still being worked on (not Resolved, Blocked,
    Closed or Declined)."""

    key = "error.quote_not_open"


class QuotePending(DeskError):
    """A paid modification is not resolved before the customer accepts the quote."""

    key = "error.quote_pending"


def _no_pending_quote(ticket: Ticket) -> None:
    """While a quote waits for the customer's consent nothing moves the ticket on but
    their decision (or declining it)."""
    if ticket.status is Status.AWAITING_APPROVAL:
        raise QuotePending(f"#{ticket.number} has a quote waiting", number=ticket.number)


class TicketService:
    """Agents', customers' and moderators' actions on tickets."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        policy: DeskPolicy,
        clock: Clock,
        announcer: Announcer | None = None,
        schedule: Schedule | None = None,
        gate: Gate | None = None,
        outbox: OutboxStore | None = None,
    ) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock
        self._announcer = announcer or Announcer(policy)
        self.schedule = schedule or Schedule(policy)
        self.gate = gate or Gate(uow, MemoryLocks(), clock)
        self._outbox = outbox

    # -- reading -----------------------------------------------------------------------

    def now(self) -> datetime:
        """The desk's clock (a channel's views of "how long ago" use it)."""
        return self._clock.now()

    async def get(self, number: int) -> Ticket:
        async with self._uow(read_only=True) as uow:
            return await uow.tickets.get(number)

    async def get_many(self, numbers: Collection[int]) -> dict[int, Ticket]:
        """The tickets of these numbers that exist, by number, read together."""
        async with self._uow(read_only=True) as uow:
            found = await uow.tickets.get_many(numbers)
        return {ticket.number: ticket for ticket in found if ticket.number is not None}

    # -- one person across platforms --------------------------------------------------

    async def as_person(self, actor: Actor, uow: UnitOfWork | None = None) -> Actor:
        """The agent ``actor`` with the participants linked to theirs (``/link``): a
        lead listed in the policy under any of them is a lead on every platform, and a
        ticket any of them holds is theirs. Rights a platform's roles give (a Discord
        lead role) stay on that platform."""
        if actor.role is not Role.AGENT:
            return actor
        if uow is None:
            async with self._uow() as own:
                linked = await own.people.linked(actor.participant)
        else:
            linked = await uow.people.linked(actor.participant)
        if not linked:
            return actor
        lead = actor.lead or any(p.key in self._policy.leads for p in linked)
        return replace(actor, lead=lead, linked=frozenset(linked))

    async def is_moderator(self, who: Participant) -> bool:
        """Whether the policy lists ``who``, or a participant linked to them, as a
        moderator or a lead (who may moderate too)."""
        staff = self._policy.moderators | self._policy.leads
        if who.key in staff:
            return True
        async with self._uow() as uow:
            return any(p.key in staff for p in await uow.people.linked(who))

    async def transcript(self, number: int, actor: Actor | None = None) -> list[Reply]:
        """The whole ticket, internal notes included, SLA state as of now: for agents of
        its department and leads (``actor``), or for admins on the command line (None)."""
        ticket = await self.get(number)
        if actor is not None:
            self._authorise_agent(await self.as_person(actor), ticket)
        clock = self.schedule.clock(ticket, self._clock.now())
        tz = self.schedule.timezone(ticket.department)
        return transcript(ticket, clock, tz, self._policy.quote_currency)

    async def find(self, actor: Actor, words: str, limit: int = FIND_RESULTS) -> list[Ticket]:
        """``/find WORDS``: the actor's departments' tickets that best match (every
        department for a lead), best first."""
        async with self._uow() as uow:
            actor = await self.as_person(actor, uow)
            numbers = await find_tickets(
                uow, words, self._policy.languages, self._queue_of(actor), limit
            )
            found = [await uow.tickets.get(n) for n in numbers]
            await uow.commit()  # the index caught up
        return found

    async def queue(
        self,
        actor: Actor,
        statuses: frozenset[Status] = OPEN_STATUSES,
        *,
        page: Page | None = None,
    ) -> list[Ticket]:
        """The tickets an agent may work on: highest priority first, then the one due
        soonest (the stored sort key, ``Schedule.refresh``); one ``page`` of them."""
        async with self._uow() as uow:
            actor = await self.as_person(actor, uow)
            return await uow.tickets.queue(self._queue_of(actor), statuses, page=page)

    async def queue_counts(self, actor: Actor) -> dict[Status, int]:
        """The agent's queue: how many open tickets in each status."""
        async with self._uow() as uow:
            actor = await self.as_person(actor, uow)
            return await uow.tickets.count_queue(self._queue_of(actor))

    def _queue_of(self, actor: Actor) -> frozenset[str] | None:
        """The departments whose queue the agent sees (None: every one, for a lead)."""
        if actor.role is not Role.AGENT:
            raise NotAllowed("only agents have a queue")
        return None if actor.lead else actor.departments

    async def fill_queue_due(self, batch: int = 500) -> int:
        """Give open tickets filed before the queue stored its sort key (migration 0008)
        their due time; how many. Run at start-up by every worker; a no-op once done."""
        filled = clashes = 0
        while True:
            try:
                async with self._uow() as uow:
                    tickets = await uow.tickets.without_queue_due(batch)
                    now = self._clock.now()
                    for ticket in tickets:
                        ticket.queue_due = self.schedule.queue_due(ticket, now)
                        await uow.tickets.save(ticket)
                    await uow.commit()
            except ConcurrentUpdate:
                # Another worker starting at the same moment (or an update) changed one
                # of them: the batch again, on fresh copies (those done are left out).
                clashes += 1
                if clashes > TRIES:
                    log.warning("open tickets keep changing; the queue keys wait a restart")
                    return filled
                continue
            filled += len(tickets)
            if len(tickets) < batch:
                return filled

    async def react(
        self, actor: Actor, number: int, emoji: Sequence[str], *, update: UpdateRef | None = None
    ) -> bool:
        """An agent reacted with ``emoji`` to a customer's message of ticket ``number``:
        what the policy says that means (``bot.reactions``); whether it meant anything."""
        if self._policy.reactions.agent_signal(emoji) is not Signal.SEEN:
            return False
        with contextlib.suppress(DuplicateUpdate):  # marked when it first came
            await self.execute(actor, MarkSeen(number=number), update=update)
        return True

    async def resend(self, actor: Actor, command: ResendNotification) -> Reply:
        """An agent sends again a message whose delivery a crash left uncertain."""
        if self._outbox is None:
            raise InvalidInput("this desk has no outbox to resend from")
        return await resend_notification(actor, command, self._uow, self._outbox, self._clock)

    # -- filing --------------------------------------------------------------------------

    async def open_tickets(
        self,
        customer: Customer,
        drafts: tuple[TicketDraft, ...],
        channel: str,
        *,
        uow: UnitOfWork | None = None,
    ) -> list[Ticket]:
        """File one ticket per draft for ``customer`` (intake's final step), in ``uow``
        (not committed) or in a unit of its own.

        Refused as a whole with ``QuotaExceeded`` when the account's monthly quota
        cannot take them all; the sales department is never refused.
        """
        if uow is None:
            return await self.gate.run(
                customer.participant,
                None,
                lambda unit: self.open_tickets(customer, drafts, channel, uow=unit),
            )
        now = self._clock.now()
        opened: list[Ticket] = []
        await self._take_quota(uow, drafts, now)
        await self._take_once(uow, drafts)
        for draft in drafts:
            category = self._policy.category(draft.category)
            department = draft.department or category.department
            self._policy.department(department)
            account = (
                await uow.accounts.get(draft.support_number) if draft.support_number else None
            )
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
                paid=draft.paid,
            )
            ticket.record_filed(now, customer.name or customer.participant.key)
            incident = await self._open_incident(uow, draft.incident)
            if incident is not None:
                ticket.add_entry(
                    ThreadEntry(
                        EntryKind.SYSTEM, f"incident #{incident.id}: {incident.title}", now
                    )
                )
            self.schedule.file(ticket, account, now)
            await uow.tickets.add(ticket)
            if incident is not None and incident.id is not None:
                await uow.incidents.link(incident.id, _n(ticket))
            await self._publish(
                uow, ticket, self._opened_events(ticket, now), locale=customer.locale
            )
            opened.append(ticket)
        return opened

    @staticmethod
    async def _open_incident(uow: UnitOfWork, incident_id: int | None) -> Incident | None:
        """The open incident a customer joined at intake; None when there is none (or it
        was resolved meanwhile: the ticket is then an ordinary one)."""
        if incident_id is None:
            return None
        incident = await uow.incidents.get(incident_id)
        if incident is None or incident.status is not IncidentStatus.OPEN:
            return None
        return incident

    async def _take_quota(
        self, uow: UnitOfWork, drafts: tuple[TicketDraft, ...], now: datetime
    ) -> None:
        """Count the drafts against their accounts' monthly quotas, atomically (two
        filings at once cannot both take the last ticket), or refuse them all."""
        counted: dict[str, int] = {}
        for draft in drafts:
            department = draft.department or self._policy.route(draft.category)
            counts = self._policy.counts_toward_quota(department, draft.category, draft.paid)
            if draft.support_number and counts:
                counted[draft.support_number] = counted.get(draft.support_number, 0) + 1
        for number, wanted in counted.items():
            account = await uow.accounts.get(number)
            if account is None:
                continue
            limit = self.schedule.quota(account, 0).limit
            if limit is None:
                continue
            since, _ = self.schedule.month(now)
            # One statement in the usual case: the month's counter exists and has room.
            if await uow.quota.take(number, since, wanted, limit, start=None) is not None:
                continue
            used = await uow.quota.used(number, since)
            # No counter when we tried: start it from the month's tickets. A counter
            # that another filing started meanwhile is simply tried again.
            start = await self._quota_used(uow, number, now) if used is None else None
            if await uow.quota.take(number, since, wanted, limit, start=start) is not None:
                continue
            used = await uow.quota.used(number, since) or 0
            status = self.schedule.quota(account, used)
            if status.left is not None and status.left > 0:
                # Some are left, just not enough for every part of a split description.
                raise QuotaTooSmall(
                    f"{number}: {status.left} left, {wanted} wanted",
                    quota=Text(QUOTA_LEFT, {"left": status.left, "limit": status.limit}),
                    wanted=wanted,
                )
            reply = self.schedule.quota_reply(status, now)
            raise QuotaExceeded(f"{number}: {used} used", **(reply.params if reply else {}))

    async def _take_once(self, uow: UnitOfWork, drafts: tuple[TicketDraft, ...]) -> None:
        """A once-per-account category (a free installation) is used up by its first
        filing, atomically: of two filings at once for one account, one is refused."""
        for draft in drafts:
            category = self._policy.category(draft.category)
            if not category.once_per_account:
                continue
            if not draft.support_number or not await uow.quota.take_once(
                draft.support_number, category.key
            ):
                raise OnceUsed(
                    f"{draft.support_number}: {category.key} used",
                    category=Text(f"category.{category.key}"),
                )

    async def quota_status(
        self, account: Account, *, uow: UnitOfWork
    ) -> tuple[QuotaStatus, Reply | None]:
        """The account's monthly quota now, and what to tell the customer about it (what
        is left, or that it is used up and when it renews)."""
        now = self._clock.now()
        if self.schedule.quota(account, 0).limit is None:
            return self.schedule.quota(account, 0), None
        status = self.schedule.quota(
            account, await self._quota_used(uow, account.support_number, now)
        )
        return status, self.schedule.quota_reply(status, now)

    async def used_once(self, account: Account, *, uow: UnitOfWork) -> frozenset[str]:
        """The once-per-account categories ``account`` has used (asked only about those
        its plan may file: most accounts cost no query)."""
        once = [
            c.key
            for c in self._policy.categories.values()
            if c.once_per_account and c.offered_to(account.plan)
        ]
        return await uow.quota.used_once(account.support_number, once) if once else frozenset()

    async def _quota_used(self, uow: UnitOfWork, support_number: str, now: datetime) -> int:
        """Tickets counted this month; before the month's first, counted from the
        tickets themselves (so a counter starts right for accounts filing already)."""
        since, until = self.schedule.month(now)
        used = await uow.quota.used(support_number, since)
        if used is None:
            used = await uow.tickets.count_opened(
                support_number, since, until, exclude_department=self._policy.sales_department
            )
        return used

    async def quota_left(
        self, support_number: str, *, uow: UnitOfWork | None = None
    ) -> Reply | None:
        """How many tickets the account may still file this month (None: no quota)."""
        if uow is None:
            async with self._uow() as unit:
                return await self.quota_left(support_number, uow=unit)
        account = await uow.accounts.get(support_number)
        if account is None:
            return None
        if self.schedule.quota(account, 0).limit is None:
            return None
        used = await self._quota_used(uow, support_number, self._clock.now())
        status = self.schedule.quota(account, used)
        if status.limit is None or status.left is None:
            return None
        return Reply(QUOTA_LEFT, {"left": status.left, "limit": status.limit})

    def _opened_events(self, ticket: Ticket, now: datetime) -> list[Event]:
        events: list[Event] = [TicketOpened(number=_n(ticket), at=now)]
        if ticket.off_hours:
            alert = critical_alert(_n(ticket), now, self.schedule.timezone(ticket.department))
            events.append(TeamAlerted(number=_n(ticket), key=alert.key, params=alert.params))
        return events

    async def escalate(
        self, actor: Actor, command: EscalatePost, *, update: UpdateRef | None = None
    ) -> Ticket:
        """A moderator turns a community post into a ticket for its author."""
        return await self.gate.run(
            actor.participant, update, lambda uow: self._escalate(uow, actor, command)
        )

    async def _escalate(self, uow: UnitOfWork, actor: Actor, command: EscalatePost) -> Ticket:
        if actor.role is not Role.MODERATOR:
            raise NotAllowed("only moderators escalate posts")
        text = command.text.strip()
        if not text and not command.attachments:
            raise InvalidInput("the post is empty")
        department = command.department or self._escalation_department()
        if department not in self._policy.departments:
            raise InvalidInput(f"unknown department {department!r}", department=department)
        now = self._clock.now()
        author = Participant(command.author_platform, command.author_id)
        existing = await uow.tickets.by_post(command.post_ref)
        if existing is not None:
            raise DuplicateEscalation(command.post_ref, number=existing.number)
        profile = await uow.customers.get(author)
        number = profile.support_number if profile is not None else ""
        account = self.schedule.entitled_account(
            await uow.accounts.get(number) if number else None
        )
        asked = department
        department = self._covered_department(account, department, now)
        # A moderator's post is an ordinary problem until an agent says otherwise.
        candidates = [c for c in self._policy.categories.values() if c.department == department]
        if not candidates:
            raise InvalidInput(f"department {department!r} has no category", department=department)
        category = next((c for c in candidates if c.listed and not c.critical), candidates[0])
        title = (text.splitlines()[0] if text else command.post_link)[:80] or "—"
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
        )
        ticket.record_filed(now, actor.name)
        why = "" if department == asked else f" to {department}: the plan does not cover {asked}"
        ticket.add_entry(
            ThreadEntry(
                EntryKind.SYSTEM, f"escalated by {actor.name}{why}", now, actor.participant
            )
        )
        self.schedule.file(ticket, account, now)
        await uow.tickets.add(ticket)
        if profile is None:
            # Unless the author's first message is being handled at this moment.
            await uow.customers.add(
                Customer(author, name=command.author_name, locale=command.locale)
            )
        events = self._opened_events(ticket, now)
        not_covered = asked if department != asked else None
        events[0] = TicketOpened(
            number=_n(ticket), escalated=True, not_covered=not_covered, at=now
        )
        await self._publish(uow, ticket, events)
        return ticket

    def _covered_department(self, account: Account | None, wanted: str, now: datetime) -> str:
        """Where an escalated post of an author with ``account`` may be filed: ``wanted``
        when their plan (the default plan without valid support) covers it, else the
        sales department or the first department the plan does cover, as at intake; a
        plan that covers none is refused."""
        valid = account if account is not None and account.is_valid_on(now.date()) else None
        plan = self.schedule.plan(valid)
        if wanted in plan.departments:
            return wanted
        covered = [d for d in self._policy.departments if d in plan.departments]
        if not covered:
            raise EscalationNotCovered(
                f"plan {plan.key} covers no department", plan=Text(f"plan.{plan.key}")
            )
        sales = self._policy.sales_department
        return sales if sales in covered else covered[0]

    def _escalation_department(self) -> str:
        wanted = self._policy.raw.get("desk", {}).get("escalation_department")
        return str(wanted) if wanted else next(iter(self._policy.departments))

    # -- actions on a ticket --------------------------------------------------------------

    async def execute(
        self, actor: Actor, command: Command, *, update: UpdateRef | None = None
    ) -> Ticket:
        """Carry out an agent's or a customer's command on one ticket, as the update
        ``update`` (once; one update of the actor at a time; retried on a newer copy
        of the ticket when another update changed it meanwhile)."""
        number = getattr(command, "number", None)
        return await self.gate.run(
            actor.participant,
            update,
            lambda uow: self.execute_in(uow, actor, command),
            ticket=number if isinstance(number, int) else None,
        )

    async def execute_in(
        self, uow: UnitOfWork, actor: Actor, command: Command, *, locale: str | None = None
    ) -> Ticket:
        """``execute`` inside the caller's unit of work, which commits it; ``locale`` is
        the customer's language when the caller knows it already."""
        number = getattr(command, "number", None)
        if not isinstance(number, int):
            raise InvalidInput(f"{type(command).__name__} names no ticket")
        ticket = await uow.tickets.get(number)
        if actor.role is Role.AGENT and not actor.linked:
            actor = await self.as_person(actor, uow)
        events = self._apply(actor, ticket, command)
        now = self._clock.now()
        if (
            actor.role is Role.AGENT
            and ticket.first_response_at is None
            and any(
                isinstance(e, AgentAnswered | AgentAsked | StatusChanged | QuoteOffered)
                for e in events
            )
        ):
            ticket.first_response_at = now
        self.schedule.refresh(ticket, now)
        await uow.tickets.save(ticket)
        await self._publish(uow, ticket, events, locale=locale)
        log.info("ticket #%s: %s by %s", number, type(command).__name__, actor.participant.key)
        return ticket

    def _apply(self, actor: Actor, ticket: Ticket, command: Command) -> list[Event]:
        now = self._clock.now()
        _check_length(str(getattr(command, "text", "")))
        n = _n(ticket)
        match command:
            case (
                WriteToTicket()
                | ConfirmResolution()
                | DisputeResolution()
                | AcceptQuote()
                | RefuseQuote()
                | RateTicket()
                | CommentRating()
            ):
                self._authorise_customer(actor, ticket)
            case _:
                self._authorise_agent(actor, ticket)
        match command:
            case ClaimTicket():
                if not ticket.is_open:
                    raise InvalidTransition(f"#{n} is {ticket.status}", number=n)
                if ticket.status is Status.NEW:
                    ticket.move(Status.ACCEPTED, now, actor.name)
                elif actor.is_(ticket.assignee):
                    # Pressed twice, or on another platform by the same person: already
                    # theirs, nobody needs telling again.
                    return []
                ticket.assign(actor)
                return [TicketClaimed(number=n, agent_name=actor.name, at=now)]
            case AnswerCustomer(text=text, attachments=files):
                if not ticket.is_open:
                    raise TicketClosed(f"#{n} is {ticket.status}", number=n)
                self._take(ticket, actor, now)
                ticket.add_entry(
                    ThreadEntry(EntryKind.AGENT, text, now, actor.participant, actor.name, files)
                )
                # A file larger than the customer's channel lets the bot send reaches
                # them as a notice (and a link, where the store makes links): the
                # agent is told.
                reach = ticket.customer.platform
                limit = self._policy.files.sendable(reach)
                over = [a for a in files if a.platform != reach and a.size > limit]
                return [
                    AgentAnswered(
                        number=n,
                        agent_name=actor.name,
                        text=text,
                        files=len(files),
                        entry=len(ticket.entries) - 1,
                        too_large=", ".join(f"«{a.file_name}»" for a in over),
                        limit_mb=megabytes(limit) if over else 0,
                        channel=reach if over else "",
                    )
                ]
            case AskCustomer(text=text):
                _no_pending_quote(ticket)
                if ticket.status is Status.WAITING:
                    # A new question restarts the reminder and auto-close timers.
                    ticket.ask_again(now, actor.name, text)
                else:
                    ticket.move(Status.WAITING, now, actor.name, text)
                self._take(ticket, actor, now)
                ticket.add_entry(
                    ThreadEntry(EntryKind.AGENT, text, now, actor.participant, actor.name)
                )
                return [AgentAsked(number=n, agent_name=actor.name, text=text, at=now)]
            case ResolveTicket(text=text):
                _no_pending_quote(ticket)
                old = ticket.status
                ticket.move(Status.RESOLVED, now, actor.name, text)
                self._take(ticket, actor, now)
                if text:
                    ticket.add_entry(
                        ThreadEntry(EntryKind.AGENT, text, now, actor.participant, actor.name)
                    )
                return [_changed(n, old, ticket, actor, text)]
            case DeclineTicket(reason=reason, text=text):
                if reason not in AGENT_DECLINE_REASONS:
                    raise InvalidInput(f"{reason} is the customer's, not an agent's reason")
                old = ticket.status
                ticket.move(Status.DECLINED, now, actor.name, reason.value)
                ticket.decline_reason = reason
                if text:
                    ticket.add_entry(
                        ThreadEntry(EntryKind.AGENT, text, now, actor.participant, actor.name)
                    )
                return [_changed(n, old, ticket, actor, text, reason=reason)]
            case BlockTicket(text=text):
                _no_pending_quote(ticket)
                old = ticket.status
                ticket.move(Status.BLOCKED, now, actor.name, text)
                return [_changed(n, old, ticket, actor, text)]
            case UnblockTicket(text=text):
                old = ticket.status
                _require(ticket, Status.BLOCKED)
                held = ticket.held_entries()
                ticket.move(Status.ACCEPTED, now, actor.name, text)
                # What the customer wrote meanwhile reaches the team now, in order.
                passed: list[Event] = [
                    CustomerWrote(number=n, text=e.text, files=len(e.attachments), entry=i, at=now)
                    for i, e in held
                ]
                return [_changed(n, old, ticket, actor, text, held=len(held)), *passed]
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
            case QuoteTicket(price=price, note=note):
                waiting = ticket.status is Status.AWAITING_APPROVAL
                if not waiting and not ticket.can_move(Status.AWAITING_APPROVAL):
                    raise QuoteNotOpen(
                        f"#{n} is {ticket.status}",
                        number=n,
                        status=Text(f"status.{ticket.status.value}"),
                    )
                if ticket.status is Status.NEW:
                    self._take(ticket, actor, now)
                elif ticket.assignee is None:
                    ticket.assign(actor)
                ticket.offer_quote(price, note, now, actor.name)
                quote = ticket.quote
                assert quote is not None
                ticket.add_entry(
                    ThreadEntry(
                        EntryKind.SYSTEM,
                        f"quote: {quote.price}" + (f" ({quote.note})" if quote.note else ""),
                        now,
                        actor.participant,
                        actor.name,
                    )
                )
                return [
                    QuoteOffered(
                        number=n, agent_name=actor.name, price=quote.price, note=quote.note
                    )
                ]
            case AcceptQuote() | RefuseQuote():
                accepted = isinstance(command, AcceptQuote)
                ticket.decide_quote(accepted, now, actor.name, self._policy.quote_refusal)
                quote = ticket.quote
                assert quote is not None
                ticket.add_entry(
                    ThreadEntry(
                        EntryKind.SYSTEM,
                        f"quote {quote.price} {quote.state.value}",
                        now,
                        actor.participant,
                        actor.name,
                    )
                )
                return [QuoteDecided(number=n, accepted=accepted, outcome=ticket.status, at=now)]
            case MarkSeen():
                seen = ThreadEntry(EntryKind.SEEN, "", now, actor.participant, actor.name)
                last = ticket.entries[-1] if ticket.entries else None
                if last is not None and (last.kind, last.author) == (seen.kind, seen.author):
                    return []  # seen by them already: nothing new since
                ticket.add_entry(seen)
                return []
            case AddNote(text=text, attachments=files):
                ticket.add_entry(
                    ThreadEntry(EntryKind.NOTE, text, now, actor.participant, actor.name, files)
                )
                return [NoteAdded(number=n, agent_name=actor.name, text=text, at=now)]
            case WriteToTicket(text=text, attachments=files, held=held):
                if not ticket.is_open:
                    raise TicketClosed(f"#{n} is {ticket.status}", number=n)
                for attachment in files:
                    if (why := check_attachment(attachment, self._policy.files)) is not None:
                        raise FileRefused(
                            attachment.file_name,
                            name=attachment.file_name,
                            reason=refusal(why, attachment, self._policy.files),
                        )
                if ticket.status is Status.BLOCKED:
                    # A fix is being applied: nothing reaches the team now; the message
                    # is kept and passed on when the ticket is unblocked.
                    ticket.add_entry(
                        ThreadEntry(
                            EntryKind.HELD, text, now, actor.participant, actor.name, files
                        )
                    )
                    return []
                ticket.add_entry(
                    ThreadEntry(
                        EntryKind.CUSTOMER, text, now, actor.participant, actor.name, files
                    )
                )
                if ticket.status is Status.WAITING:
                    # The customer's answer hands the ticket back to the agent.
                    ticket.move(Status.ACCEPTED, now, actor.name)
                elif ticket.status is Status.RESOLVED:
                    # "Still broken" after a resolution is a dispute: the agent takes it up.
                    ticket.move(Status.ACCEPTED, now, actor.name, "written_after_resolution")
                entry = len(ticket.entries) - 1
                return [
                    CustomerWrote(
                        number=n, text=text, files=len(files), entry=entry, held=held, at=now
                    )
                ]
            case ConfirmResolution():
                old = ticket.status
                _require(ticket, Status.RESOLVED)
                ticket.move(Status.CLOSED, now, actor.name, "confirmed")
                return [_changed(n, old, ticket, actor, "", by_customer=True)]
            case LinkToIncident(incident_id=incident, title=title):
                ticket.add_entry(
                    ThreadEntry(
                        EntryKind.SYSTEM,
                        f"incident #{incident}: {title}",
                        now,
                        actor.participant,
                        actor.name,
                    )
                )
                return [IncidentLinked(number=n, incident_id=incident, title=title, at=now)]
            case PostIncidentUpdate(incident_id=incident, title=title, text=text):
                if not ticket.is_open:
                    return []  # over already: nothing more to tell its customer
                ticket.add_entry(
                    ThreadEntry(EntryKind.AGENT, text, now, actor.participant, actor.name)
                )
                return [
                    IncidentUpdated(number=n, incident_id=incident, title=title, text=text, at=now)
                ]
            case RateTicket(score=score):
                ticket.rate(score, now)
                return [TicketRated(number=n, score=score, at=now)]
            case CommentRating(text=text):
                ticket.comment_rating(text)
                assert ticket.rating is not None
                return [TicketRated(number=n, score=ticket.rating.score, comment=text, at=now)]
            case DisputeResolution(text=text):
                old = ticket.status
                _require(ticket, Status.RESOLVED)
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

    async def _publish(
        self, uow: UnitOfWork, ticket: Ticket, events: list[Event], *, locale: str | None = None
    ) -> None:
        await publish(uow, self._announcer, ticket, events, self._clock.now(), locale=locale)


async def publish(
    uow: UnitOfWork,
    announcer: Announcer,
    ticket: Ticket,
    events: list[Event],
    now: datetime,
    *,
    locale: str | None = None,
) -> None:
    """Write the events' notifications to the outbox, in the customer's current language
    (``locale``, or read from their profile when not given)."""
    if not events:
        return
    if locale is None:
        profile = await uow.customers.get(ticket.customer)
        locale = profile.locale if profile is not None else None
    for event in events:
        for notification in announcer.notifications(event, ticket, now, locale):
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
    held: int = 0,
) -> StatusChanged:
    return StatusChanged(
        number=number,
        old=old,
        new=ticket.status,
        by_name=actor.name,
        text=text,
        decline_reason=reason,
        by_customer=by_customer,
        held=held,
    )
