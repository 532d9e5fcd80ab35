"""Messages whose delivery is in doubt: recorded on the ticket, told to its team, and
sent again when an agent asks.

A relay that stopped while sending leaves the row in doubt (``bot.relay``): it may
or may not have reached the customer, and the desk does not guess, because a
duplicate cannot be taken back. ``report_uncertain`` is the relay's ``on_uncertain``
hook; ``resend_notification`` carries out the team's "send it again" button
(choice value ``resend:<notification id>``, ``bot.announce.resend_choices``).
"""

from __future__ import annotations

import logging

from bot.announce import Announcer
from bot.commands import ResendNotification
from bot.errors import ConcurrentUpdate, NotAllowed, NotFound
from bot.events import DeliveryUncertain
from bot.notification import Audience, Notification
from bot.participant import Actor
from bot.ports import Clock, OutboxStore, UnitOfWorkFactory
from bot.reply import Reply
from bot.ticket import EntryKind, ThreadEntry

log = logging.getLogger(__name__)

# Saves of one ticket that may meet another unit of work's newer copy in a row.
TRIES = 5


def uncertain_line(notification: Notification) -> str:
    """The ticket's system line for an uncertain message. Stable, so that a report
    repeated after a crash finds the first one."""
    return f"delivery uncertain: {notification.key} ({notification.id})"


def resent_line(notification: Notification) -> str:
    return f"delivery resent: {notification.key} ({notification.id})"


async def report_uncertain(
    uow: UnitOfWorkFactory, announcer: Announcer, clock: Clock, notification: Notification
) -> None:
    """Record on its ticket that ``notification`` may not have arrived and tell the
    team with a button to send it again: the ticket's team when it was meant for the
    customer, the team chat it was meant for when it was a team's.

    A report whose line is already in the thread is not made again (the relay repeats
    a report that was cut short). A notification of no ticket is only logged.
    """
    number = notification.ticket_number
    if number is None:
        log.warning(
            "notification %s (%s to %s) may not have arrived",
            notification.id,
            notification.key,
            notification.recipient,
        )
        return
    line = uncertain_line(notification)
    for attempt in range(1, TRIES + 1):
        now = clock.now()
        async with uow() as unit:
            ticket = await unit.tickets.get(number)
            if any(e.kind is EntryKind.SYSTEM and e.text == line for e in ticket.entries):
                return
            ticket.add_entry(ThreadEntry(EntryKind.SYSTEM, line, now))
            try:
                await unit.tickets.save(ticket)
            except ConcurrentUpdate:
                if attempt == TRIES:
                    raise
                continue
            if notification.audience in (Audience.CUSTOMER, Audience.TEAM):
                team = notification.audience is Audience.TEAM
                event = DeliveryUncertain(
                    number=number,
                    notification_id=notification.id,
                    key=notification.key,
                    params=notification.params,
                    team_chat=(notification.channel, notification.recipient) if team else None,
                    at=now,
                )
                for note in announcer.notifications(event, ticket, now):
                    await unit.outbox.add(note)
            await unit.commit()
            return


async def resend_notification(
    actor: Actor,
    command: ResendNotification,
    uow: UnitOfWorkFactory,
    outbox: OutboxStore,
    clock: Clock,
) -> Reply:
    """Queue again, due at once, a message of the ticket whose delivery is uncertain,
    for an agent of the ticket's department or a lead; the resend is recorded in the
    ticket's thread.

    Answers ``team.resent``, or ``team.resend_unneeded`` when the message is no longer
    uncertain (already sent again, or delivered after all); raises ``NotAllowed`` for
    an actor who does not serve the ticket and ``NotFound`` when the message is not
    one of this ticket's.
    """
    number = command.number
    async with uow() as unit:
        ticket = await unit.tickets.get(number)
    if not actor.serves(ticket.department):
        raise NotAllowed(
            f"{actor.participant.key} does not serve {ticket.department}", number=number
        )
    item = await outbox.get(command.notification_id)
    if item is None or item.notification.ticket_number != number:
        raise NotFound(f"#{number} has no message {command.notification_id}", number=number)
    # The store's own transaction, not inside a unit of work: SQLite lets one
    # connection write at a time, and the thread line is a second, separate write.
    if not await outbox.resend(command.notification_id):
        return Reply("team.resend_unneeded", {"number": number})
    line = resent_line(item.notification)
    for attempt in range(1, TRIES + 1):
        async with uow() as unit:
            ticket = await unit.tickets.get(number)
            ticket.add_entry(
                ThreadEntry(EntryKind.SYSTEM, line, clock.now(), actor.participant, actor.name)
            )
            try:
                await unit.tickets.save(ticket)
            except ConcurrentUpdate:
                if attempt == TRIES:
                    # Queued again all the same: the line is what was lost.
                    log.warning("#%s: could not record %s", number, line)
                    break
                continue
            await unit.commit()
            break
    log.info("#%s: %s by %s", number, line, actor.participant.key)
    return Reply("team.resent", {"number": number})
