"""The assembled desk (``build_app``) delivering through a channel's notifier."""

from __future__ import annotations

import tomllib
from pathlib import Path

from bot.app import build_app
from bot.commands import ClaimTicket, TicketDraft
from bot.customer import Customer
from bot.notification import Notification
from bot.participant import Actor, Participant, Role
from bot.policy import EXAMPLE_POLICY, parse_policy
from bot.ports import RecipientUnreachable
from bot.settings import Settings

ALICE = Participant("chat", "100")
EVA = Actor(Participant("chat", "900"), "eva", Role.AGENT, frozenset({"technical"}))


class BlockedCustomer:
    """A channel where the customer blocked the bot; the team chat still works."""

    channel = "chat"

    def __init__(self) -> None:
        self.team: list[str] = []

    async def deliver(self, notification: Notification) -> None:
        if notification.recipient == ALICE.external_id:
            raise RecipientUnreachable("Forbidden: bot was blocked by the user")
        self.team.append(notification.key)


async def test_a_customer_who_blocked_the_bot_is_reported_once_and_cleared_on_contact(
    tmp_path: Path,
) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}",
        _env_file=None,  # type: ignore[call-arg]
    )
    with EXAMPLE_POLICY.open("rb") as fh:
        raw = tomllib.load(fh)
    raw["departments"]["technical"]["team_channels"] = {"chat": "team-tech"}
    app = await build_app(settings, policy=parse_policy(raw))
    try:
        notifier = BlockedCustomer()
        app.relay.register(notifier)
        await app.desk.customer(ALICE, name="Alice")
        [ticket] = await app.tickets.open_tickets(
            Customer(ALICE, "Alice"),
            (TicketDraft(category="bug", title="Broken", description="It is broken."),),
            "chat",
        )
        assert ticket.number is not None
        await app.tickets.execute(EVA, ClaimTicket(number=ticket.number))
        await app.relay.drain()
        await app.relay.drain()
        assert notifier.team.count("team.customer_unreachable") == 1
        async with app.uow() as uow:
            stored = await uow.customers.get(ALICE)
        assert stored is not None and stored.unreachable
        await app.desk.customer(ALICE, name="Alice")  # they write to us again
        async with app.uow() as uow:
            again = await uow.customers.get(ALICE)
        assert again is not None and not again.unreachable
    finally:
        await app.close()
