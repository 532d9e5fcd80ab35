"""SQL repositories of accounts and customer profiles."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.account import Account
from bot.customer import Customer, Profile
from bot.participant import Participant
from bot.ticket import Status
from store.models import AccountRow, CustomerRow, TicketRow
from store.upsert import upsert


class SqlAccountRepository:
    """``bot.ports.AccountRepository`` on the unit of work's session.

    ``known`` is the unit's identity map of accounts: each is read once per unit (an
    update asks for the same account at several steps of filing a ticket), and kept
    current by ``put``; ``SqlCustomerRepository.profile`` fills it too.
    """

    def __init__(self, session: AsyncSession, known: dict[str, Account | None]) -> None:
        self._session = session
        self._known = known

    async def get(self, support_number: str) -> Account | None:
        if support_number in self._known:
            return self._known[support_number]
        row = await self._session.get(AccountRow, support_number, populate_existing=True)
        found = None if row is None else _account(row)
        self._known[support_number] = found
        return found

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
        self._known[account.support_number] = account

    async def all(self) -> list[Account]:
        rows = await self._session.scalars(
            select(AccountRow)
            .order_by(AccountRow.support_number)
            .execution_options(populate_existing=True)
        )
        return [_account(row) for row in rows]


# One statement for what every step of a conversation starts with; built once, the
# participant's key comes as a parameter.
_PROFILE = (
    select(
        CustomerRow,
        AccountRow,
        exists()
        .where(
            TicketRow.customer_platform == CustomerRow.platform,
            TicketRow.customer_id == CustomerRow.external_id,
            TicketRow.status == Status.WAITING.value,
        )
        .correlate(CustomerRow)
        .label("awaited"),
    )
    .outerjoin(AccountRow, AccountRow.support_number == CustomerRow.support_number)
    .where(CustomerRow.key == bindparam("key"))
    .execution_options(populate_existing=True)
)


class SqlCustomerRepository:
    """``bot.ports.CustomerRepository`` on the unit of work's session."""

    def __init__(self, session: AsyncSession, accounts: dict[str, Account | None]) -> None:
        self._session = session
        self._accounts = accounts  # the unit's identity map (SqlAccountRepository)

    async def get(self, participant: Participant) -> Customer | None:
        row = await self._session.get(CustomerRow, participant.key, populate_existing=True)
        return None if row is None else _customer(row)

    async def profile(self, participant: Participant) -> Profile:
        found = (await self._session.execute(_PROFILE, {"key": participant.key})).first()
        if found is None:
            return Profile(None)
        row, account_row, waiting = found
        customer = _customer(row)
        account = _account(account_row) if account_row is not None else None
        if customer.support_number:
            self._accounts[customer.support_number] = account
        return Profile(customer, account, bool(waiting))

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
