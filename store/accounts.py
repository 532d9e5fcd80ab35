"""SQL repositories of accounts and customer profiles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, insert, or_, select, update
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
_READ_PROFILE = Prepared(_PROFILE)

# What a profile's version was when this unit read it: not there at all (a write then
# must create it), or not read in this unit (a write then is unconditional).
ABSENT = -1
_PROFILE_VALUES = {
    c.name: bindparam(c.name, type_=c.type) for c in _CUSTOMERS.c if c.name != "version"
}


def saving_profile(insert: Any, *, checked: bool) -> Any:
    """The profile's upsert. ``checked`` (PostgreSQL): only over the version this unit
    read (``read_version``; NULL when it read none), moving it on, and returning the
    key when it wrote; no row back means another worker wrote the profile meanwhile.
    SQLite (one writing process) writes unconditionally and keeps the version."""
    saved = insert(_CUSTOMERS).values(_PROFILE_VALUES)
    changed: dict[str, Any] = {
        c.name: saved.excluded[c.name] for c in _CUSTOMERS.c if c.name not in ("key", "version")
    }
    if not checked:
        return saved.on_conflict_do_update(index_elements=["key"], set_=changed)
    read = bindparam("read_version", type_=_CUSTOMERS.c.version.type)
    return saved.on_conflict_do_update(
        index_elements=["key"],
        set_=changed | {"version": _CUSTOMERS.c.version + 1},
        where=or_(read.is_(None), _CUSTOMERS.c.version == read),
    ).returning(_CUSTOMERS.c.key)


_SAVE_PROFILE = {"postgresql": Prepared(saving_profile(postgresql.insert, checked=True))}
_SAVE_PROFILE_SQLITE = Prepared(saving_profile(sqlite.insert, checked=False))
_ADD_CUSTOMER = Prepared(insert(_CUSTOMERS))
_GET_ACCOUNT = Prepared(
    select(_ACCOUNTS).where(_ACCOUNTS.c.support_number == bindparam("support_number"))
)


class SqlCustomerRepository:
    """``bot.ports.CustomerRepository`` on the unit of work's session.

    A profile is written back at the version the unit read (PostgreSQL): when another
    worker wrote it meanwhile the write changes nothing and raises ``ConcurrentUpdate``,
    and the gate runs the update again on the profile as it is now. A customer's
    updates reach one worker at a time (the update queue keeps each chat in order), so
    this is the rare case, paid for then, instead of a row lock on every step (a
    transaction of its own: BEGIN, the read FOR UPDATE, the write, COMMIT).
    """

    def __init__(self, session: AsyncSession, accounts: dict[str, Account | None]) -> None:
        self._session = session
        self._accounts = accounts  # the unit's identity map (SqlAccountRepository)
        # A profile ``put`` keeps for the unit's next statement: the inbox row then
        # writes both in one statement (``SqlInbox.record``).
        self._pending: dict[str, Any] | None = None
        # The version of each profile as this unit read (or wrote) it.
        self._versions: dict[str, int] = {}

    def take_pending(self) -> dict[str, Any] | None:
        """The profile kept to write, with the version it must find (``read_version``),
        handed to whoever writes it now."""
        pending, self._pending = self._pending, None
        return pending

    def written(self, key: str, wrote: int) -> None:
        """The kept profile of ``key`` was written (``wrote`` rows) by whoever took it:
        its version moved on, or another worker's write was there first."""
        read = self._versions.pop(key, None)
        if not wrote:
            raise ConcurrentUpdate(f"customer {key} was written meanwhile")
        if read is not None:
            self._versions[key] = read + 1 if read != ABSENT else 0

    async def flush(self, *, last: bool = False) -> None:
        """Write the profile kept by ``put``, if any (``last``: the unit's last write)."""
        if (pending := self.take_pending()) is not None:
            dialect = self._session.get_bind().dialect.name
            save = _SAVE_PROFILE.get(dialect)
            if save is None:
                await _SAVE_PROFILE_SQLITE.execute(self._session, _without_version(pending))
                return
            self.written(pending["key"], await save.execute(self._session, pending, last=last))

    def forget(self) -> None:
        """Rolled back: the kept profile is gone with the transaction, and what was
        read may be old by the next try."""
        self._pending = None
        self._versions.clear()

    async def get(self, participant: Participant) -> Customer | None:
        await self.flush()
        row = await self._session.get(CustomerRow, participant.key, populate_existing=True)
        self._versions[participant.key] = ABSENT if row is None else row.version
        return None if row is None else _customer(row)

    async def profile(self, participant: Participant) -> Profile:
        await self.flush()
        values = next(
            iter(await _READ_PROFILE.rows(self._session, {"key": participant.key})), None
        )
        if values is None:
            self._versions[participant.key] = ABSENT
            return Profile(None)
        self._versions[participant.key] = values["version"]
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
        key = customer.participant.key
        self._pending = _row(customer) | {"read_version": self._versions.get(key)}

    async def create(self, customer: Customer) -> None:
        await self.flush()
        try:
            await _ADD_CUSTOMER.execute(self._session, _row(customer))
        except IntegrityError as exc:
            raise ConcurrentUpdate(f"customer {customer.participant.key} exists") from exc
        self._versions[customer.participant.key] = 0

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
            # A step reading the profile before this must not write it back reachable.
            .values(unreachable=True, version=_CUSTOMERS.c.version + 1)
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


def _without_version(pending: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in pending.items() if name != "read_version"}


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
