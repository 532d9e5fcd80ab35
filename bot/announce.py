"""Announcements: domain events become outbox notifications for customers and teams.

Messages are stored as keys and parameters and rendered at delivery, in the
recipient's language, by the channel that delivers them.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.events import (
    AgentAnswered,
    AgentAsked,
    AutoClosed,
    CustomerReminded,
    CustomerUnreachable,
    CustomerWrote,
    DeliveryUncertain,
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
from bot.files import megabytes
from bot.notification import Audience, Notification
from bot.policy import DeskPolicy
from bot.reply import Choice, Money, Text
from bot.ticket import RATING_MAX, RATING_MIN, Attachment, Status, Ticket


def ticket_params(ticket: Ticket) -> dict[str, Any]:
    """The parameters every ticket message may use."""
    return {
        "number": ticket.number,
        "title": ticket.title,
        "status": Text(f"status.{ticket.status.value}"),
        "department": Text(f"department.{ticket.department}"),
        "category": Text(f"category.{ticket.category}"),
        "priority": Text(f"priority.{ticket.priority.name.lower()}"),
        "customer": ticket.customer_name or ticket.customer.external_id,
        "assignee": ticket.assignee_name or "—",
    }


def opening_params(ticket: Ticket) -> dict[str, Any]:
    """What the team sees of a ticket that arrives in its channel."""
    return {
        "description": ticket.description,
        "steps": ticket.steps or "—",
        "support_number": ticket.support_number or "—",
        "domain": ticket.domain or "—",
        "phone": ticket.phone or "—",
        "files": len(ticket.attachments),
        "critical": ticket.critical,
    }


def quote_choices(number: int) -> tuple[Choice, ...]:
    return (
        Choice(f"quote_yes:{number}", "choice.quote_accept"),
        Choice(f"quote_no:{number}", "choice.quote_refuse"),
    )


# Choice value of the button that sends an uncertain message again (bot/resend.py).
RESEND_PREFIX = "resend"


def resend_choices(notification_id: str) -> tuple[Choice, ...]:
    return (Choice(f"{RESEND_PREFIX}:{notification_id}", "choice.resend"),)


def status_notice(event: StatusChanged) -> tuple[str, tuple[Choice, ...], dict[str, Any]]:
    """The customer's message about a status change: key, buttons, parameters."""
    new, text = event.new, event.text
    if new is Status.RESOLVED:
        return "notice.resolved", resolution_choices(event.number), {"text": text}
    if new is Status.DECLINED:
        reason = event.decline_reason
        why = Text(f"decline.{reason.value}") if reason else Text("decline.none")
        return "notice.declined", (), {"reason": why, "text": text}
    if new is Status.BLOCKED:
        return "notice.blocked", (), {"text": text}
    if new is Status.CLOSED:
        return "notice.closed", rating_choices(event.number), {}
    if event.old is Status.RESOLVED and new is Status.ACCEPTED:
        return "notice.reopened", (), {}
    if event.old is Status.BLOCKED and new is Status.ACCEPTED:
        if event.held:
            return "notice.unblocked_held", (), {"text": text, "count": event.held}
        return "notice.unblocked", (), {"text": text}
    return "notice.status", (), {"text": text}


def stars(score: int) -> str:
    """★★★★☆ for 4 of 5."""
    return "★" * score + "☆" * (RATING_MAX - score)


def rating_choices(number: int) -> tuple[Choice, ...]:
    """The 1-5 buttons under a closed ticket's notice (``rate:N:SCORE``)."""
    return tuple(
        Choice(f"rate:{number}:{score}", "rating.choice", {"stars": stars(score), "score": score})
        for score in range(RATING_MIN, RATING_MAX + 1)
    )


def resolution_choices(number: int) -> tuple[Choice, ...]:
    return (
        Choice(f"confirm:{number}", "choice.confirm_resolution"),
        Choice(f"dispute:{number}", "choice.dispute_resolution"),
    )


