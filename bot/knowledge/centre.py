"""The help centre: indexes the policy's article folder and searches it.

Articles are read from ``<folder>/<lang>/*.md`` (``bot.knowledge.article``) at start
and on ``python -m bot help reindex``, and kept in the store with their search terms,
so every worker searches the same index. A search is: the query's terms in the
customer's language (stemmed, without diacritics), terms the index does not know
replaced by known ones one typing mistake away, candidates and counts from the store,
and one BM25 ranking (``bot.knowledge.ranking``) whatever the store.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.analysis import terms
from bot.knowledge.article import Article, Loaded, load_folder
from bot.knowledge.ranking import TYPO_WEIGHT, Candidate, rank
from bot.knowledge.typos import Vocabulary
from bot.ports import SearchDocument, SearchIndex, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

COLLECTION = "help"
FALLBACK = "en"
# How many articles the intake offers (the issue: at most three).
SUGGESTIONS = 3
# An article is offered at intake only if it matches clearly: a score of at least this
# (one word of a body scores about 1-1.5, a word of a title 3-6), and at least this
# share of the best one's.
SUGGEST_MIN_SCORE = 2.0
SUGGEST_MIN_SHARE = 0.3
# A worker's copies of the index's vocabulary (for typing mistakes) and of the articles
# (what a search shows of them) are read again after this long, so a reindex by another
# process reaches them; an article the copy does not hold yet is read at once.
COPY_SECONDS = 300.0
# ...but not more often than this when a search finds articles the copy lacks (an index
# and articles out of step, e.g. a reindex under way elsewhere).
MISSING_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Found:
    """An article a search found, and its score."""

    article: Article
    score: float


Analyzer = Callable[[str, str], list[str]]


def document(
    article: Article, collection: str = COLLECTION, analyze: Analyzer = terms
) -> SearchDocument:
    """The search index's view of ``article``."""
    lang = article.lang
    return SearchDocument(
        collection=collection,
        key=article.slug,
        lang=lang,
        scope=article.departments,
        title=tuple(analyze(article.title, lang)),
        keywords=tuple(analyze(" ".join(article.keywords), lang)),
        body=tuple(analyze(article.body, lang)),
    )


def fingerprint(articles: Sequence[Article]) -> str:
    digest = hashlib.sha256()
    for a in sorted(articles, key=lambda a: a.key):
        for part in (a.key, a.title, ",".join(a.keywords), ",".join(a.departments), a.body):
            digest.update(part.encode())
            digest.update(b"\0")
    return digest.hexdigest()


def query_weights(
    text: str, lang: str, vocabulary: Vocabulary, analyze: Analyzer = terms, typos: bool = True
) -> dict[str, float]:
    """The query's terms with their weights: known terms 1, a typing correction less."""
    weights: dict[str, float] = {}
    for term in analyze(text, lang):
        if term in vocabulary or not typos:
            weights[term] = 1.0
            continue
        for near in vocabulary.near(term):
            weights[near] = max(weights.get(near, 0.0), TYPO_WEIGHT)
    return weights


async def search_index(
    index: SearchIndex,
    collection: str,
    weights: dict[str, float],
    *,
    langs: Collection[str],
    scope: str | None,
    limit: int,
) -> list[tuple[Candidate, float]]:
    """Candidates from the store, ranked here (the same on every store)."""
    if not weights:
        return []
    found = await index.matches(collection, weights, langs=langs, scope=scope)
    if not found.candidates:
        return []
    return rank(found.candidates, weights, found.stats, limit)


