"""SQL repositories of accounts and customer profiles."""

from __future__ import annotations

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
        if row is None:
            return None
        return Customer(
            participant=Participant(row.platform, row.external_id),
            name=row.name,
            locale=row.locale,
            support_number=row.support_number,
            domain=row.domain,
            phone=row.phone,
            current_ticket=row.current_ticket,
            unreachable=row.unreachable,
        )

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
        }
        await upsert(self._session, CustomerRow, values, ["key"])


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