class Announcer:
    """Maps one event on one ticket to the notifications it causes.

    ``platforms``: the chat platforms this deployment serves. A department's team
    channels on any other platform (the example policy's terminal ones, say, on a desk
    serving Telegram) get nothing: nobody would deliver it. None: every platform.
    """

    def __init__(self, policy: DeskPolicy, platforms: Collection[str] | None = None) -> None:
        self._policy = policy
        self._platforms = frozenset(platforms) if platforms is not None else None

    def _price(self, text: str) -> Money | str:
        return price_param(text, self._policy.quote_currency)

    def _not_shown(self, ticket: Ticket, files: Collection[Attachment]) -> dict[str, Any]:
        """The files among ``files`` larger than the bot may send on a platform of the
        ticket's team channels that they must cross to (a file stays within its own
        platform by reference), as parameters (``files``, ``max_mb``, ``channel``) of
        the notice to whoever sent them; empty when every file goes everywhere."""
        dept = self._policy.department(ticket.department)
        for platform in sorted(dept.team_channels):
            if self._platforms is not None and platform not in self._platforms:
                continue
            if dept.team_chat(platform, ticket.number or 0) is None:
                continue
            limit = self._policy.files.sendable(platform)
            over = [a for a in files if a.platform and a.platform != platform and a.size > limit]
            if over:
                return {
                    "files": ", ".join(f"«{a.file_name}»" for a in over),
                    "max_mb": megabytes(limit),
                    "channel": platform.capitalize(),
                }
        return {}

    def _entry_files(self, ticket: Ticket, entry: int) -> tuple[Attachment, ...]:
        return ticket.entries[entry].attachments if 0 <= entry < len(ticket.entries) else ()

    def notifications(
        self, event: Event, ticket: Ticket, now: datetime, locale: str | None = None
    ) -> list[Notification]:
        """``locale``: the customer's language now (it may have changed since filing)."""
        language = locale or ticket.locale
        out: list[Notification] = []
        base = ticket_params(ticket)

        def customer(key: str, choices: tuple[Choice, ...] = (), **extra: Any) -> None:
            out.append(
                Notification(
                    channel=ticket.customer.platform,
                    audience=Audience.CUSTOMER,
                    recipient=ticket.customer.external_id,
                    key=key,
                    params=base | extra,
                    choices=choices,
                    locale=language,
                    ticket_number=ticket.number,
                    created_at=now,
                )
            )

        def team(
            key: str,
            department: str | None = None,
            choices: tuple[Choice, ...] = (),
            **extra: Any,
        ) -> None:
            dept = self._policy.department(department or ticket.department)
            for platform in dept.team_channels:
                if self._platforms is not None and platform not in self._platforms:
                    continue
                ref = dept.team_chat(platform, ticket.number or 0)
                if ref is None:
                    continue
                out.append(
                    Notification(
                        channel=platform,
                        audience=Audience.TEAM,
                        recipient=ref,
                        key=key,
                        params=base | extra,
                        choices=choices,
                        locale=self._policy.default_language,
                        ticket_number=ticket.number,
                        created_at=now,
                    )
                )

        match event:
            case TicketOpened(escalated=escalated, not_covered=not_covered):
                team("team.ticket_opened", **opening_params(ticket))
                if escalated:
                    customer("notice.escalated", link=ticket.origin.post_link or "")
                    if ticket.origin.post_ref:
                        # Filed elsewhere than asked: the moderator is told where and why.
                        key = "community.escalated_elsewhere" if not_covered else None
                        out.append(
                            Notification(
                                channel=ticket.origin.channel,
                                audience=Audience.COMMUNITY,
                                recipient=ticket.origin.post_ref,
                                key=key or "community.escalated",
                                params=base
                                | (
                                    {"asked": Text(f"department.{not_covered}")}
                                    if not_covered
                                    else {}
                                ),
                                # The whole group reads it, not just the author.
                                locale=self._policy.default_language,
                                ticket_number=ticket.number,
                                created_at=now,
                            )
                        )
                if shown := self._not_shown(ticket, ticket.attachments):
                    # The customer's files the team cannot be shown on another platform.
                    customer("notice.files_not_shown", **shown)
            case TicketClaimed(agent_name=agent):
                customer("notice.accepted", agent=agent)
                team("team.claimed", agent=agent)
            case AgentAnswered(agent_name=agent, text=text, files=files, entry=entry) as answered:
                customer("notice.answer", agent=agent, text=text, files=files, entry=entry)
                if answered.too_large:
                    team(
                        "team.files_too_large",
                        files=answered.too_large,
                        max_mb=answered.limit_mb,
                        channel=answered.channel.capitalize(),
                    )
            case AgentAsked(agent_name=agent, text=text):
                customer("notice.question", agent=agent, text=text)
                team("team.status", by=agent, text=text)
            case CustomerWrote(text=text, files=files, entry=entry, held=held):
                if held > 1:
                    # A flood's messages, kept back and joined: the team sees how many.
                    team(
                        "team.customer_wrote_held",
                        text=text,
                        files=files,
                        entry=entry,
                        count=held,
                    )
                else:
                    team("team.customer_wrote", text=text, files=files, entry=entry)
                if shown := self._not_shown(ticket, self._entry_files(ticket, entry)):
                    customer("notice.files_not_shown", **shown)
            case NoteAdded():
                # Internal: the note is in the thread; nobody outside the team is told.
                return out
            case TicketTransferred(old_department=old, new_department=new, by_name=by):
                customer("notice.transferred")
                team("team.transferred_out", department=old, by=by, to=Text(f"department.{new}"))
                team("team.ticket_opened", department=new, **opening_params(ticket))
                if shown := self._not_shown(ticket, ticket.attachments):
                    customer("notice.files_not_shown", **shown)
            case QuoteOffered(agent_name=agent, price=typed, note=note):
                price = self._price(typed)
                customer(
                    "notice.quote",
                    quote_choices(event.number),
                    price=price,
                    note=note,
                    agent=agent,
                )
                team("team.quote_offered", agent=agent, price=price)
            case QuoteDecided(accepted=accepted, outcome=outcome):
                if accepted:
                    key = "team.quote_accepted"
                elif outcome is Status.DECLINED:
                    key = "team.quote_refused"
                else:
                    key = "team.quote_refused_consultation"
                team(key, price=self._price(ticket.quote.price if ticket.quote else ""))
            case IncidentLinked(incident_id=incident, title=title):
                customer("incident.customer_linked", incident=incident, incident_title=title)
            case IncidentUpdated(incident_id=incident, title=title, text=text):
                customer(
                    "incident.customer_update", incident=incident, incident_title=title, text=text
                )
            case TicketRated(score=score, comment=comment):
                # The customer was answered directly; the team reads it in the thread.
                key = "rating.team_comment" if comment else "rating.team_rated"
                team(key, score=score, stars=stars(score), comment=comment)
            case CustomerUnreachable():
                team("team.customer_unreachable")
            case DeliveryUncertain(
                notification_id=notification_id, key=key, params=params, team_chat=None
            ):
                team(
                    "team.delivery_uncertain",
                    choices=resend_choices(notification_id),
                    message=Text(key, params),
                )
            case DeliveryUncertain(
                notification_id=notification_id,
                key=key,
                params=params,
                team_chat=(channel, chat),
            ):
                # Told where it may be missing (the ticket may have moved on since).
                out.append(
                    Notification(
                        channel=channel,
                        audience=Audience.TEAM,
                        recipient=chat,
                        key="team.delivery_uncertain_here",
                        params=base | {"message": Text(key, params)},
                        choices=resend_choices(notification_id),
                        locale=self._policy.default_language,
                        ticket_number=ticket.number,
                        created_at=now,
                    )
                )
            case CustomerReminded():
                quote = ticket.quote
                if ticket.status is Status.AWAITING_APPROVAL and quote is not None:
                    customer(
                        "notice.quote_reminder",
                        quote_choices(event.number),
                        price=self._price(quote.price),
                        note=quote.note,
                    )
                else:
                    customer("notice.reminder")
            case AutoClosed(reason=reason):
                customer(f"notice.auto_closed_{reason}", rating_choices(event.number))
                team("team.auto_closed")
            case TeamAlerted(key=key, params=params):
                team(key, **params)
            case StatusChanged(by_name=by, text=text):
                # A customer who made the change was answered directly.
                if not event.by_customer:
                    key, choices, extra = status_notice(event)
                    customer(key, choices, **extra)
                team("team.status", by=by, text=text)
        return out


