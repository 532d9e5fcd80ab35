"""Spot a new request that repeats one of the customer's open tickets.

Seed 002 asks customers not to re-send a request that was already acknowledged;
intake compares the new title and description with the open tickets and offers to
add to the similar one instead. The comparison is deliberately simple and
language-agnostic: fold case and diacritics (customers type Czech and Polish with
and without them), drop short words and stop words, cut words to a short prefix
(a poor man's stemmer for inflected languages: "košík", "košíku", "košíkem"), and
take the cosine of the two token sets with the title counted double.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from bot.dialog import TicketBrief
from conversations.splitting import fold

DEFAULT_THRESHOLD = 0.55
TITLE_WEIGHT = 2.0
DESCRIPTION_WEIGHT = 1.0
# Shorter words carry little meaning ("is", "na", "в"); numbers like "500" stay.
MIN_TOKEN_LENGTH = 3
# Inflected languages change word endings; comparing prefixes matches the forms.
STEM_LENGTH = 5

_TOKEN = re.compile(r"\w+")

# Written folded (lowercase, no diacritics), as tokens are compared. Words every
# support request uses ("error", "does not work") say nothing about which problem.
_STOP_WORDS_TEXT = """
    the and for with this that from have has had not but are was were you your our
    can could would should will when what where which who how why there their them
    they then than into onto also just please thanks thank hello dear does did done
    get got its it's been being some any all very too more most only after before
    a aby ale ani jak jako jsem jsme jsou jste kde kdy ktery ktera ktere mam mame
    muj moje nas nebo neni pri pro proc pod podle protoze se sve tak take taky tam
    ten tento tato tuto uz vas vase zda dobry den dekuji prosim jeste
    ale albo ani bardzo byc bylo czy dla gdy gdzie jak jaki jest juz kiedy ktory
    mam mamy moj moja nie oraz pan pani przez przy sie tak tego tej ten to tylko
    wiec z ze zeby dzien dziekuje prosze rowniez takze
    бы был была были было вам вас все всё где да для его ее если есть еще ещё
    как когда кто мне мой моя на не нет но они от по при про так также там то
    тоже уже что чтобы это эта этот здравствуите спасибо пожалуиста
    error errors problem problems issue issues bug work works working doesn
    chyba chyby chybu chybou problemu nefunguje funguje
    blad bledu bledy problemy dziala
    ошибка ошибки ошибку проблема проблемы работает
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def tokens(text: str) -> frozenset[str]:
    """The comparable words of ``text``: folded, stemmed, without stop words."""
    out = set()
    for word in _TOKEN.findall(fold(text)):
        if len(word) < MIN_TOKEN_LENGTH or word in STOP_WORDS:
            continue
        out.add(word[:STEM_LENGTH])
    return frozenset(out)


def _vector(title: str, description: str) -> dict[str, float]:
    vector: dict[str, float] = {}
    for token in tokens(title):
        vector[token] = vector.get(token, 0.0) + TITLE_WEIGHT
    for token in tokens(description):
        vector[token] = vector.get(token, 0.0) + DESCRIPTION_WEIGHT
    return vector


def similarity(title_a: str, description_a: str, title_b: str, description_b: str) -> float:
    """Cosine similarity (0..1) of two requests, the titles weighted more."""
    a = _vector(title_a, description_a)
    b = _vector(title_b, description_b)
    if not a or not b:
        return 0.0
    dot = sum(weight * b.get(token, 0.0) for token, weight in a.items())
    norm = math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values()))
    return dot / norm


def find_similar(
    title: str,
    description: str,
    tickets: Sequence[TicketBrief],
    threshold: float = DEFAULT_THRESHOLD,
) -> TicketBrief | None:
    """The ticket most similar to the new request, if any reaches ``threshold``."""
    best: TicketBrief | None = None
    best_score = 0.0
    for ticket in tickets:
        score = similarity(title, description, ticket.title, ticket.description)
        # Ties go to the first (the desk lists the customer's tickets newest first).
        if score >= threshold and (best is None or score > best_score):
            best, best_score = ticket, score
    return best
