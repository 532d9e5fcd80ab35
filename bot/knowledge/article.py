"""Help articles: Markdown files, one folder per language (``<folder>/<lang>/*.md``).

A file starts with a small header between ``---`` lines, then the body::

    ---
    title: A card payment was declined
    keywords: payment, card, declined, invoice
    departments: sales
    ---
    Markdown text...

The file name (without ``.md``) is the article's id: the same name in two language
folders is the same article translated, which is how a customer whose language lacks
an article gets the English one.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

# Short: buttons carry it (Telegram's callback data is at most 64 bytes).
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,47}$")
TITLE_MAX = 120
BODY_MAX = 20_000
FIELDS = ("title", "keywords", "departments")


@dataclass(frozen=True, slots=True)
class Article:
    slug: str
    lang: str
    title: str
    keywords: tuple[str, ...]
    departments: tuple[str, ...]
    body: str

    @property
    def key(self) -> str:
        """The article in one language: ``slug/lang``."""
        return f"{self.slug}/{self.lang}"


@dataclass(frozen=True, slots=True)
class ArticleBrief:
    """What a conversation keeps of an article it offered."""

    slug: str
    lang: str
    title: str


def brief(article: Article) -> ArticleBrief:
    return ArticleBrief(article.slug, article.lang, article.title)


_EMPHASIS = re.compile(r"(\*\*|__|`)")


def readable(body: str) -> str:
    """The body as chat text: Markdown's emphasis and code marks taken out (channels
    escape what is left; lists and paragraphs read fine as they are)."""
    return _EMPHASIS.sub("", body)


class FeedbackReason(StrEnum):
    """Why an article did not help (seed 001)."""

    OUTDATED = "outdated"
    UNCLEAR = "unclear"
    UNSOLVED = "unsolved"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Feedback:
    """One customer's answer to "Was this helpful?" about one article (a later answer
    of the same customer replaces it). Not helpful always has a reason."""

    at: datetime
    customer: str
    slug: str
    lang: str
    helpful: bool
    reason: FeedbackReason | None = None
    comment: str = ""


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    """What customers said about one article: yes, no, and the no's per reason."""

    slug: str
    lang: str
    helpful: int
    not_helpful: int
    reasons: dict[str, int]
    comments: tuple[str, ...] = ()


class ArticleError(ValueError):
    """A help file that cannot be used, and why (for ``python -m bot help check``)."""


def parse_article(text: str, slug: str, lang: str) -> Article:
    """One article from its file's text; ``ArticleError`` says what is wrong."""
    if not SLUG.match(slug):
        raise ArticleError(f"file name {slug!r}: use lower-case letters, digits and '-'")
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise ArticleError("the file must start with a '---' header")
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        raise ArticleError("the header has no closing '---'") from None
    header: dict[str, str] = {}
    for line in lines[1:end]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition(":")
        name = name.strip().lower()
        if not sep or name not in FIELDS:
            raise ArticleError(f"header line {line.strip()!r}: expected one of {FIELDS}")
        header[name] = value.strip()
    title = " ".join(header.get("title", "").split())
    if not title:
        raise ArticleError("no title")
    if len(title) > TITLE_MAX:
        raise ArticleError(f"title longer than {TITLE_MAX} characters")
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise ArticleError("no body")
    if len(body) > BODY_MAX:
        raise ArticleError(f"body longer than {BODY_MAX} characters")
    departments = _listed(header.get("departments", ""))
    if not departments:
        raise ArticleError("no departments")
    return Article(
        slug=slug,
        lang=lang,
        title=title,
        keywords=_listed(header.get("keywords", "")),
        departments=departments,
        body=body,
    )


def _listed(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def render_article(article: Article) -> str:
    """The file text of ``article`` (``parse_article`` reads it back)."""
    return (
        "---\n"
        f"title: {article.title}\n"
        f"keywords: {', '.join(article.keywords)}\n"
        f"departments: {', '.join(article.departments)}\n"
        "---\n"
        f"{article.body}\n"
    )


@dataclass(frozen=True, slots=True)
class Loaded:
    """A folder's articles, and the problems of the files that could not be used."""

    articles: tuple[Article, ...]
    problems: tuple[str, ...]


def load_folder(folder: Path, languages: Collection[str], departments: Collection[str]) -> Loaded:
    """Every ``<folder>/<lang>/*.md`` of the desk's languages. A file with a problem is
    left out and reported; so is an article naming a department the policy lacks."""
    articles: list[Article] = []
    problems: list[str] = []
    if not folder.is_dir():
        return Loaded((), (f"{folder}: no such folder",))
    for lang in sorted(languages):
        for path in sorted((folder / lang).glob("*.md")):
            where = f"{lang}/{path.name}"
            try:
                article = parse_article(path.read_text(encoding="utf-8"), path.stem, lang)
            except (ArticleError, UnicodeDecodeError) as exc:
                problems.append(f"{where}: {exc}")
                continue
            unknown = [d for d in article.departments if d not in departments]
            if unknown:
                problems.append(f"{where}: unknown departments {', '.join(unknown)}")
                continue
            articles.append(article)
    return Loaded(tuple(articles), tuple(problems))
