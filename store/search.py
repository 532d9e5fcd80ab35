"""Full-text search on analysed terms, and the help centre's articles.

The terms come analysed (``bot.knowledge.analysis``: stemmed, lower-case, without
diacritics, letters and digits only), so the engines only match and count: SQLite with
FTS5 (``search_fts``, kept by triggers), PostgreSQL with a ``tsvector`` built by the
``simple`` configuration (no stemming of its own). Ranking is the core's, so both
stores order results alike.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.knowledge.article import Article, Feedback, FeedbackCounts
from bot.knowledge.ranking import NO_STATS, Candidate, CorpusStats, Matches
from bot.ports import Deflection, SearchDocument
from store.models import (
    HelpArticleRow,
    HelpDeflectionRow,
    HelpFeedbackRow,
    SearchCollectionRow,
    SearchDocumentRow,
)
from store.upsert import upsert

# What migration 0015 builds beside the metadata (skipped when comparing schemas).
SCHEMA_EXTRAS = frozenset({"search_fts", "tsv", "ix_search_documents_tsv"})

_DOCS = cast(Table, SearchDocumentRow.__table__)
_ARTICLES = cast(Table, HelpArticleRow.__table__)
_COLLECTIONS = cast(Table, SearchCollectionRow.__table__)
_DEFLECTIONS = cast(Table, HelpDeflectionRow.__table__)
_FEEDBACK = cast(Table, HelpFeedbackRow.__table__)
# Comments shown per article (the newest).
COMMENTS_SHOWN = 3


def include_object(obj: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    """Alembic's filter: the full-text parts of migration 0015 are not in the models."""
    return not (name in SCHEMA_EXTRAS or (kind == "table" and str(name).startswith("search_fts")))


def _split(terms: object) -> tuple[str, ...]:
    return tuple(str(terms).split())


