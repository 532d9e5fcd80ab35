"""Linking one customer's participants on every SQL backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store_support import Backend, make_ticket

from bot.participant import Participant

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
TG = Participant("telegram", "501")
DC = Participant("discord", "61")
OTHER = Participant("discord", "62")


async def test_a_code_links_two_participants_once(backend: Backend) -> None:
    async with backend.uow() as uow:
        await uow.people.issue(TG, "ABCD2345", NOW + timedelta(minutes=10))
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.people.redeem("WRONG", NOW) is None
        found = await uow.people.redeem("ABCD2345", NOW + timedelta(minutes=5))
        assert found == TG
        await uow.people.link(found, DC)
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.people.redeem("ABCD2345", NOW) is None  # used up
        assert await uow.people.linked(DC) == [TG]
        assert await uow.people.linked(TG) == [DC]
        assert await uow.people.linked(OTHER) == []


async def test_an_expired_code_links_nobody(backend: Backend) -> None:
    async with backend.uow() as uow:
        await uow.people.issue(TG, "EXPD2345", NOW)
        assert await uow.people.redeem("EXPD2345", NOW + timedelta(seconds=1)) is None
        await uow.commit()


async def test_linking_a_third_joins_the_group_and_lists_span_it(backend: Backend) -> None:
    async with backend.uow() as uow:
        await uow.people.link(TG, DC)
        await uow.people.link(OTHER, DC)  # DC's group joins OTHER's person
        for who in (TG, DC, OTHER, Participant("telegram", "999")):
            await uow.tickets.add(make_ticket(customer=who))
        await uow.commit()
    async with backend.uow() as uow:
        assert set(await uow.people.linked(TG)) == {DC, OTHER}
        linked = await uow.people.linked(DC)
        mine = await uow.tickets.for_customer(DC, linked=linked)
        assert {t.customer for t in mine} == {TG, DC, OTHER}
        counts = await uow.tickets.count_for_customer(DC, linked)
        assert sum(counts.values()) == 3
        assert len(await uow.tickets.for_customer(DC)) == 1
