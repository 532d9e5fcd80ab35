"""One person's identities on several platforms (``bot.ports.PersonLinks``): a
customer who uses Telegram and Discord links them with a one-time code and sees one
ticket list on both.

A row per participant that took part in a link: the person it belongs to (the key of
the group's first participant) and, while one is pending, the code it issued.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.participant import Participant
from store.models import PersonLinkRow
from store.upsert import upsert


class SqlPersonLinks:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def issue(self, who: Participant, code: str, until: datetime) -> None:
        person = await self._person(who) or who.key
        values = {"participant": who.key, "person": person, "code": code, "code_until": until}
        await upsert(self._session, PersonLinkRow, values, ["participant"])

    async def redeem(self, code: str, now: datetime) -> Participant | None:
        row = (
            await self._session.execute(
                select(PersonLinkRow.participant, PersonLinkRow.code_until)
                .where(PersonLinkRow.code == code)
                .with_for_update()
            )
        ).first()
        if row is None:
            return None
        # Used up whether it was still good or not: a code works once.
        await self._session.execute(
            update(PersonLinkRow).where(PersonLinkRow.code == code).values(code=None)
        )
        if row.code_until is None or _aware(row.code_until) < now:
            return None
        return Participant.parse(row.participant)

    async def link(self, one: Participant, other: Participant) -> None:
        person = await self._person(one) or one.key
        previous = await self._person(other)
        if previous is not None and previous != person:
            # ``other`` was linked before: its whole group joins ``one``'s.
            await self._session.execute(
                update(PersonLinkRow).where(PersonLinkRow.person == previous).values(person=person)
            )
        for who in (one, other):
            await self._session.execute(
                update(PersonLinkRow)
                .where(PersonLinkRow.participant == who.key)
                .values(person=person)
            )
            if await self._person(who) is None:
                await upsert(
                    self._session,
                    PersonLinkRow,
                    {"participant": who.key, "person": person, "code": None, "code_until": None},
                    ["participant"],
                )

    async def linked(self, who: Participant) -> list[Participant]:
        person = await self._person(who)
        if person is None:
            return []
        keys = await self._session.scalars(
            select(PersonLinkRow.participant)
            .where(PersonLinkRow.person == person, PersonLinkRow.participant != who.key)
            .order_by(PersonLinkRow.participant)
        )
        return [Participant.parse(key) for key in keys]

    async def _person(self, who: Participant) -> str | None:
        return await self._session.scalar(
            select(PersonLinkRow.person).where(PersonLinkRow.participant == who.key)
        )


def _aware(at: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were stored in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