class SqlSearchIndex:
    """``bot.ports.SearchIndex`` on the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def _postgres(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    async def replace(self, collection: str, documents: Sequence[SearchDocument]) -> None:
        await self._session.execute(delete(_DOCS).where(_DOCS.c.collection == collection))
        await self._insert(collection, documents)

    async def _insert(self, collection: str, documents: Sequence[SearchDocument]) -> None:
        rows = [
            {
                "collection": collection,
                "key": d.key,
                "lang": d.lang,
                "scope": f" {' '.join(d.scope)} ",
                "title_terms": " ".join(d.title),
                "keyword_terms": " ".join(d.keywords),
                "body_terms": " ".join(d.body),
                "terms": " ".join((*d.title, *d.keywords, *d.body)),
                "length": len(d.title) + len(d.keywords) + len(d.body),
            }
            for d in documents
        ]
        if rows:
            await self._session.execute(insert(_DOCS), rows)

    async def put(self, collection: str, documents: Sequence[SearchDocument]) -> None:
        if not documents:
            return
        keys = sorted({d.key for d in documents})
        await self._session.execute(
            delete(_DOCS).where(_DOCS.c.collection == collection, _DOCS.c.key.in_(keys))
        )
        await self._insert(collection, documents)

    async def watermark(self, collection: str) -> str:
        statement = select(_COLLECTIONS.c.fingerprint).where(
            _COLLECTIONS.c.collection == collection
        )
        if self._postgres:
            # Held until the commit: two searches catching up at once would insert the
            # same documents; the second waits and finds the index up to date.
            await self._session.execute(
                postgresql.insert(_COLLECTIONS)
                .values(collection=collection, fingerprint="")
                .on_conflict_do_nothing()
            )
            statement = statement.with_for_update()
        found = await self._session.scalar(statement)
        return found or ""

    async def set_watermark(self, collection: str, value: str) -> None:
        dialect = self._session.get_bind().dialect.name
        await self._session.execute(
            update_collection(dialect), {"collection": collection, "fingerprint": value}
        )

    def _match(self, alias: str, query: str) -> str:
        if self._postgres:
            return f"{alias}.tsv @@ to_tsquery('simple', :{query})"
        return f"{alias}.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH :{query})"

    def _query(self, terms: Collection[str]) -> str:
        # Terms are letters and digits only: nothing in them is query syntax.
        if self._postgres:
            return " | ".join(sorted(terms))
        return " OR ".join(f'"{t}"' for t in sorted(terms))

    async def matches(
        self,
        collection: str,
        terms: Collection[str],
        *,
        langs: Collection[str],
        scope: str | None = None,
        limit: int = 500,
    ) -> Matches:
        if not terms or not langs:
            return Matches((), NO_STATS)
        ordered = sorted(terms)
        params: dict[str, Any] = {
            "collection": collection,
            "langs": list(langs),
            "query": self._query(terms),
            "limit": limit,
        }
        # The searched part of the index (``langs``, every scope) counted once in a
        # one-row subquery: its size, mean length and each term's documents, beside
        # every candidate row; the candidates found as before, by the full-text index.
        part = "{0}collection = :collection AND {0}lang IN :langs"
        counts = []
        for i, term in enumerate(ordered):
            params[f"t{i}"] = term if self._postgres else f'"{term}"'
            if self._postgres:
                counts.append(f"count(*) FILTER (WHERE {self._match('x', f't{i}')})")
            else:  # from the term's matches' rowids, not by testing every document
                counts.append(
                    f"(SELECT count(*) FROM search_documents y WHERE {part.format('y.')} "
                    f"AND {self._match('y', f't{i}')})"
                )
        columns = ", ".join(["count(*)", "coalesce(avg(x.length), 0)", *counts])
        where = f"{part.format('d.')} AND {self._match('d', 'query')}"
        if scope is not None:
            where += " AND d.scope LIKE :scope"
            params["scope"] = f"% {scope} %"
        statement = text(
            "SELECT d.key, d.lang, d.title_terms, d.keyword_terms, d.body_terms, s.* "
            f"FROM search_documents d CROSS JOIN (SELECT {columns} FROM search_documents x "
            f"WHERE {part.format('x.')}) s WHERE {where} ORDER BY d.id DESC LIMIT :limit"
        ).bindparams(bindparam("langs", expanding=True))
        rows = (await self._session.execute(statement, params)).all()
        if not rows:
            return Matches((), NO_STATS)
        first = rows[0]
        return Matches(
            [
                Candidate(str(key), str(lang), _split(title), _split(keywords), _split(body))
                for key, lang, title, keywords, body, *_ in rows
            ],
            CorpusStats(
                documents=int(first[5]),
                average_length=float(first[6]),
                frequencies={term: int(first[7 + i]) for i, term in enumerate(ordered)},
            ),
        )

    async def vocabulary(self, collection: str, lang: str) -> set[str]:
        result = await self._session.execute(
            select(_DOCS.c.terms).where(_DOCS.c.collection == collection, _DOCS.c.lang == lang)
        )
        out: set[str] = set()
        for (terms,) in result.all():
            out.update(_split(terms))
        return out


class SqlHelpArticles:
    """``bot.ports.HelpArticles`` on the unit of work's session."""

    COLLECTION = "help"

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def replace(self, articles: Sequence[Article], fingerprint: str) -> None:
        await self._session.execute(delete(_ARTICLES))
        if articles:
            await self._session.execute(
                insert(_ARTICLES),
                [
                    {
                        "slug": a.slug,
                        "lang": a.lang,
                        "title": a.title,
                        "keywords": list(a.keywords),
                        "departments": list(a.departments),
                        "body": a.body,
                    }
                    for a in articles
                ],
            )
        await self._session.execute(
            update_collection(self._session.get_bind().dialect.name),
            {"collection": self.COLLECTION, "fingerprint": fingerprint},
        )

    async def fingerprint(self, *, lock: bool = False) -> str:
        if lock and self._session.get_bind().dialect.name == "postgresql":
            # The row must exist to be locked; then the second of two starting workers
            # waits here and finds the first one's fingerprint.
            await self._session.execute(
                postgresql.insert(_COLLECTIONS)
                .values(collection=self.COLLECTION, fingerprint="")
                .on_conflict_do_nothing()
            )
        statement = select(_COLLECTIONS.c.fingerprint).where(
            _COLLECTIONS.c.collection == self.COLLECTION
        )
        if lock:
            statement = statement.with_for_update()
        found = await self._session.scalar(statement)
        return found or ""

    async def get(self, keys: Sequence[tuple[str, str]]) -> list[Article]:
        if not keys:
            return []
        slugs = {slug for slug, _ in keys}
        result = await self._session.execute(select(_ARTICLES).where(_ARTICLES.c.slug.in_(slugs)))
        found = {(row.slug, row.lang): _article(row) for row in result.all()}
        return [found[key] for key in keys if key in found]

    async def all(self) -> list[Article]:
        result = await self._session.execute(
            select(_ARTICLES).order_by(_ARTICLES.c.lang, _ARTICLES.c.slug)
        )
        return [_article(row) for row in result.all()]

    async def record_deflection(self, deflection: Deflection) -> None:
        await self._session.execute(
            insert(_DEFLECTIONS).values(
                at=deflection.at,
                customer=deflection.customer,
                department=deflection.department,
                category=deflection.category,
                slug=deflection.slug,
                lang=deflection.lang,
            )
        )

    async def deflections(self, since: datetime) -> dict[str, int]:
        result = await self._session.execute(
            select(_DEFLECTIONS.c.department, func.count())
            .where(_DEFLECTIONS.c.at >= since)
            .group_by(_DEFLECTIONS.c.department)
        )
        counts: dict[str, int] = {}
        for department, count in result.all():
            counts[str(department)] = int(str(count))
        return counts

    async def record_feedback(self, feedback: Feedback) -> None:
        values = {
            "customer": feedback.customer,
            "slug": feedback.slug,
            "lang": feedback.lang,
            "at": feedback.at,
            "helpful": feedback.helpful,
            "reason": feedback.reason.value if feedback.reason else None,
            "comment": feedback.comment,
        }
        await upsert(self._session, HelpFeedbackRow, values, ("customer", "slug", "lang"))

    async def feedback(self, since: datetime | None = None) -> list[FeedbackCounts]:
        statement = select(
            _FEEDBACK.c.slug,
            _FEEDBACK.c.lang,
            _FEEDBACK.c.helpful,
            _FEEDBACK.c.reason,
            _FEEDBACK.c.comment,
        ).order_by(_FEEDBACK.c.at.desc())
        if since is not None:
            statement = statement.where(_FEEDBACK.c.at >= since)
        result = await self._session.execute(statement)
        counts: dict[tuple[str, str], dict[str, Any]] = {}
        for slug, lang, helpful, reason, comment in result.all():
            entry = counts.setdefault(
                (str(slug), str(lang)), {"yes": 0, "no": 0, "reasons": {}, "comments": []}
            )
            if helpful:
                entry["yes"] += 1
                continue
            entry["no"] += 1
            if reason:
                entry["reasons"][reason] = entry["reasons"].get(reason, 0) + 1
            if comment and len(entry["comments"]) < COMMENTS_SHOWN:
                entry["comments"].append(comment)
        out = [
            FeedbackCounts(
                slug=slug,
                lang=lang,
                helpful=e["yes"],
                not_helpful=e["no"],
                reasons=e["reasons"],
                comments=tuple(e["comments"]),
            )
            for (slug, lang), e in counts.items()
        ]
        out.sort(key=lambda c: (-c.not_helpful, -c.helpful, c.slug, c.lang))
        return out


def update_collection(dialect: str) -> Any:
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_COLLECTIONS)
    return statement.on_conflict_do_update(
        index_elements=["collection"], set_={"fingerprint": statement.excluded.fingerprint}
    )


def _article(row: Any) -> Article:
    return Article(
        slug=row.slug,
        lang=row.lang,
        title=row.title,
        keywords=tuple(row.keywords),
        departments=tuple(row.departments),
        body=row.body,
    )
