"""Neutral views of tickets for agents and admins: the card and the full transcript."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.announce import price_param, stars, ticket_params
from bot.paging import Page
from bot.reply import Choice, Moment, Reply, Text, Zone
from bot.sla import SlaClock, SlaState
from bot.ticket import DeclineReason, Status, Ticket

# The reasons the desk itself writes into a status history are codes, shown in the
# reader's language (``view.reason.<code>``; a decline reason as ``decline.<code>``);
# any other reason is someone's own words (an agent's question, a dispute, a price).
HISTORY_REASONS = frozenset(
    {
        "confirmed",
        "disputed",
        "not_disputed",
        "no_answer",
        "quote_unanswered",
        "quote_accepted",
        "written_after_resolution",
    }
)
# Codes stored before they were codes.
_OLD_REASONS = {"written after resolution": "written_after_resolution"}


def card(ticket: Ticket, tz: str = "UTC") -> Reply:
    """The ticket card agents see: who, what, where it stands; the filing time in ``tz``
    (the department's zone)."""
    return Reply(
        "view.card",
        ticket_params(ticket)
        | {
            "support_number": ticket.support_number or "—",
            "domain": ticket.domain or "—",
            "phone": ticket.phone or "—",
            "created": Moment(ticket.created_at, tz, "short"),
            "files": len(ticket.attachments),
            "follow_up": f"#{ticket.follow_up_of}" if ticket.follow_up_of else "—",
            "plan": Text(f"plan.{ticket.terms.plan}") if ticket.terms else "—",
        },
    )


def card_opening(ticket: Ticket) -> Reply:
    """What the customer wrote when filing: below the card where it fits."""
    return Reply(
        "view.card_opening", {"description": ticket.description, "steps": ticket.steps or "—"}
    )


def service_lines(
    ticket: Ticket, clock: SlaClock | None, tz: str, currency: str = ""
) -> list[Reply]:
    """The SLA (effective due times, pauses included, and their state; in ``tz``), the
    customer's rating and any quote (in ``currency`` unless its price names one)."""
    out: list[Reply] = []
    if ticket.terms is not None and clock is not None:
        first_state = clock.first_response.value
        if ticket.first_response_at is not None and clock.first_response is not SlaState.BREACHED:
            first_state = "met"
        # Resolved or closed in time: met; a breach stays a breach.
        done = ticket.status in (Status.RESOLVED, Status.CLOSED)
        resolution_state = clock.resolution.value
        if done and clock.resolution is not SlaState.BREACHED:
            resolution_state = "met"
        elif not ticket.is_open:
            resolution_state = "met" if clock.resolution is not SlaState.BREACHED else "breached"
        out.append(
            Reply(
                "view.sla",
                {
                    "plan": Text(f"plan.{ticket.terms.plan}"),
                    "first_due": Moment(clock.deadlines.first_response_due, tz, "short"),
                    "first_state": Text(f"view.sla_state.{first_state}"),
                    "resolution_due": Moment(clock.deadlines.resolution_due, tz, "short"),
                    "resolution_state": Text(f"view.sla_state.{resolution_state}"),
                },
            )
        )
    if ticket.rating is not None:
        rating = ticket.rating
        out.append(
            Reply(
                "rating.card",
                {
                    "stars": stars(rating.score),
                    "score": rating.score,
                    "comment": rating.comment or "—",
                },
            )
        )
    if ticket.paid:
        out.append(Reply("view.paid_request"))
    if ticket.quote is not None:
        out.append(
            Reply(
                "view.quote",
                {
                    "price": price_param(ticket.quote.price, currency),
                    "state": Text(f"view.quote_state.{ticket.quote.state.value}"),
                },
            )
        )
    return out


def queue_line(ticket: Ticket) -> Reply:
    return Reply("view.queue_line", ticket_params(ticket))


def queue_counts(counts: Mapping[Status, int]) -> Reply:
    """The queue's open tickets per status (the first page's summary)."""
    return Reply(
        "view.queue_counts",
        {
            status.value: Text(f"view.count.{status.value}", {"count": counts.get(status, 0)})
            for status in Status
            if status.is_open
        },
    )


def found_tickets(words: str, tickets: list[Ticket]) -> list[Reply]:
    """``/find WORDS``'s answer: how many matched, and a queue line each, best first."""
    if not tickets:
        return [Reply("find.nothing", {"query": words})]
    return [
        Reply("find.header", {"query": words, "count": len(tickets)}),
        *(queue_line(t) for t in tickets),
    ]


def page_footer(page: Page, total: int, value: Callable[[int], str]) -> Reply | None:
    """ "Page 2 of 5" with Previous and Next buttons (``value(n)`` opens page n); None
    when everything fits on one page."""
    pages = page.count(total)
    if pages <= 1:
        return None
    choices = [
        Choice(value(n), key, {"page": n})
        for n, key in (
            (page.number - 1, "choice.page_previous"),
            (page.number + 1, "choice.page_next"),
        )
        if 1 <= n <= pages
    ]
    return Reply("view.page", {"page": page.number, "pages": pages}, tuple(choices))


def transcript(
    ticket: Ticket, clock: SlaClock | None = None, tz: str = "UTC", currency: str = ""
) -> list[Reply]:
    """The card, service levels, the description, every thread entry and every status
    change; times in ``tz`` (the department's zone, named once by its city)."""
    out = [card(ticket, tz), *service_lines(ticket, clock, tz, currency)]
    out.append(Reply("view.times_in", {"zone": Zone(tz)}))
    out.append(Reply("view.description", {"text": ticket.description}))
    if ticket.steps:
        out.append(Reply("view.steps", {"text": ticket.steps}))
    for att in ticket.attachments:
        out.append(
            Reply(
                "view.attachment", {"name": att.file_name, "type": att.mime_type, "size": att.size}
            )
        )
    if ticket.origin.post_link:
        out.append(
            Reply(
                "view.origin_post",
                {"link": ticket.origin.post_link, "by": ticket.origin.escalated_by or "—"},
            )
        )
    out.append(Reply("view.thread_header"))
    for entry in ticket.entries:
        out.append(
            Reply(
                f"view.entry_{entry.kind.value}",
                {
                    "at": Moment(entry.at, tz, "bare"),
                    "who": entry.author_name or "—",
                    "text": entry.text,
                    "files": len(entry.attachments),
                },
            )
        )
    out.append(Reply("view.history_header"))
    for change in ticket.history:
        out.append(
            Reply(
                "view.history_line",
                {
                    "at": Moment(change.at, tz, "bare"),
                    "old": Text(f"status.{change.old}") if change.old else "—",
                    "new": Text(f"status.{change.new}"),
                    "by": change.by,
                    "reason": history_reason(change.reason),
                },
            )
        )
    return out


def history_reason(reason: str) -> Text | str:
    """A status change's reason as shown: a code the desk wrote, in words; else as
    written."""
    code = _OLD_REASONS.get(reason, reason)
    if code in {r.value for r in DeclineReason}:
        return Text(f"decline.{code}")
    if code in HISTORY_REASONS:
        return Text(f"view.reason.{code}")
    return reason or "—"


__all__ = ["card", "queue_line", "transcript"]
