"""``/find WORDS``: agents search their departments' tickets with the help centre's
engine (the same analysis, store full-text index and ranking).

Tickets are not indexed on the hot path (a customer's message would cost the index's
statements): ``catch_up`` brings the index up to date from the tickets changed since
its watermark (``tickets.updated_at``, then the number), before every search. A
ticket's document is in its customer's language; a query is analysed in every
language of the desk, since an agent searches tickets of all of them.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from bot.knowledge.analysis import terms
from bot.knowledge.centre import search_index
from bot.ports import SearchDocument, UnitOfWork
from bot.ticket import EntryKind, Ticket

COLLECTION = "tickets"
BATCH = 500
FIND_RESULTS = 10
# Most candidates a search ranks (the newest matching documents).
CANDIDATES = 1000


def ticket_document(ticket: Ticket) -> SearchDocument:
    """What the index keeps of a ticket: title; support number and domain; what the
    customer and the agents wrote (internal notes too: agents search)."""
    lang = ticket.locale
    written = [ticket.description, ticket.steps]
    written += [e.text for e in ticket.entries if e.kind is not EntryKind.SYSTEM]
    return SearchDocument(
        collection=COLLECTION,
        key=str(ticket.number),
        lang=lang,
        scope=(ticket.department,),
        title=tuple(terms(ticket.title, lang, stopwords=False)),
        keywords=tuple(terms(f"{ticket.support_number} {ticket.domain}", lang, stopwords=False)),
        body=tuple(terms("\n".join(w for w in written if w), lang)),
    )


def _watermark(text: str) -> tuple[datetime, int] | None:
    at, _, number = text.partition("|")
    try:
        return datetime.fromisoformat(at), int(number)
    except ValueError:
        return None


async def catch_up(uow: UnitOfWork) -> int:
    """Index the tickets changed since the last catch-up; how many."""
    mark = _watermark(await uow.search.watermark(COLLECTION))
    done = 0
    while True:
        changed = await uow.tickets.changed_since(mark, BATCH)
        if not changed:
            return done
        await uow.search.put(COLLECTION, [ticket_document(t) for t in changed])
        last = changed[-1]
        mark = (last.updated_at or last.created_at, last.number or 0)
        await uow.search.set_watermark(COLLECTION, f"{mark[0].isoformat()}|{mark[1]}")
        done += len(changed)


async def find(
    uow: UnitOfWork,
    words: str,
    languages: Collection[str],
    departments: frozenset[str] | None,
    limit: int = FIND_RESULTS,
) -> list[int]:
    """Numbers of the best matching tickets of ``departments`` (None: all), best first."""
    await catch_up(uow)
    weights = {term: 1.0 for lang in languages for term in terms(words, lang)}
    found: list[tuple[str, float]] = []
    for scope in sorted(departments) if departments is not None else [None]:
        ranked = await search_index(
            uow.search, COLLECTION, weights, langs=languages, scope=scope, limit=limit
        )
        found += [(c.key, s) for c, s in ranked]
    found.sort(key=lambda item: (-round(item[1], 9), -int(item[0])))
    return [int(key) for key, _ in found[:limit]]
