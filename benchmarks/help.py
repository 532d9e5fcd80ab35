"""The help centre's search: top-3 hit rate of the labelled queries per language
(``tests/help_queries/<lang>.tsv``) and time per search, on SQLite (FTS5) and
PostgreSQL (tsvector), beside a baseline measured in the same run on the same store,
articles and ranking: plain words (no stemming, no diacritics folding, no typing
corrections), i.e. what a full-text index gives without the analysis."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from bot.knowledge.analysis import words
from bot.knowledge.centre import HelpCentre
from bot.knowledge.quality import TOP, measure, read_queries
from bot.policy import load_policy
from store.db import create_engine, migrate, session_factory
from store.uow import SqlUnitOfWorkFactory

QUERIES = Path(__file__).resolve().parents[1] / "tests" / "help_queries"
LANGUAGES = ("en", "cs", "pl", "ru")
TARGET = 0.9


def plain_words(text: str, lang: str) -> list[str]:
    return words(text)


async def _measure(url: str) -> dict[str, tuple[float, float, float, float, int]]:
    """lang -> (hit rate, baseline hit rate, ms per search, baseline ms, queries)."""
    policy = load_policy()
    engine = create_engine(url)
    try:
        await migrate(engine)
        uow = SqlUnitOfWorkFactory(session_factory(engine))
        args = (uow, policy.help_folder, policy.languages, policy.departments)
        centre = HelpCentre(*args)
        baseline = HelpCentre(*args, collection="bench-plain", analyze=plain_words, typos=False)
        await baseline.reindex()
        await centre.reindex()
        for lang in LANGUAGES:  # the stemmers and vocabularies load before timing
            async with uow() as unit:
                await centre.search(unit, "warm up", lang)
                await baseline.search(unit, "warm up", lang)
        out = {}
        for lang in LANGUAGES:
            queries = read_queries(QUERIES / f"{lang}.tsv")
            figures = []
            for which in (centre, baseline):
                started = time.perf_counter()
                quality = await measure(which, uow, lang, queries)
                ms = (time.perf_counter() - started) * 1000 / max(len(queries), 1)
                figures.append((quality.hit_rate, ms))
            out[lang] = (figures[0][0], figures[1][0], figures[0][1], figures[1][1], len(queries))
        return out
    finally:
        await engine.dispose()


def main() -> bool:
    print(
        f"help: top-{TOP} hit rate of the labelled queries (target >= {TARGET}) and ms per "
        "search, beside the baseline (same store and ranking, plain words)"
    )
    targets = []
    with tempfile.TemporaryDirectory() as folder:
        targets.append(("SQLite (FTS5)", f"sqlite+aiosqlite:///{folder}/help.db"))
        url = os.environ.get("BENCH_DATABASE_URL")
        if url:
            targets.append(("PostgreSQL (tsvector)", url))
        else:
            print("  skipped: PostgreSQL (BENCH_DATABASE_URL not set; `make bench` starts it)")
        ok = True
        for label, url in targets:
            try:
                figures = asyncio.run(_measure(url))
            except Exception as exc:  # a benchmark reports, it does not stop the others
                print(f"  {label}: failed: {exc!r}")
                ok = False
                continue
            print(f"  {label}")
            for lang, (rate, base, ms, base_ms, n) in figures.items():
                print(
                    f"    {lang}  hit rate {rate:.2f} (baseline {base:.2f}) over {n} queries; "
                    f"{ms:.2f} ms per search (baseline {base_ms:.2f} ms)"
                )
            rates = [f[0] for f in figures.values()]
            verdict = "meets" if min(rates) >= TARGET else "BELOW"
            print(f"    lowest {min(rates):.2f}: {verdict} the target")
    return ok
