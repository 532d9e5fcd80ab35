"""One ranking for every store: BM25 over three fields.

The store finds the candidates (SQLite FTS5, PostgreSQL full-text) and counts the
documents holding each term; the score is computed here, the same way whatever store
found them, so both rank a query's results in the same order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# A word of the title says more about a document than one of its body.
TITLE_WEIGHT = 3.0
KEYWORD_WEIGHT = 2.0
BODY_WEIGHT = 1.0
K1 = 1.2
B = 0.75
# A term reached through a typing correction counts less than one typed right.
TYPO_WEIGHT = 0.6


@dataclass(frozen=True, slots=True)
class Candidate:
    """A document the store found, with its stored terms per field."""

    key: str
    lang: str
    title: tuple[str, ...]
    keywords: tuple[str, ...]
    body: tuple[str, ...]

    @property
    def length(self) -> int:
        return len(self.title) + len(self.keywords) + len(self.body)


@dataclass(frozen=True, slots=True)
class CorpusStats:
    """How many documents the searched part of the index holds, their mean length, and
    how many hold each query term."""

    documents: int
    average_length: float
    frequencies: Mapping[str, int]


NO_STATS = CorpusStats(0, 0.0, {})


@dataclass(frozen=True, slots=True)
class Matches:
    """What one search of the store brings: the candidates, and the counts of the
    searched part of the index that rank them (``NO_STATS`` when nothing matched)."""

    candidates: Sequence[Candidate]
    stats: CorpusStats


def score(candidate: Candidate, query: Mapping[str, float], stats: CorpusStats) -> float:
    """BM25 of ``candidate`` for ``query`` (term -> weight of the term in the query)."""
    tf: Counter[str] = Counter()
    for weight, field in (
        (TITLE_WEIGHT, candidate.title),
        (KEYWORD_WEIGHT, candidate.keywords),
        (BODY_WEIGHT, candidate.body),
    ):
        for term in field:
            if term in query:
                tf[term] += weight  # type: ignore[assignment]
    if not tf:
        return 0.0
    norm = K1 * (1 - B + B * candidate.length / max(stats.average_length, 1.0))
    total = 0.0
    n = max(stats.documents, 1)
    for term, freq in tf.items():
        df = min(stats.frequencies.get(term, 0), n)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        total += query[term] * idf * freq * (K1 + 1) / (freq + norm)
    return total


def rank(
    candidates: Sequence[Candidate], query: Mapping[str, float], stats: CorpusStats, limit: int
) -> list[tuple[Candidate, float]]:
    """The best ``limit`` candidates, best first; ties by key, so every store agrees."""
    scored = [(c, score(c, query, stats)) for c in candidates]
    scored = [(c, s) for c, s in scored if s > 0]
    # Rounded: the float sums of two runs must not reorder equal scores.
    scored.sort(key=lambda item: (-round(item[1], 9), item[0].key, item[0].lang))
    return scored[:limit]
