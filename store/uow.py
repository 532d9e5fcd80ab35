"""The SQL unit of work: one session, one transaction, repositories bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.account import Account
from bot.errors import StoreInterrupted
from bot.ports import (
    AccountRepository,
    CustomerRepository,
    HeldMessages,
    HelpArticles,
    Inbox,
    IncidentRepository,
    Outbox,
    PersonLinks,
    QuotaCounter,
    SearchIndex,
    TicketRepository,
)
from store.accounts import SqlAccountRepository, SqlCustomerRepository
from store.driver import UnitConnection, on_demand
from store.held import SqlHeldMessages
from store.inbox import SqlInbox
from store.incidents import SqlIncidentRepository
from store.outbox import SqlOutbox
from store.people import SqlPersonLinks
from store.quota import SqlQuotaCounter
from store.search import SqlHelpArticles, SqlSearchIndex
from store.tickets import SqlTicketRepository


class SqlUnitOfWork:
    """``bot.ports.UnitOfWork`` on one ``AsyncSession``.

    Leaving the ``async with`` block rolls back whatever was not committed, including
    when an exception escapes; the session is closed either way. A connection found
    dead on the way (the server restarted, a proxy dropped it) leaves as
    ``StoreInterrupted``: the pool has let it go, and the unit may simply run again.
    Connections are not pinged before use (a round trip per unit); this is how a dead
    one is noticed instead.
    """

    tickets: TicketRepository
    accounts: AccountRepository
    customers: CustomerRepository
    outbox: Outbox
    inbox: Inbox
    quota: QuotaCounter
    held: HeldMessages
    people: PersonLinks
    search: SearchIndex
    articles: HelpArticles
    incidents: IncidentRepository

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, read_only: bool = False
    ) -> None:
        # The connection is taken on entering; a session on it only if a repository
        # uses one (store/driver.py): most customer steps never do.
        self._unit = UnitConnection(sessions, read_only=read_only)
        self._session = session = on_demand(self._unit)
        self._tickets = SqlTicketRepository(session)
        self.tickets = self._tickets
        # Accounts read in this unit, shared by the repositories that read them.
        self._accounts: dict[str, Account | None] = {}
        self.accounts = SqlAccountRepository(session, self._accounts)
        self._customers = SqlCustomerRepository(session, self._accounts)
        self.customers = self._customers
        self._outbox = SqlOutbox(session)
        self.outbox = self._outbox
        self.inbox = SqlInbox(self._session, self._customers, self._outbox)
        self._quota = SqlQuotaCounter(self._session)
        self.quota = self._quota
        self.held = SqlHeldMessages(self._session)
        self.people = SqlPersonLinks(self._session)
        self.search = SqlSearchIndex(self._session)
        self.articles = SqlHelpArticles(self._session)
        self.incidents = SqlIncidentRepository(self._session)

    async def __aenter__(self) -> Self:
        try:
            await self._unit.open()
        except DBAPIError as exc:
            await self._unit.close()
            raise StoreInterrupted(str(exc.orig)) from exc
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()
        except DBAPIError as lost:
            if not lost.connection_invalidated:
                raise
        finally:
            await self._unit.close()
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            raise StoreInterrupted(str(exc.orig)) from exc

    async def commit(self) -> None:
        if self._unit.read_only:
            raise RuntimeError("a read-only unit of work does not commit")
        await self._outbox.flush()
        # With nothing else written, the profile commits on its own (PostgreSQL).
        await self._customers.flush(last=True)
        await self._unit.commit()

    async def rollback(self) -> None:
        await self._unit.rollback()
        self._quota.forget()
        self._tickets.forget()
        self._customers.forget()
        self._outbox.forget()
        self._accounts.clear()


class SqlUnitOfWorkFactory:
    """``bot.ports.UnitOfWorkFactory``: a new, independent unit per call."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions, read_only=read_only)
