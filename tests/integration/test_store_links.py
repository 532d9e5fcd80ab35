"""Channel links on every SQL backend."""

from __future__ import annotations

from store_support import Backend

from store.links import SqlLinkStore


async def test_set_get_find_and_replace(backend: Backend) -> None:
    links = SqlLinkStore(backend.sessions)
    assert await links.get("telegram", "topic", "17") is None

    await links.set("telegram", "topic", "17", "thread:901")
    await links.set("telegram", "card", "17", "msg:5")
    await links.set("discord", "topic", "17", "thread:901")

    assert await links.get("telegram", "topic", "17") == "thread:901"
    assert await links.find("telegram", "topic", "thread:901") == "17"
    assert await links.find("telegram", "card", "thread:901") is None

    await links.set("telegram", "topic", "17", "thread:902")  # the topic was recreated
    assert await links.get("telegram", "topic", "17") == "thread:902"
    assert await links.find("telegram", "topic", "thread:901") is None
    assert await links.find("telegram", "topic", "thread:902") == "17"
    assert await links.get("discord", "topic", "17") == "thread:901"


async def test_many_links_are_read_in_one_statement_whatever_their_number(
    backend: Backend,
) -> None:
    links = SqlLinkStore(backend.sessions)
    for i in range(30):
        await links.set("telegram", "sent", f"n{i}", str(i))
    await links.set("discord", "sent", "n1", "other channel")
    asked = [("telegram", "sent", f"n{i}") for i in range(0, 40, 3)] + [("x", "y", "z")]

    found = await links.get_many(asked)

    # Each link by all three parts of its key; the missing ones are left out.
    assert found == {("telegram", "sent", f"n{i}"): str(i) for i in range(0, 30, 3)}
    assert await links.get_many([("discord", "sent", "n1")]) == {
        ("discord", "sent", "n1"): "other channel"
    }
    assert await links.get_many([]) == {}