class HelpCentre:
    """Articles of the policy's help folder, indexed in the store, and their search."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        folder: Path | None,
        languages: Collection[str],
        departments: Collection[str],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        collection: str = COLLECTION,
        analyze: Analyzer = terms,
        typos: bool = True,
    ) -> None:
        """``collection``, ``analyze`` and ``typos`` are there for the benchmark's
        baseline (plain words, no stemming, no corrections) beside the real search."""
        self._uow = uow
        self._collection = collection
        self._analyze = analyze
        self._typos = typos
        self.folder = folder
        self._languages = tuple(languages)
        self._departments = frozenset(departments)
        self._monotonic = monotonic
        self._vocabularies: dict[str, tuple[float, Vocabulary]] = {}
        self._copy: tuple[float, dict[tuple[str, str], Article]] | None = None

    def load(self) -> Loaded:
        """The folder's articles (and the files that could not be used)."""
        if self.folder is None:
            return Loaded((), ())
        return load_folder(self.folder, self._languages, self._departments)

    async def reindex(self, *, force: bool = True) -> Loaded:
        """Read the folder and make it the index. Without ``force`` an index already
        holding these very files is left alone (every worker calls this at start)."""
        loaded = self.load()
        for problem in loaded.problems:
            log.warning("help article left out: %s", problem)
        stamp = fingerprint(loaded.articles)
        async with self._uow() as uow:
            if not force and await uow.articles.fingerprint(lock=True) == stamp:
                return loaded
            await uow.articles.replace(loaded.articles, stamp)
            documents = [document(a, self._collection, self._analyze) for a in loaded.articles]
            await uow.search.replace(self._collection, documents)
            await uow.commit()
        self._vocabularies.clear()
        self._copy = None
        log.info("help centre: %d articles indexed", len(loaded.articles))
        return loaded

    async def _vocabulary(self, uow: UnitOfWork, lang: str) -> Vocabulary:
        now = self._monotonic()
        kept = self._vocabularies.get(lang)
        if kept is not None and now - kept[0] < COPY_SECONDS:
            return kept[1]
        vocabulary = Vocabulary(await uow.search.vocabulary(self._collection, lang))
        self._vocabularies[lang] = (now, vocabulary)
        return vocabulary

    async def search(
        self,
        uow: UnitOfWork,
        text: str,
        lang: str,
        *,
        department: str | None = None,
        limit: int = SUGGESTIONS,
    ) -> list[Found]:
        """The best articles for ``text`` in ``lang`` (narrowed to ``department``); when
        that language has none, the English ones."""
        for candidate_lang in dict.fromkeys((lang, FALLBACK)):
            vocabulary = await self._vocabulary(uow, candidate_lang)
            weights = query_weights(text, candidate_lang, vocabulary, self._analyze, self._typos)
            ranked = await search_index(
                uow.search,
                self._collection,
                weights,
                langs=(candidate_lang,),
                scope=department,
                limit=limit,
            )
            if ranked:
                articles = await self._articles(uow, [(c.key, c.lang) for c, _ in ranked])
                return [
                    Found(articles[(c.key, c.lang)], score)
                    for c, score in ranked
                    if (c.key, c.lang) in articles
                ]
        return []

    async def _articles(
        self, uow: UnitOfWork, keys: Collection[tuple[str, str]]
    ) -> Mapping[tuple[str, str], Article]:
        """This worker's copy of the articles, holding ``keys`` where the store does."""
        now = self._monotonic()
        kept = self._copy
        if (
            kept is None
            or now - kept[0] >= COPY_SECONDS
            or (now - kept[0] >= MISSING_SECONDS and any(k not in kept[1] for k in keys))
        ):
            kept = self._copy = (now, {(a.slug, a.lang): a for a in await uow.articles.all()})
        return kept[1]

    async def suggest(
        self, uow: UnitOfWork, text: str, lang: str, department: str
    ) -> list[Article]:
        """What the intake offers before filing: up to three of the department's
        articles that clearly match what the customer wrote (none rather than noise)."""
        found = await self.search(uow, text, lang, department=department, limit=SUGGESTIONS)
        if not found:
            return []
        floor = max(SUGGEST_MIN_SCORE, SUGGEST_MIN_SHARE * found[0].score)
        return [f.article for f in found if f.score >= floor]

    async def article(self, uow: UnitOfWork, slug: str, lang: str) -> Article | None:
        """``slug`` in ``lang``, or in English when it is not translated."""
        for candidate_lang in dict.fromkeys((lang, FALLBACK)):
            found = await uow.articles.get([(slug, candidate_lang)])
            if found:
                return found[0]
        return None