# Currency signs agents type after (or before) a price, by ISO code.
_CURRENCY_SIGNS = {
    "kč": "CZK",
    "zł": "PLN",
    "₽": "RUB",
    "руб": "RUB",
    "руб.": "RUB",
    "€": "EUR",
    "$": "USD",
}
_PRICE = re.compile(
    r"^\s*(?P<pre>[^\d\s.,-]+)?\s*(?P<num>\d[\d\s\u00a0.,]*?)\s*(?P<post>[^\d\s.,][^\d]*)?\s*$"
)


def price_param(text: str, currency: str) -> Money | str:
    """An agent's price ("1500", "1 500 Kč", "1500 CZK", "€20") as ``Money``, shown per
    language by Babel ("1 500,00 Kč", "CZK 1,500.00"); a price without a currency is in
    ``currency`` ([quotes] currency). Anything else ("from 2000 by the hour") as typed."""
    match = _PRICE.match(text)
    if match is None:
        return text
    sign = (match["pre"] or match["post"] or "").strip()
    code = _CURRENCY_SIGNS.get(sign.lower(), sign.upper()) if sign else currency
    amount = _amount(match["num"])
    if amount is None or not re.fullmatch(r"[A-Z]{3}", code):
        return text
    return Money(amount, code)


def _amount(raw: str) -> Decimal | None:
    digits = re.sub(r"\s", "", raw).rstrip(".,")
    whole, fraction = digits, ""
    if "," in digits and "." in digits:
        point = max(digits.rfind(","), digits.rfind("."))
        whole, fraction = re.sub(r"[.,]", "", digits[:point]), digits[point + 1 :]
    elif "," in digits or "." in digits:
        parts = re.split(r"[.,]", digits)
        if len(parts) == 2 and len(parts[1]) != 3:
            whole, fraction = parts
        elif all(len(part) == 3 for part in parts[1:]):
            # "1.500" or "1,500": thousands, as people write them.
            whole = "".join(parts)
        else:
            return None
    try:
        return Decimal(f"{whole}.{fraction or '0'}")
    except InvalidOperation:
        return None
