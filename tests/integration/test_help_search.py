"""The help centre's search on the real stores: the labelled queries find their
articles (top-3 hit rate per language), and SQLite (FTS5) and PostgreSQL (tsvector)
rank exactly as the in-memory reference does."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_support import Backend

from bot.knowledge.centre import HelpCentre
from bot.knowledge.quality import Quality, measure, read_queries
from bot.policy import load_policy
from bot.ports import UnitOfWorkFactory
from store.uow import SqlUnitOfWorkFactory
from tests.unit.fakes import FakeUnitOfWorkFactory

QUERIES = Path(__file__).resolve().parents[1] / "help_queries"
LANGUAGES = ("en", "cs", "pl", "ru")
TARGET = 0.9


async def _quality(uow: UnitOfWorkFactory, lang: str) -> Quality:
    policy = load_policy()
    centre = HelpCentre(uow, policy.help_folder, policy.languages, policy.departments)
    loaded = await centre.reindex()
    assert len(loaded.articles) >= 48 and loaded.problems == ()
    return await measure(centre, uow, lang, read_queries(QUERIES / f"{lang}.tsv"))


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_labelled_queries_find_their_article_in_the_top_three(
    backend: Backend, lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    quality = await _quality(SqlUnitOfWorkFactory(backend.sessions), lang)
    with capsys.disabled():
        print(
            f"\nhelp search {backend.name} {lang}: top-3 hit rate {quality.hit_rate:.2f} "
            f"({quality.hits}/{quality.queries})"
        )
    assert quality.queries >= 25
    assert quality.hit_rate >= TARGET, quality.misses


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_store_ranks_exactly_as_the_in_memory_reference(
    backend: Backend, lang: str
) -> None:
    stored = await _quality(SqlUnitOfWorkFactory(backend.sessions), lang)
    reference = await _quality(FakeUnitOfWorkFactory(), lang)
    assert stored.results == reference.results
