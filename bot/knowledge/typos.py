"""Typing mistakes: a query term that is not in the index is matched to the index's
terms one edit away (a letter missing, extra, wrong, or two swapped).

Symmetric deletes (the SymSpell idea): every known term is filed under itself and each
of its one-letter deletions; a query term's own deletions find its neighbours without
comparing it to the whole vocabulary. Candidates are then checked with the real
(Damerau) distance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

# Shorter terms are left alone: one edit turns "cat" into too many other words.
MIN_TYPO_LENGTH = 4


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def distance(a: str, b: str) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap neighbours)."""
    if a == b:
        return 0
    rows = [list(range(len(b) + 1))]
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


class Vocabulary:
    """The terms an index holds, with their one-edit neighbourhoods."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        self._terms: set[str] = set()
        self._by_deletion: dict[str, set[str]] = defaultdict(set)
        self.add(known)

    def __contains__(self, term: object) -> bool:
        return term in self._terms

    def __len__(self) -> int:
        return len(self._terms)

    def add(self, known: Iterable[str]) -> None:
        for term in known:
            if term in self._terms:
                continue
            self._terms.add(term)
            if len(term) >= MIN_TYPO_LENGTH - 1:
                self._by_deletion[term].add(term)
                for deleted in _deletions(term):
                    self._by_deletion[deleted].add(term)

    def near(self, term: str) -> list[str]:
        """Known terms one edit from ``term`` (none when ``term`` itself is known or
        too short to guess at), sorted for a stable result."""
        if term in self._terms or len(term) < MIN_TYPO_LENGTH:
            return []
        found: set[str] = set()
        for key in {term} | _deletions(term):
            found.update(self._by_deletion.get(key, ()))
        return sorted(t for t in found if distance(term, t) == 1)
