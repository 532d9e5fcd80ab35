"""SQL repositories of accounts and customer profiles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.account import Account
from bot.customer import Customer, Profile
from bot.errors import ConcurrentUpdate
from bot.participant import Participant
from bot.ticket import Status
from store.driver import Prepared
from store.models import AccountRow, CustomerRow, HeldMessageRow, TicketRow
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
        rows = await _GET_ACCOUNT.rows(self._session, {"support_number": support_number})
        found = _account(rows[0]) if rows else None
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
            "direct": account.direct,
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


# One statement for what every step of a conversation starts with, built once (the
# participant's key comes as a parameter), on the tables: the ORM's entity loading
# cost as much again as the query (measured: ~300 vs ~170 us per read on SQLite).
_CUSTOMERS = cast(Table, CustomerRow.__table__)
_ACCOUNTS = cast(Table, AccountRow.__table__)
_PROFILE = (
    select(
        *_CUSTOMERS.c,
        *(column.label(f"account_{column.name}") for column in _ACCOUNTS.c),
        exists()
        .where(
            TicketRow.customer_platform == _CUSTOMERS.c.platform,
            TicketRow.customer_id == _CUSTOMERS.c.external_id,
            TicketRow.status == Status.WAITING.value,
        )
        .correlate(_CUSTOMERS)
        .label("awaited"),
        exists()
        .where(HeldMessageRow.customer_key == _CUSTOMERS.c.key)
        .correlate(_CUSTOMERS)
        .label("held"),
    )
    .select_from(_CUSTOMERS)
    .outerjoin(_ACCOUNTS, _ACCOUNTS.c.support_number == _CUSTOMERS.c.support_number)
    .where(_CUSTOMERS.c.key == bindparam("key"))
)
# On PostgreSQL the read holds the customer's row for the rest of the unit: one
# customer's updates in a fleet of workers are serialised by it, in the transaction
# that reads the state anyway (no lock service, no extra round trip). Waiting for the
# lock, PostgreSQL reads the row as the holder committed it.
_PROFILE_LOCKED = _PROFILE.with_for_update(of=_CUSTOMERS)
_READ_PROFILE = Prepared(_PROFILE)
_READ_PROFILE_LOCKED = Prepared(_PROFILE_LOCKED)


def _saving_profile(insert: Any) -> Prepared:
    saved = insert(_CUSTOMERS)
    return Prepared(
        saved.on_conflict_do_update(
            index_elements=["key"],
            set_={c.name: saved.excluded[c.name] for c in _CUSTOMERS.c if c.name != "key"},
        )
    )


_SAVE_PROFILE = {"postgresql": _saving_profile(postgresql.insert)}
_SAVE_PROFILE_SQLITE = _saving_profile(sqlite.insert)
_ADD_CUSTOMER = Prepared(insert(_CUSTOMERS))
_GET_ACCOUNT = Prepared(
    select(_ACCOUNTS).where(_ACCOUNTS.c.support_number == bindparam("support_number"))
)


class SqlCustomerRepository:
    """``bot.ports.CustomerRepository`` on the unit of work's session."""

    def __init__(self, session: AsyncSession, accounts: dict[str, Account | None]) -> None:
        self._session = session
        self._accounts = accounts  # the unit's identity map (SqlAccountRepository)
        # A profile ``put`` keeps for the unit's next statement: the inbox row then
        # writes both in one statement on PostgreSQL (``SqlInbox.record``).
        self._pending: dict[str, Any] | None = None

    def take_pending(self) -> dict[str, Any] | None:
        """The profile kept to write, handed to whoever writes it now."""
        pending, self._pending = self._pending, None
        return pending

    async def flush(self) -> None:
        """Write the profile kept by ``put``, if any."""
        if (pending := self.take_pending()) is not None:
            dialect = self._session.get_bind().dialect.name
            save = _SAVE_PROFILE.get(dialect, _SAVE_PROFILE_SQLITE)
            await save.execute(self._session, pending)

    def forget(self) -> None:
        """Rolled back: the kept profile is gone with the transaction."""
        self._pending = None

    async def get(self, participant: Participant) -> Customer | None:
        await self.flush()
        row = await self._session.get(CustomerRow, participant.key, populate_existing=True)
        return None if row is None else _customer(row)

    async def profile(self, participant: Participant) -> Profile:
        await self.flush()
        postgres = self._session.get_bind().dialect.name == "postgresql"
        read = _READ_PROFILE_LOCKED if postgres else _READ_PROFILE
        values = next(iter(await read.rows(self._session, {"key": participant.key})), None)
        if values is None:
            return Profile(None)
        customer = _customer(values)
        account = None
        if values["account_support_number"] is not None:
            account = _account({c.name: values[f"account_{c.name}"] for c in _ACCOUNTS.c})
        waiting = values["awaited"]
        if customer.support_number:
            self._accounts[customer.support_number] = account
        return Profile(customer, account, bool(waiting), held=bool(values["held"]))

    async def put(self, customer: Customer) -> None:
        # Written before the unit's next statement, or with its inbox row.
        self._pending = _row(customer)

    async def create(self, customer: Customer) -> None:
        await self.flush()
        try:
            await _ADD_CUSTOMER.execute(self._session, _row(customer))
        except IntegrityError as exc:
            raise ConcurrentUpdate(f"customer {customer.participant.key} exists") from exc

    async def add(self, customer: Customer) -> None:
        await self.flush()
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await self._session.execute(insert(_CUSTOMERS).on_conflict_do_nothing(), _row(customer))

    async def in_conversation(self, limit: int) -> list[Participant]:
        await self.flush()
        rows = await self._session.execute(
            select(_CUSTOMERS.c.platform, _CUSTOMERS.c.external_id)
            .where(_CUSTOMERS.c.conversation.is_not(None))
            .limit(limit)
        )
        return [Participant(str(platform), str(external_id)) for platform, external_id in rows]

    async def mark_unreachable(self, participant: Participant) -> bool:
        await self.flush()
        result = await self._session.execute(
            update(_CUSTOMERS)
            .where(_CUSTOMERS.c.key == participant.key, _CUSTOMERS.c.unreachable.is_(False))
            .values(unreachable=True)
        )
        return bool(getattr(result, "rowcount", 0))


def _row(customer: Customer) -> dict[str, Any]:
    return {
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
        # A state that is not plain JSON fails here, at the step that made it.
        "conversation": customer.conversation,
    }


def _customer(row: CustomerRow | Mapping[Any, Any]) -> Customer:
    values = _values(row)
    conversation = values["conversation"]
    return Customer(
        participant=Participant(values["platform"], values["external_id"]),
        name=values["name"],
        locale=values["locale"],
        support_number=values["support_number"],
        domain=values["domain"],
        phone=values["phone"],
        current_ticket=values["current_ticket"],
        unreachable=values["unreachable"],
        conversation=dict(conversation) if conversation is not None else None,
    )


def _account(row: AccountRow | Mapping[Any, Any]) -> Account:
    values = _values(row)
    return Account(
        support_number=values["support_number"],
        domains=tuple(str(domain) for domain in values["domains"]),
        plan=values["plan"],
        valid_until=values["valid_until"],
        purchased_on=values["purchased_on"],
        organisation=values["organisation"],
        admins=tuple(str(admin) for admin in values["admins"] or ()),
        direct=bool(values["direct"]),
    )


def _values(row: CustomerRow | AccountRow | Mapping[Any, Any]) -> Mapping[Any, Any]:
    """A row's column values by name, whether the ORM or a Core query read it."""
    if isinstance(row, Mapping):
        return row
    return {column.name: getattr(row, column.key) for column in row.__table__.columns}
