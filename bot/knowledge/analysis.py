"""Text -> search terms, the same way for documents and queries.

Words are cut with the Snowball stemmer of the text's language (Czech, Polish,
Russian, English), then lower-cased and stripped of diacritics: ``platbou``,
``platby`` and ``PLATBY`` all become ``platb``, ``płatności`` and ``platnosci`` both
``platnosc``. Stemming comes first because the stemmers know the accented endings;
stripping afterwards makes a query typed without diacritics meet the same stem. The
terms hold only letters and digits, so every full-text engine tokenises them alike.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

import snowballstemmer  # type: ignore[import-untyped]

STEMMERS = {"en": "english", "cs": "czech", "pl": "polish", "ru": "russian"}
_WORD = re.compile(r"[^\W_]+")
# Letters NFKD does not take apart (a stroke is not a combining mark).
_PLAIN = str.maketrans({"ł": "l", "đ": "d", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe"})
MIN_LENGTH = 2


# Words too common to tell articles apart; the ranking's idf would mostly discount
# them, but they also make every document a candidate.
def _split(words: str) -> tuple[str, ...]:
    return tuple(words.split())


# Words too common to tell articles apart; the ranking's idf would mostly discount
# them, but they also make every document a candidate.
STOPWORDS = {
    "en": frozenset(
        _split(
            "a an and are as at be by can do does for from how i if in is it my of on or "
            "so the this to was we what when where which why with you your me not no"
        )
    ),
    "cs": frozenset(
        _split(
            "a aby ale ani co do i jak je jsem jsou k kde když ma mi mne mně na nebo neni "
            "není o od po pro s se si ta to tu u v ve z za že"
        )
    ),
    "pl": frozenset(
        _split(
            "a ale albo bo co czy do i jak jest już mi mnie na nie o od po się sie ta to "
            "w we z za że ze jak jaki gdzie kiedy"
        )
    ),
    "ru": frozenset(
        _split(
            "а без в во да для до же за и из или к как когда ли на не нет но о об от по "
            "при с со то у что это я мне мой где"
        )
    ),
}


def plain(text: str) -> str:
    """Lower-cased, without diacritics (``Příliš`` -> ``prilis``, ``ё`` -> ``е``)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_PLAIN))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=8)
def _stemmer(lang: str) -> Any:
    return snowballstemmer.stemmer(STEMMERS.get(lang, "english"))


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased (diacritics kept for the stemmers)."""
    return _WORD.findall(text.casefold())


@lru_cache(maxsize=65536)
def term(word: str, lang: str) -> str:
    """One word's search term in ``lang``."""
    return plain(str(_stemmer(lang).stemWord(word)))


def terms(text: str, lang: str, *, stopwords: bool = True) -> list[str]:
    """The search terms of ``text`` in order (repeats kept: they are term frequencies).
    Stop words and one-letter words are left out unless that would leave nothing."""
    found = words(text)
    stop = STOPWORDS.get(lang, frozenset()) if stopwords else frozenset()
    kept = [w for w in found if len(w) >= MIN_LENGTH and plain(w) not in stop and w not in stop]
    return [term(w, lang) for w in (kept or found)]
