"""How well the help search finds what customers mean: a labelled set of queries per
language (``query<TAB>article slug``) and the share whose article is among the first
three results. Used by the search quality test and ``python -m benchmarks help``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.centre import HelpCentre
from bot.ports import UnitOfWorkFactory

TOP = 3


@dataclass(frozen=True, slots=True)
class Labelled:
    query: str
    slug: str


@dataclass(frozen=True, slots=True)
class Quality:
    lang: str
    queries: int
    hits: int
    # (query, expected slug, what came back) for every query that missed.
    misses: tuple[tuple[str, str, tuple[str, ...]], ...]
    # Every query's result, in order: two stores that rank alike give equal lists.
    results: tuple[tuple[str, ...], ...]

    @property
    def hit_rate(self) -> float:
        return self.hits / self.queries if self.queries else 0.0


def read_queries(path: Path) -> list[Labelled]:
    """``query<TAB>slug`` lines; ``#`` comments and blank lines are skipped."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        query, _, slug = line.partition("\t")
        if not slug.strip():
            raise ValueError(f"{path}: {line!r} has no article after a tab")
        out.append(Labelled(query.strip(), slug.strip()))
    return out


async def measure(
    centre: HelpCentre, uow: UnitOfWorkFactory, lang: str, queries: list[Labelled]
) -> Quality:
    """Top-3 hit rate of ``queries`` in ``lang`` over the whole help centre."""
    hits = 0
    misses = []
    results = []
    for labelled in queries:
        async with uow() as unit:
            found = await centre.search(unit, labelled.query, lang, limit=TOP)
        slugs = tuple(f.article.slug for f in found)
        results.append(slugs)
        if labelled.slug in slugs:
            hits += 1
        else:
            misses.append((labelled.query, labelled.slug, slugs))
    return Quality(lang, len(queries), hits, tuple(misses), tuple(results))
