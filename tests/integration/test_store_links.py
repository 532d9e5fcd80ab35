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
