"""One issue per ticket: spot a description that bundles several unrelated problems.

Support teams decline tickets that mix problems (seed 002), so intake catches them
early and offers to file one ticket per problem. Three signals are recognised, in
this order, and the first that yields two or more parts wins:

1. a numbered (``1.`` / ``1)``) or bulleted (``-``, ``*``, ``•``) list whose items
   have several words each and do not read like the steps of one problem;
2. paragraphs (or, for the explicit "another problem" phrases, sentences)
   introduced by "also", "another problem", "in addition"... in English, Czech,
   Polish and Russian;
3. two or more separate questions.

``split_problems`` returns ``[]`` when the text is one problem, never a single
part, so callers can test ``if parts:``. Every part is a stripped, non-empty
substring of the text.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

# "Several words": two-word items are typically steps ("click save", "error 500").
MIN_ITEM_WORDS = 3

_WORD = re.compile(r"\w+")

# A numbered item marker at the start of a line or after whitespace (customers
# often type a list on one line). The number must be followed by whitespace so
# "1.5" or "v2.0" are not markers.
_NUMBERED = re.compile(r"(?:(?<=\s)|^)(\d{1,2})[.)](?=\s)", re.MULTILINE)
_BULLET = re.compile(r"^[ \t]*[-*•][ \t]+", re.MULTILINE)

# Words that, before a list, announce the steps of one problem rather than a list
# of problems. Matched on folded text (lowercase, no diacritics).
_STEPS_WORDS = re.compile(
    r"(?<!\w)(?:steps?|reproduce|postup|kroky?|krok[uůy]|kroki|odtworz\w*|"
    r"шаги|шаг|воспроизве\w*)(?!\w)"
)

# How the steps of one problem usually begin (folded prefixes, imperative or first
# person): "open", "klikněte", "przejdź", "нажмите"...
_ACTION_STEMS = (
    "open",
    "click",
    "go ",
    "go to",
    "navigat",
    "log in",
    "login",
    "sign in",
    "select",
    "choose",
    "enter",
    "type",
    "press",
    "fill",
    "save",
    "submit",
    "upload",
    "then",
    "after that",
    "otevr",
    "klik",
    "prejd",
    "prejdu",
    "jdu",
    "zadam",
    "zadej",
    "vyber",
    "vloz",
    "uloz",
    "prihlas",
    "vypln",
    "nahraj",
    "potom",
    "pak ",
    "pote",
    "otwier",
    "otworz",
    "przechodz",
    "przejdz",
    "wchodz",
    "wejdz",
    "wybier",
    "wybierz",
    "wpisuj",
    "wpisz",
    "zapisuj",
    "zapisz",
    "loguj",
    "zaloguj",
    "nastepnie",
    "potem",
    "откры",
    "нажим",
    "нажм",
    "нажат",
    "перехож",
    "перейд",
    "перейт",
    "захож",
    "зайд",
    "зайт",
    "выбира",
    "выбер",
    "ввож",
    "введ",
    "ввест",
    "сохраня",
    "сохран",
    "затем",
    "потом",
)

# Paragraph openers that add another matter. "Weak" ones ("also") only count at
# the start of a line; "strong" ones name another problem outright and also count
# at the start of a sentence.
_WEAK_MARKERS = (
    "also",
    "and also",
    "in addition",
    "besides that",
    "besides",
    "také",
    "a také",
    "taky",
    "a taky",
    "kromě toho",
    "a ještě",
    "także",
    "a także",
    "również",
    "poza tym",
    "ponadto",
    "oprócz tego",
    "также",
    "а также",
    "кроме того",
    "и ещё",
    "а ещё",
)
_STRONG_MARKERS = (
    "another problem",
    "another issue",
    "another question",
    "one more problem",
    "one more issue",
    "one more question",
    "second problem",
    "second issue",
    "second question",
    "the second problem",
    "the second issue",
    "další problém",
    "další dotaz",
    "ještě jeden problém",
    "druhý problém",
    "druhý dotaz",
    "jiný problém",
    "kolejny problem",
    "kolejne pytanie",
    "inny problem",
    "drugi problem",
    "drugie pytanie",
    "jeszcze jeden problem",
    "ещё одна проблема",
    "ещё один вопрос",
    "другая проблема",
    "вторая проблема",
    "второй вопрос",
)


def _alternation(phrases: tuple[str, ...]) -> str:
    # Russian writes "ё" as "е" as often as not; accept both spellings.
    variants = {p for phrase in phrases for p in (phrase, phrase.replace("ё", "е"))}
    # Longest first so "and also" wins over "also".
    ordered = sorted(variants, key=len, reverse=True)
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in ordered)


_LINE_MARKER = re.compile(
    r"^[ \t]*(?:p\.?\s*s\.?[ \t,:]*)?(?:"
    + _alternation(_WEAK_MARKERS + _STRONG_MARKERS)
    + r")(?!\w)",
    re.IGNORECASE | re.MULTILINE,
)
_SENTENCE_MARKER = re.compile(
    r"(?<=[.!?])\s+(" + _alternation(_STRONG_MARKERS) + r")(?!\w)",
    re.IGNORECASE,
)

# A question ends at one or more "?" followed by whitespace or the end.
_QUESTION_END = re.compile(r"\?+(?=\s|$)")
# A question that only continues the previous one ("Or is it my settings?") or
# asks for help with it ("What should I do?") is not a separate matter. Matched on
# folded text at the start of the question's own sentence.
_NOT_SEPARATE = re.compile(
    r"^(?:or|nebo|ci|albo|lub|или|либо|"
    r"what (?:should|can|do) i do|can you help|could you help|please help|any ideas?|"
    r"how (?:can|do) i fix (?:it|this)|why|"
    r"co (?:s tim )?(?:mam|mame|delat)|muzete (?:mi )?pomoci|poradite|"
    r"co (?:mam|mamy|robic)|czy mozecie (?:mi )?pomoc|pomozecie|"
    r"что (?:мне )?делать|можете (?:мне )?помочь|подскажите|почему)(?!\w)"
)
_SENTENCE_START = re.compile(r"[^.!?]*$")


def fold(text: str) -> str:
    """Lowercase without diacritics: what keyword matching compares."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def split_problems(text: str) -> list[str]:
    """The separate problems described in ``text``, or ``[]`` if it is one problem."""
    for finder in (_list_items, _marked_paragraphs, _questions):
        parts = finder(text)
        if len(parts) >= 2:
            return parts
    return []


