"""Rendering neutral replies for Telegram: escaping, keyboards, splitting."""

from __future__ import annotations

from html.parser import HTMLParser

from fake_telegram import check_html

from bot.i18n import Translator
from bot.reply import Choice, Reply, Text
from handlers.telegram.render import (
    CALLBACK_LIMIT,
    TEXT_LIMIT,
    CallbackCodec,
    Renderer,
    split_text,
)

CATALOG = {
    "en": {
        "notice.answer": "<b>{agent}</b> answered #{number}:\n{text}",
        "status.new": "New",
        "desk.ticket_view": "#{number} <i>{title}</i> — {status}",
        "choice.open_ticket": "Open #{number}",
        "choice.yes": "Yes & go",
        "desk.ticket_line": "#{number} {title}",
    },
    "cs": {"status.new": "Nový", "desk.ticket_view": "#{number} <i>{title}</i> — {status}"},
}


def renderer() -> Renderer:
    return Renderer(Translator(CATALOG))


def test_user_text_is_escaped_and_templates_are_not() -> None:
    reply = Reply("notice.answer", {"agent": "<b>Eve</b>", "number": 7, "text": "a & b <i>"})
    rendered = renderer().reply(reply, "en")
    assert rendered.parts == ("<b>&lt;b&gt;Eve&lt;/b&gt;</b> answered #7:\na &amp; b &lt;i&gt;",)
    assert check_html(rendered.parts[0]) is None
    assert rendered.markup is None


def test_translated_parameters_and_fallback_language() -> None:
    reply = Reply("desk.ticket_view", {"number": 3, "title": "R&D", "status": Text("status.new")})
    assert renderer().reply(reply, "cs").parts == ("#3 <i>R&amp;D</i> — Nový",)
    assert renderer().reply(reply, "pl").parts == ("#3 <i>R&amp;D</i> — New",)


def test_choices_become_buttons_with_plain_labels() -> None:
    reply = Reply(
        "status.new",
        choices=(
            Choice("ticket:12", "choice.open_ticket", {"number": 12}),
            Choice("yes", "choice.yes"),
        ),
    )
    markup = renderer().reply(reply, "en").markup
    assert markup is not None
    buttons = [row[0] for row in markup.inline_keyboard]
    assert [b.text for b in buttons] == ["Open #12", "Yes & go"]
    assert [b.callback_data for b in buttons] == ["c:ticket:12", "c:yes"]


async def test_long_choice_values_travel_as_tokens() -> None:
    codec = CallbackCodec()
    value = "split:" + "x" * 100
    data = codec.encode(value)
    assert len(data.encode()) <= CALLBACK_LIMIT
    assert data == codec.encode(value)  # stable
    assert await codec.decode(data) == value
    assert await codec.decode("c:ticket:1") == "ticket:1"
    # Forged or foreign data decodes to nothing.
    assert await codec.decode("k:forged") is None
    assert await codec.decode("zz:1") is None
    # Multi-byte values are measured in bytes, as Telegram does.
    assert len(codec.encode("ž" * 40).encode()) <= CALLBACK_LIMIT


async def test_tokens_survive_through_the_link_store() -> None:
    class Links:
        def __init__(self) -> None:
            self.rows: dict[tuple[str, str, str], str] = {}

        async def get(self, channel: str, kind: str, key: str) -> str | None:
            return self.rows.get((channel, kind, key))

        async def set(self, channel: str, kind: str, key: str, value: str) -> None:
            self.rows[(channel, kind, key)] = value

        async def find(self, channel: str, kind: str, value: str) -> str | None:
            return None

    links = Links()
    first = CallbackCodec(links)
    data = first.encode("v" * 80)
    await first.save()
    assert await CallbackCodec(links).decode(data) == "v" * 80


def test_list_lines_are_joined_into_one_message() -> None:
    replies = [
        Reply("desk.ticket_line", {"number": 1, "title": "a"}),
        Reply(
            "desk.ticket_line",
            {"number": 2, "title": "b"},
            (Choice("ticket:2", "choice.open_ticket", {"number": 2}),),
        ),
        Reply("status.new"),
    ]
    out = renderer().replies(replies, "en")
    assert [r.parts for r in out] == [("#1 a\n#2 b",), ("New",)]
    assert out[0].markup is not None and out[1].markup is None


def test_short_text_is_not_split() -> None:
    assert split_text("hello") == ["hello"]


def test_long_text_is_split_at_line_boundaries() -> None:
    lines = [f"line {i:05d} " + "y" * 80 for i in range(200)]
    text = "\n".join(lines)
    parts = split_text(text)
    assert len(parts) > 1
    assert all(len(p) <= TEXT_LIMIT for p in parts)
    # Nothing lost, nothing cut mid-line.
    assert "\n".join(parts) == text
    assert all(p.split("\n")[0].startswith("line ") for p in parts)


def test_split_keeps_html_balanced_and_entities_whole() -> None:
    body = ("word &amp; " * 900).strip()
    text = f"<b>Answer</b>\n<blockquote>{body}</blockquote>"
    parts = split_text(text)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= TEXT_LIMIT
        assert check_html(part) is None, part[:80]

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.data = ""

        def handle_data(self, data: str) -> None:
            self.data += data

    def plain(s: str) -> str:
        p = Text()
        p.feed(s)
        return p.data.replace("\n", " ").replace(" ", "")

    assert "".join(plain(p) for p in parts) == plain(text)


def test_a_single_huge_line_is_cut_hard() -> None:
    parts = split_text("z" * 10_000)
    assert [len(p) for p in parts] == [4096, 4096, 1808]


def test_card_button_data_with_an_impossible_ticket_number_is_no_button() -> None:
    from handlers.telegram.cards import AgentButton

    assert AgentButton.parse("a:claim:12") == AgentButton("claim", 12, "")
    assert AgentButton.parse("a:claim:" + "9" * 60) is None  # was a database error
    assert AgentButton.parse("a:claim:²") is None  # a digit, but not a number we made
    assert AgentButton.parse("a:claim:-1") is None
