"""Neutral views of tickets for agents and admins: the card and the full transcript."""

from __future__ import annotations

from bot.announce import ticket_params
from bot.reply import Reply, Text
from bot.ticket import Ticket

TIME = "%Y-%m-%d %H:%M"


def card(ticket: Ticket) -> Reply:
    """The ticket card agents see: who, what, where it stands."""
    return Reply(
        "view.card",
        ticket_params(ticket)
        | {
            "support_number": ticket.support_number or "—",
            "domain": ticket.domain or "—",
            "phone": ticket.phone or "—",
            "created": ticket.created_at.strftime(TIME),
            "files": len(ticket.attachments),
            "follow_up": f"#{ticket.follow_up_of}" if ticket.follow_up_of else "—",
        },
    )


def queue_line(ticket: Ticket) -> Reply:
    return Reply("view.queue_line", ticket_params(ticket))


def transcript(ticket: Ticket) -> list[Reply]:
    """The card, the description, every thread entry and every status change."""
    out = [card(ticket), Reply("view.description", {"text": ticket.description})]
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
                    "at": entry.at.strftime(TIME),
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
                    "at": change.at.strftime(TIME),
                    "old": Text(f"status.{change.old}") if change.old else "—",
                    "new": Text(f"status.{change.new}"),
                    "by": change.by,
                    "reason": change.reason or "—",
                },
            )
        )
    return out


__all__ = ["card", "queue_line", "transcript"]
