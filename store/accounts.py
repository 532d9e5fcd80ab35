"""SQL repositories of accounts and customer profiles."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.account import Account
from bot.customer import Customer
from bot.participant import Participant
from store.models import AccountRow, CustomerRow
from store.upsert import upsert


class SqlAccountRepository:
    """``bot.ports.AccountRepository`` on the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, support_number: str) -> Account | None:
        row = await self._session.get(AccountRow, support_number, populate_existing=True)
        return None if row is None else _account(row)

    async def put(self, account: Account) -> None:
        values = {
            "support_number": account.support_number,
            "domains": list(account.domains),
            "plan": account.plan,
            "valid_until": account.valid_until,
            "purchased_on": account.purchased_on,
            "organisation": account.organisation,
            "admins": list(account.admins),
        }
        await upsert(self._session, AccountRow, values, ["support_number"])

    async def all(self) -> list[Account]:
        rows = await self._session.scalars(
            select(AccountRow)
            .order_by(AccountRow.support_number)
            .execution_options(populate_existing=True)
        )
        return [_account(row) for row in rows]


class SqlCustomerRepository:
    """``bot.ports.CustomerRepository`` on the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, participant: Participant) -> Customer | None:
        row = await self._session.get(CustomerRow, participant.key, populate_existing=True)
        return None if row is None else _customer(row)

    async def with_account(
        self, participant: Participant
    ) -> tuple[Customer | None, Account | None]:
        # One statement for what every step of a conversation starts with.
        found = (
            await self._session.execute(
                select(CustomerRow, AccountRow)
                .outerjoin(AccountRow, AccountRow.support_number == CustomerRow.support_number)
                .where(CustomerRow.key == participant.key)
                .execution_options(populate_existing=True)
            )
        ).first()
        if found is None:
            return None, None
        customer, account = found
        return _customer(customer), (_account(account) if account is not None else None)

    async def put(self, customer: Customer) -> None:
        values = {
            "key": customer.participant.key,
            "platform": customer.participant.platform,
            "external_id": customer.participant.external_id,
            "name": customer.name,
            "locale": customer.locale,
            "support_number": customer.support_number,
            "domain": customer.domain,
            "phone": customer.phone,
            "current_ticket": customer.current_ticket,
            "unreachable": customer.unreachable,
            "conversation": _json_copy(customer.conversation),
        }
        await upsert(self._session, CustomerRow, values, ["key"])


def _json_copy(value: dict[str, Any] | None) -> dict[str, Any] | None:
    # A state that is not plain JSON fails here, at the step that made it, on every
    # backend alike; and the stored value cannot change under the caller.
    if value is None:
        return None
    copied: dict[str, Any] = json.loads(json.dumps(value))
    return copied


def _customer(row: CustomerRow) -> Customer:
    return Customer(
        participant=Participant(row.platform, row.external_id),
        name=row.name,
        locale=row.locale,
        support_number=row.support_number,
        domain=row.domain,
        phone=row.phone,
        current_ticket=row.current_ticket,
        unreachable=row.unreachable,
        conversation=dict(row.conversation) if row.conversation is not None else None,
    )


def _account(row: AccountRow) -> Account:
    return Account(
        support_number=row.support_number,
        domains=tuple(str(domain) for domain in row.domains),
        plan=row.plan,
        valid_until=row.valid_until,
        purchased_on=row.purchased_on,
        organisation=row.organisation,
        admins=tuple(str(admin) for admin in row.admins or ()),
    )
