"""Units of work reuse their connections between them (``store.driver.Shelf``): only a
clean one, and never past ``engine.dispose()``."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from store_support import Backend

from bot.customer import Customer
from bot.participant import Participant
from store.driver import Shelf

ALICE = Participant("telegram", "1")


async def test_the_next_unit_takes_the_connection_the_last_one_gave_back(
    backend: Backend,
) -> None:
    async with backend.uow() as uow:
        await uow.customers.profile(ALICE)
        first = uow._unit.connection
    async with backend.uow() as uow:
        await uow.customers.profile(ALICE)
        assert uow._unit.connection is first
    # Two units at once: the second gets a connection of its own.
    async with backend.uow() as one, backend.uow() as two:
        assert one._unit.connection is not two._unit.connection


async def test_a_unit_sees_what_another_connection_committed_meanwhile(
    backend: Backend,
) -> None:
    async with backend.uow() as uow:
        assert (await uow.customers.profile(ALICE)).customer is None  # then shelved
    async with backend.uow() as other, backend.uow() as uow:
        # ``other`` is on the shelved connection, ``uow`` on a new one.
        await uow.customers.create(Customer(ALICE, name="Alice", locale="cs"))
        await uow.commit()
        found = (await other.customers.profile(ALICE)).customer
        assert found is not None and found.name == "Alice"


async def test_a_connection_still_in_a_transaction_goes_back_to_the_pool(
    backend: Backend,
) -> None:
    shelf = Shelf.of(backend.engine)
    connection = await backend.engine.connect()
    await connection.execute(text("SELECT 1"))  # SQLAlchemy began a transaction
    assert not shelf.keep(connection)
    await connection.rollback()
    assert shelf.keep(connection)
    assert shelf.take() is connection
    assert shelf.take() is None
    await connection.close()


async def test_an_invalidated_connection_is_not_kept(backend: Backend) -> None:
    shelf = Shelf.of(backend.engine)
    connection = await backend.engine.connect()
    await connection.invalidate()
    assert not shelf.keep(connection)
    await connection.close()


async def test_the_shelf_keeps_a_few_and_the_pool_the_rest(backend: Backend) -> None:
    shelf = Shelf.of(backend.engine)
    connections = [await backend.engine.connect() for _ in range(Shelf.SIZE + 2)]
    kept = [shelf.keep(c) for c in connections]
    assert kept == [True] * Shelf.SIZE + [False, False]
    for connection in connections[Shelf.SIZE :]:
        await connection.close()
    # Disposing of the engine closes what the shelf held.
    await backend.engine.dispose()
    assert shelf.take() is None
    assert all(c.sync_connection is None or c.sync_connection.closed for c in connections)


async def test_a_unit_that_failed_leaves_nothing_on_its_connection(backend: Backend) -> None:
    with pytest.raises(RuntimeError):
        async with backend.uow() as uow:
            await uow.customers.create(Customer(ALICE, name="Alice", locale="cs"))
            raise RuntimeError("the step broke")
    async with backend.uow() as uow:
        assert not uow._unit.connection.in_transaction()
        assert (await uow.customers.profile(ALICE)).customer is None
