"""The help centre's core: analysis (stems, diacritics), typing corrections, article
files, and search through the in-memory ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge.analysis import plain, terms
from bot.knowledge.article import Article, ArticleError, load_folder, parse_article, render_article
from bot.knowledge.centre import COPY_SECONDS, MISSING_SECONDS, HelpCentre
from bot.knowledge.ranking import Candidate, CorpusStats, rank
from bot.knowledge.typos import Vocabulary, distance
from tests.unit.fakes import FakeUnitOfWorkFactory, _Articles

DEPARTMENTS = ("technical", "sales")


def _write(folder: Path, lang: str, slug: str, title: str, body: str, dept: str) -> None:
    path = folder / lang / f"{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"---\ntitle: {title}\nkeywords: {title.lower()}\ndepartments: {dept}\n---\n{body}\n",
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    ("lang", "typed", "accented"),
    [
        ("cs", "objednavky se nevytvari", "Objednávky se nevytváří"),
        ("pl", "platnosc karta", "Płatność kartą"),
        ("ru", "елка", "Ёлка"),
    ],
)
def test_a_query_without_diacritics_meets_the_accented_text(
    lang: str, typed: str, accented: str
) -> None:
    assert terms(typed, lang) == terms(accented, lang)


def test_inflected_forms_share_a_stem_and_stop_words_are_left_out() -> None:
    assert terms("platby", "cs") == terms("platbou", "cs") == ["platb"]
    assert terms("оплаты", "ru") == terms("оплатой", "ru")
    assert terms("How do I renew the support", "en") == ["renew", "support"]
    # Nothing but stop words: they are kept rather than searching for nothing.
    assert terms("to je", "cs") != []
    assert plain("Příliš ŽLUŤOUČKÝ") == "prilis zlutoucky"


def test_typing_mistakes_find_the_known_term_one_edit_away() -> None:
    vocabulary = Vocabulary(["payment", "subscript", "invoic", "pay"])
    assert vocabulary.near("paymnet") == ["payment"]  # two letters swapped
    assert vocabulary.near("subscrpt") == ["subscript"]  # a letter missing
    assert vocabulary.near("invoicx") == ["invoic"]  # a letter extra
    assert vocabulary.near("payment") == []  # known: nothing to correct
    assert vocabulary.near("pau") == []  # too short to guess at
    assert distance("abcd", "abdc") == 1 and distance("abcd", "xbcy") == 2


def test_an_article_file_is_checked_and_reads_back_as_written() -> None:
    text = "---\ntitle: Cards\nkeywords: card, payment\ndepartments: sales\n---\nBody **x**\n"
    article = parse_article(text, "cards", "en")
    assert (article.title, article.keywords, article.departments) == (
        "Cards",
        ("card", "payment"),
        ("sales",),
    )
    assert parse_article(render_article(article), "cards", "en") == article
    for broken, why in [
        ("title: x\n", "must start"),
        ("---\ntitle: x\n", "closing"),
        ("---\nauthor: me\n---\nbody", "header line"),
        ("---\ntitle: x\ndepartments: sales\n---\n", "no body"),
        ("---\ntitle: x\n---\nbody", "no departments"),
    ]:
        with pytest.raises(ArticleError, match=why):
            parse_article(broken, "cards", "en")
    with pytest.raises(ArticleError, match="file name"):
        parse_article(text, "Cards!", "en")


def test_a_folder_reports_files_it_cannot_use_and_keeps_the_rest(tmp_path: Path) -> None:
    _write(tmp_path, "en", "good", "Good", "A body.", "sales")
    _write(tmp_path, "en", "lost", "Lost", "A body.", "marketing")
    (tmp_path / "cs").mkdir()
    (tmp_path / "cs" / "empty.md").write_text("no header", encoding="utf-8")
    loaded = load_folder(tmp_path, ("en", "cs"), DEPARTMENTS)
    assert [a.key for a in loaded.articles] == ["good/en"]
    assert len(loaded.problems) == 2
    assert any("marketing" in p for p in loaded.problems)


def test_equal_scores_are_ordered_by_key_so_every_store_agrees() -> None:
    stats = CorpusStats(documents=3, average_length=1.0, frequencies={"x": 2})
    twins = [Candidate(k, "en", ("x",), (), ()) for k in ("b", "a")]
    assert [c.key for c, _ in rank(twins, {"x": 1.0}, stats, 3)] == ["a", "b"]


async def _centre(folder: Path) -> tuple[HelpCentre, FakeUnitOfWorkFactory]:
    uow = FakeUnitOfWorkFactory()
    centre = HelpCentre(uow, folder, ("en", "cs"), DEPARTMENTS)
    await centre.reindex()
    return centre, uow


async def test_search_ranks_within_the_department_and_forgives_a_typo(tmp_path: Path) -> None:
    _write(tmp_path, "en", "refund", "Refunds of payments", "Money back for a payment.", "sales")
    _write(tmp_path, "en", "crash", "The shop crashes", "Error 500 after a payment.", "technical")
    centre, uow = await _centre(tmp_path)
    async with uow() as unit:
        everywhere = await centre.search(unit, "payment refund", "en")
        technical = await centre.search(unit, "payment refund", "en", department="technical")
        typo = await centre.search(unit, "refnud", "en")
        nothing = await centre.search(unit, "weather in Prague", "en")
    assert [f.article.slug for f in everywhere] == ["refund", "crash"]
    assert [f.article.slug for f in technical] == ["crash"]
    assert [f.article.slug for f in typo] == ["refund"]
    assert nothing == []


async def test_a_language_without_articles_gets_the_english_ones(tmp_path: Path) -> None:
    _write(tmp_path, "en", "refund", "Refunds", "Money back.", "sales")
    _write(tmp_path, "cs", "vraceni", "Vrácení peněz", "Peníze zpět za platbu.", "sales")
    centre, uow = await _centre(tmp_path)
    async with uow() as unit:
        czech = await centre.search(unit, "vrácení peněz", "cs")
        english = await centre.search(unit, "refunds", "cs")
        article = await centre.article(unit, "refund", "cs")
    assert [f.article.key for f in czech] == ["vraceni/cs"]
    assert [f.article.key for f in english] == ["refund/en"]
    assert article is not None and article.lang == "en"


async def test_indexing_again_at_start_skips_unchanged_files(tmp_path: Path) -> None:
    _write(tmp_path, "en", "refund", "Refunds", "Money back.", "sales")
    centre, uow = await _centre(tmp_path)
    indexed = uow.db.documents["help"]
    await centre.reindex(force=False)
    assert uow.db.documents["help"] is indexed  # nothing rewritten
    _write(tmp_path, "en", "invoice", "Invoices", "Where to find invoices.", "sales")
    await centre.reindex(force=False)
    async with uow() as unit:
        found = await centre.search(unit, "invoices", "en")
    assert [f.article.slug for f in found] == ["invoice"]


async def test_a_worker_shows_articles_from_its_copy_and_reads_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a search shows of an article comes from the worker's copy (no read of the
    articles per search); another worker's reindex reaches it after COPY_SECONDS, and
    at once (within MISSING_SECONDS) when the index finds an article it lacks."""
    reads = []
    read_all = _Articles.all

    async def counted(self: _Articles) -> list[Article]:
        reads.append(1)
        return await read_all(self)

    monkeypatch.setattr(_Articles, "all", counted)
    now = [0.0]
    first, second = tmp_path / "first", tmp_path / "second"
    _write(first, "en", "refund", "Refunds of payments", "Money back for a payment.", "sales")
    uow = FakeUnitOfWorkFactory()
    worker = HelpCentre(uow, first, ("en",), DEPARTMENTS, monotonic=lambda: now[0])
    await worker.reindex()

    async def titles() -> list[str]:
        async with uow() as unit:
            return [f.article.title for f in await worker.search(unit, "payment", "en")]

    assert await titles() == ["Refunds of payments"]
    assert await titles() == ["Refunds of payments"]
    assert len(reads) == 1
    # Another worker (the CLI) indexes the folder again: a title changed.
    _write(
        second, "en", "refund", "Refunds of card payments", "Money back for a payment.", "sales"
    )
    await HelpCentre(uow, second, ("en",), DEPARTMENTS).reindex()
    now[0] = 10.0
    assert await titles() == ["Refunds of payments"]  # the copy, as the vocabulary
    now[0] = COPY_SECONDS
    assert await titles() == ["Refunds of card payments"]
    # ...and an article was added: found at once, the copy read again for it.
    _write(second, "en", "declined", "Declined payments", "The payment was declined.", "sales")
    await HelpCentre(uow, second, ("en",), DEPARTMENTS).reindex()
    now[0] = COPY_SECONDS + MISSING_SECONDS
    assert sorted(await titles()) == ["Declined payments", "Refunds of card payments"]
    assert len(reads) == 3