# -- lists ---------------------------------------------------------------------------


def _numbered_starts(text: str) -> list[tuple[int, int]]:
    """(marker start, item start) of a 1, 2, 3... sequence of numbered markers."""
    found: list[tuple[int, int]] = []
    expected = 1
    for match in _NUMBERED.finditer(text):
        if int(match.group(1)) == expected:
            found.append((match.start(), match.end()))
            expected += 1
    return found


def _bullet_starts(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _BULLET.finditer(text)]


def _list_items(text: str) -> list[str]:
    for starts in (_numbered_starts(text), _bullet_starts(text)):
        if len(starts) < 2:
            continue
        items = []
        for index, (_, begin) in enumerate(starts):
            end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
            items.append(text[begin:end].strip())
        preamble = text[: starts[0][0]]
        if _is_list_of_problems(preamble, items):
            return items
    return []


def _is_list_of_problems(preamble: str, items: list[str]) -> bool:
    if any(_words(item) < MIN_ITEM_WORDS for item in items):
        return False
    if _STEPS_WORDS.search(fold(preamble)):
        return False
    # Steps start with an action; problems with a subject. The last item of a
    # steps list is often the symptom ("error 500"), so it does not vote.
    leading = items[:-1]
    actions = sum(1 for item in leading if fold(item).startswith(_ACTION_STEMS))
    return actions * 2 < len(leading) or not leading


# -- paragraphs ----------------------------------------------------------------------


def _marked_paragraphs(text: str) -> list[str]:
    boundaries = {m.start() for m in _LINE_MARKER.finditer(text)}
    boundaries |= {m.start(1) for m in _SENTENCE_MARKER.finditer(text)}
    # The first problem needs no marker; a marker at the very start opens it.
    cuts = sorted(b for b in boundaries if text[:b].strip())
    return _cut(text, cuts)


def _cut(text: str, cuts: list[int]) -> list[str]:
    """Pieces of ``text`` between ``cuts``; a piece too short to be a problem is
    merged into the one before it (or, for the first, after it)."""
    edges = [0, *cuts, len(text)]
    pieces = [text[a:b] for a, b in itertools.pairwise(edges)]
    merged: list[str] = []
    carry = ""
    for piece in pieces:
        piece = carry + piece
        carry = ""
        if _words(piece) >= MIN_ITEM_WORDS:
            merged.append(piece)
        elif merged:
            merged[-1] += piece
        else:
            carry = piece
    if carry and merged:
        merged[-1] += carry
    parts = [p.strip() for p in merged if p.strip()]
    return parts if len(parts) >= 2 else []


# -- questions -----------------------------------------------------------------------


def _questions(text: str) -> list[str]:
    ends = [m.end() for m in _QUESTION_END.finditer(text)]
    if len(ends) < 2:
        return []
    cuts: list[int] = []
    start = 0
    for end in ends:
        question = text[start:end]
        sentence = _SENTENCE_START.search(question.rstrip("?"))
        own = (sentence.group(0) if sentence else question).strip()
        separate = _words(own) >= MIN_ITEM_WORDS and not _NOT_SEPARATE.match(fold(own))
        if separate and start > 0:
            cuts.append(start)
        start = end
    # Text after the last question (a greeting, "thanks") belongs to the last part.
    return _cut(text, cuts)
