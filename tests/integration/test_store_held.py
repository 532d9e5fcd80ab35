"""Messages flood control keeps back (issue 12), on every backend: kept once per update,
in order with their files, up to the limit, found by the clock when due, and known to
the profile read that starts each of the customer's steps."""

from __future__ import annotations

from datetime import timedelta

from store_support import T0, Backend

from bot.customer import Customer
from bot.held import HeldMessage
from bot.participant import Participant
from bot.ticket import Attachment

ALICE = Participant("telegram", "501")
BOB = Participant("telegram", "502")
SHOT = Attachment("AgAC-1", "photo_1.jpg", "image/jpeg", 48_000, "telegram", "photo")


async def test_held_messages_are_kept_once_in_order_and_taken_once(backend: Backend) -> None:
    async with backend.uow() as uow:
        await uow.customers.put(Customer(ALICE, "Alice"))
        for i in range(3):
            message = HeldMessage(
                f"line {i}", T0 + timedelta(seconds=i), (SHOT,) if i == 1 else ()
            )
            assert await uow.held.hold(ALICE, f"telegram/1/m:501:{i}", message, keep=3)
        # The same update again (a redelivery): kept once.
        assert await uow.held.hold(ALICE, "telegram/1/m:501:1", HeldMessage("again", T0), keep=9)
        # As many as the limit allows: the next is not kept.
        assert not await uow.held.hold(
            ALICE, "telegram/1/m:501:9", HeldMessage("over", T0), keep=3
        )
        await uow.held.hold(BOB, "telegram/1/m:502:1", HeldMessage("bob", T0), keep=3)
        await uow.commit()

    async with backend.uow() as uow:
        assert (await uow.customers.profile(ALICE)).held
        # Oldest first: Alice's first is as old as Bob's, and both came before now.
        assert set(await uow.held.due(T0 + timedelta(seconds=1), limit=10)) == {ALICE, BOB}
        assert await uow.held.due(T0, limit=10) == []
        taken = await uow.held.take(ALICE)
        assert [(m.text, m.files, m.at) for m in taken] == [
            ("line 0", (), T0),
            ("line 1", (SHOT,), T0 + timedelta(seconds=1)),
            ("line 2", (), T0 + timedelta(seconds=2)),
        ]
        await uow.commit()

    async with backend.uow() as uow:
        assert not (await uow.customers.profile(ALICE)).held
        assert await uow.held.take(ALICE) == []
        assert [m.text for m in await uow.held.take(BOB)] == ["bob"]
