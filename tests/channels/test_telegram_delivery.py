"""The Telegram notifier against the fake Bot API: limits, failures, topics, cards."""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import UTC, datetime

import pytest
from aiogram import Bot
from fake_telegram import FakeTelegram
from telegram_support import MemoryLinks, TicketBook

from bot.i18n import Translator
from bot.notification import Audience, Notification
from bot.participant import Participant
from bot.policy import load_policy
from bot.ports import DeliveryError, RecipientUnreachable
from bot.reply import Choice, Text
from bot.ticket import Attachment, EntryKind, Status, ThreadEntry
from handlers.telegram import delivery
from handlers.telegram.delivery import TelegramNotifier
from handlers.telegram.pacing import Limits, SendPacer
from handlers.telegram.render import Renderer

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
TEAM = -100200


def note(audience: Audience, recipient: str, key: str, **kw: object) -> Notification:
    return Notification(
        channel="telegram",
        audience=audience,
        recipient=recipient,
        key=key,
        created_at=NOW,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def translator() -> Translator:
    return Translator.load(load_policy().labels())


@pytest.fixture
def book() -> TicketBook:
    return TicketBook()


@pytest.fixture
def links() -> MemoryLinks:
    return MemoryLinks()


@pytest.fixture
def notifier(
    bot: Bot, translator: Translator, links: MemoryLinks, book: TicketBook
) -> TelegramNotifier:
    fast = SendPacer(Limits(per_chat_per_second=50, chat_burst=50, per_group_per_minute=6000))
    return TelegramNotifier(bot, Renderer(translator), links, book, pacer=fast)


async def test_customer_gets_escaped_text_and_buttons(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier
) -> None:
    fake_telegram.user(501, "Alice")
    n = note(
        Audience.CUSTOMER,
        "501",
        "notice.resolved",
        params={"number": 12, "title": "<b>x</b>", "text": "Fixed & deployed <now>"},
        choices=(
            Choice("confirm:12", "choice.confirm_resolution"),
            Choice("dispute:12", "choice.dispute_resolution"),
        ),
        ticket_number=12,
    )
    await notifier.deliver(n)
    call = fake_telegram.calls_of("sendMessage")[-1]
    assert call.params["chat_id"] == 501
    assert "Fixed &amp; deployed &lt;now&gt;" in call.params["text"]
    data = [row[0]["callback_data"] for row in call.params["reply_markup"]["inline_keyboard"]]
    assert data == ["c:confirm:12", "c:dispute:12"]
    # Delivered once: a retry of the same notification sends nothing visible again.
    await notifier.deliver(n)
    assert len(fake_telegram.calls_of("sendMessage")) == 1


async def test_a_long_answer_arrives_in_parts(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier
) -> None:
    fake_telegram.user(501, "Alice")
    text = "\n".join(f"step {i}: " + "do this & that " * 5 for i in range(150))
    await notifier.deliver(
        note(
            Audience.CUSTOMER,
            "501",
            "notice.answer",
            params={"number": 3, "title": "t", "agent": "Eve", "text": text, "files": 0},
        )
    )
    parts = [c.params["text"] for c in fake_telegram.calls_of("sendMessage")]
    assert len(parts) >= 3
    assert all(len(p) <= 4096 for p in parts)


async def test_429_becomes_retry_after(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier
) -> None:
    fake_telegram.user(501, "Alice")
    fake_telegram.fail_next("sendMessage", 429, retry_after=7)
    n = note(Audience.CUSTOMER, "501", "notice.closed", params={"number": 1, "title": "t"})
    with pytest.raises(DeliveryError) as err:
        await notifier.deliver(n)
    assert err.value.retry_after == 7
    await notifier.deliver(n)
    assert len(fake_telegram.calls_of("sendMessage")) == 2


async def test_network_error_is_a_delivery_error(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier
) -> None:
    fake_telegram.user(501, "Alice")
    fake_telegram.network_error_next("sendMessage")
    with pytest.raises(DeliveryError) as err:
        await notifier.deliver(
            note(Audience.CUSTOMER, "501", "notice.closed", params={"number": 1})
        )
    assert err.value.retry_after is None


async def test_blocked_customer_is_unreachable(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier
) -> None:
    fake_telegram.user(501, "Alice")
    fake_telegram.block_user(501)
    with pytest.raises(RecipientUnreachable):
        await notifier.deliver(
            note(Audience.CUSTOMER, "501", "notice.closed", params={"number": 1})
        )


async def test_forum_topic_per_ticket_with_card_edited_and_closed(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier, book: TicketBook
) -> None:
    fake_telegram.add_group(TEAM, "Technical", forum=True)
    ticket = book.add(
        12,
        attachments=[Attachment("PHOTO1", "shot.jpg", "image/jpeg", 1000, "telegram", "photo")],
    )
    ticket.description = "<script>"
    fake_telegram.files["PHOTO1"] = {
        "file_id": "PHOTO1",
        "file_unique_id": "u1",
        "file_size": 1000,
        "file_path": "photos/1",
        "content": b"x",
    }
    base = {
        "number": 12,
        "title": ticket.title,
        "customer": "Alice",
        "status": Text("status.new"),
        "department": Text("department.technical"),
        "category": Text("category.bug"),
        "priority": Text("priority.normal"),
        "assignee": "—",
    }
    opened = base | {
        "description": "<script>",
        "steps": "—",
        "support_number": "—",
        "domain": "—",
        "phone": "—",
        "files": 1,
        "critical": False,
    }
    await notifier.deliver(
        note(Audience.TEAM, str(TEAM), "team.ticket_opened", params=opened, ticket_number=12)
    )
    topics = fake_telegram.calls_of("createForumTopic")
    assert [c.params["name"] for c in topics] == ["#12 Printer prints nothing"]
    thread = next(iter(fake_telegram.topics[TEAM]))
    sends = fake_telegram.calls_of("sendMessage")
    assert all(c.params["message_thread_id"] == thread for c in sends)
    card = sends[0]
    buttons = [
        b["callback_data"] for row in card.params["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert buttons == [
        "a:claim:12",
        "a:ask:12",
        "a:resolve:12",
        "a:decline:12",
        "a:transfer:12",
        "a:block:12",
    ]
    # One message: the card says what the customer wrote (escaped), no separate notice.
    assert len(sends) == 1
    assert "&lt;script&gt;" in card.params["text"]
    assert fake_telegram.calls_of("sendPhoto")[0].params["photo"] == "PHOTO1"

    # A change edits the card in place; no second topic.
    ticket.status, ticket.assignee_name = Status.ACCEPTED, "Eve"
    ticket.assignee = Participant("telegram", "700")
    await notifier.deliver(
        note(
            Audience.TEAM,
            str(TEAM),
            "team.claimed",
            params=base | {"agent": "Eve"},
            ticket_number=12,
        )
    )
    edit = fake_telegram.calls_of("editMessageText")[-1]
    assert edit.params["message_id"] == card_id(fake_telegram, card)
    assert "Eve" in edit.params["text"]
    # Claimed: its Claim button now says what it does (hands the ticket over).
    first = edit.params["reply_markup"]["inline_keyboard"][0][0]
    assert (first["text"], first["callback_data"]) == ("Take over", "a:claim:12")
    assert len(fake_telegram.calls_of("createForumTopic")) == 1

    # Closing the ticket closes its topic, after saying so in it.
    ticket.status = Status.CLOSED
    await notifier.deliver(
        note(
            Audience.TEAM,
            str(TEAM),
            "team.status",
            params=base | {"by": "Alice", "text": ""},
            ticket_number=12,
        )
    )
    assert fake_telegram.topics[TEAM][thread]["closed"]
    assert "reply_markup" not in fake_telegram.calls_of("editMessageText")[-1].params


def card_id(fake: FakeTelegram, call: object) -> int:
    for (chat, mid), msg in fake.messages.items():
        if chat == TEAM and msg.get("reply_markup") and "a:claim:12" in str(msg["reply_markup"]):
            return mid
    raise AssertionError("no card")


async def test_plain_group_gets_one_card_and_replies_to_it(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier, book: TicketBook, links: MemoryLinks
) -> None:
    fake_telegram.add_group(TEAM, "Technical")
    ticket = book.add(5)
    ticket.entries.append(
        ThreadEntry(
            EntryKind.CUSTOMER,
            "more info",
            NOW,
            attachments=(Attachment("DOC1", "log.txt", "text/plain", 10, "telegram"),),
        )
    )
    fake_telegram.files["DOC1"] = {
        "file_id": "DOC1",
        "file_unique_id": "u2",
        "file_size": 10,
        "file_path": "d/1",
        "content": b"x",
    }
    params = {"number": 5, "title": ticket.title, "text": "more info", "files": 1}
    await notifier.deliver(
        note(Audience.TEAM, str(TEAM), "team.customer_wrote", params=params, ticket_number=5)
    )
    await notifier.deliver(
        note(
            Audience.TEAM,
            str(TEAM),
            "team.customer_wrote",
            params=params | {"files": 0, "text": "again"},
            ticket_number=5,
        )
    )
    assert fake_telegram.calls_of("createForumTopic") == []
    sends = fake_telegram.calls_of("sendMessage")
    card = sends[0]
    assert "reply_markup" in card.params
    card_message = max(
        mid
        for (c, mid) in fake_telegram.messages
        if c == TEAM and fake_telegram.messages[(c, mid)].get("reply_markup")
    )
    assert all(c.params["reply_parameters"]["message_id"] == card_message for c in sends[1:])
    doc = fake_telegram.calls_of("sendDocument")[0]
    assert doc.params["document"] == "DOC1"
    # Every message about the ticket can be replied to: it maps back to the ticket.
    assert await links.get("telegram", "msg", f"{TEAM}:{card_message}") == "5"


async def test_escalation_reply_in_the_community_links_to_a_private_chat(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier
) -> None:
    group = fake_telegram.add_group(-100300, "Community")
    post = fake_telegram.push_message(group["id"], fake_telegram.user(600, "Bob"), "broken")
    await notifier.deliver(
        note(
            Audience.COMMUNITY,
            f"-100300:{post['message_id']}",
            "community.escalated",
            params={"number": 9, "title": "broken"},
            ticket_number=9,
        )
    )
    call = fake_telegram.calls_of("sendMessage")[-1]
    assert call.params["chat_id"] == -100300
    assert call.params["reply_parameters"]["message_id"] == post["message_id"]
    url = call.params["reply_markup"]["inline_keyboard"][0][0]["url"]
    assert url == "https://t.me/supportbot_test?start=t9"


async def test_pacing_keeps_one_chat_near_one_message_a_second() -> None:
    pacer = SendPacer(Limits(per_chat_per_second=20, chat_burst=2))
    start = time.monotonic()
    for _ in range(6):
        await pacer.wait(501)
    # 2 at once, then 4 more at 20/s: at least 0.2 s.
    assert time.monotonic() - start >= 0.19


async def test_a_429_holds_that_chat_for_its_retry_after_and_no_other(
    fake_telegram: FakeTelegram, bot: Bot, translator: Translator, book: TicketBook
) -> None:
    from aiogram.exceptions import TelegramRetryAfter

    from handlers.telegram.pacing import PacerFeedback

    pacer = SendPacer(Limits(per_chat_per_second=50, chat_burst=50))
    bot.session.middleware(PacerFeedback(pacer))
    notifier = TelegramNotifier(bot, Renderer(translator), MemoryLinks(), book, pacer=pacer)
    fake_telegram.user(501, "Alice")
    fake_telegram.user(502, "Bob")
    fake_telegram.fail_next("sendMessage", 429, retry_after=1)
    with pytest.raises(TelegramRetryAfter):
        await notifier.send_text(501, "first")
    refused = fake_telegram.calls_of("sendMessage")[-1]
    await notifier.send_text(502, "elsewhere")  # another chat is not held
    await notifier.send_text(501, "second")  # whatever sends it next waits
    elsewhere, second = fake_telegram.calls_of("sendMessage")[-2:]
    assert elsewhere.at - refused.at < 0.5
    assert second.at - refused.at >= 0.95
    assert second.params["text"] == "second"


def wrote(number: int, title: str, text: str, **kw: object) -> Notification:
    params = {"number": number, "title": title, "customer": "Alice", "text": text} | kw
    return note(
        Audience.TEAM, str(TEAM), "team.customer_wrote", params=params, ticket_number=number
    )


async def test_a_run_joins_each_tickets_messages_and_edits_its_card_once(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier, book: TicketBook
) -> None:
    fake_telegram.add_group(TEAM, "Technical", forum=True)
    printer = book.add(12)
    book.add(13, title="Scanner")
    await notifier.deliver(wrote(12, "Printer prints nothing", "first"))  # topic and card
    await notifier.deliver(wrote(13, "Scanner", "hello"))
    mark = fake_telegram.mark()
    printer.status, printer.assignee_name = Status.ACCEPTED, "Eve"  # #12's card changes

    await notifier.deliver_run(
        [
            wrote(12, "Printer prints nothing", "<b>second</b>"),
            wrote(13, "Scanner", "still broken"),
            wrote(12, "Printer prints nothing", "third"),
            wrote(12, "Printer prints nothing", "fourth"),
        ]
    )
    calls = fake_telegram.calls_of(
        "sendMessage", "editMessageText", "createForumTopic", after=mark
    )
    # Per ticket one message with all its texts; #12's card edited once, #13's (which
    # shows what it should already) not at all; no new topic.
    assert [c.name for c in calls] == ["editmessagetext", "sendmessage", "sendmessage"]
    assert "Eve" in calls[0].params["text"]
    topics = {
        n: t for t, n in ((t, info["name"]) for t, info in fake_telegram.topics[TEAM].items())
    }
    joined = calls[1].params
    assert joined["message_thread_id"] == topics["#12 Printer prints nothing"]
    assert joined["text"].count("Alice writes:") == 3  # each part still attributed
    assert joined["text"].index("&lt;b&gt;second") < joined["text"].index("third")
    assert joined["text"].index("third") < joined["text"].index("fourth")
    assert calls[2].params["message_thread_id"] == topics["#13 Scanner"]
    assert "still broken" in calls[2].params["text"]


async def test_a_run_reads_its_tickets_together_and_again_once_that_is_old(
    fake_telegram: FakeTelegram,
    bot: Bot,
    translator: Translator,
    links: MemoryLinks,
    book: TicketBook,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_telegram.add_group(TEAM, "Technical", forum=True)
    fast = SendPacer(Limits(per_chat_per_second=50, chat_burst=50, per_group_per_minute=6000))
    notifier = TelegramNotifier(
        bot, Renderer(translator), links, book, tickets_many=book.many, pacer=fast
    )
    titles = {12: "Printer prints nothing", 13: "Scanner", 14: "Router"}
    for number, title in titles.items():
        book.add(number, title=title)
        await notifier.deliver(wrote(number, title, "opening"))  # one by one: alone
    assert book.reads == [12, 13, 14]
    book.reads.clear()
    printer = book.tickets[12]
    printer.status, printer.assignee_name = Status.ACCEPTED, "Eve"
    mark = fake_telegram.mark()

    await notifier.deliver_run([wrote(n, title, "again") for n, title in titles.items()])

    assert book.reads == [[12, 13, 14]]  # one read for the run
    edited = fake_telegram.calls_of("editMessageText", after=mark)
    assert len(edited) == 1 and "Eve" in edited[0].params["text"]
    sent = fake_telegram.calls_of("sendMessage", after=mark)
    assert [c.params["text"].rsplit("\n", 1)[1] for c in sent] == ["again"] * 3

    # A run slower than that (a group paced to 20 messages a minute) reads each ticket
    # again when its turn comes: its card shows the ticket as it is then.
    monkeypatch.setattr(delivery, "RUN_READ_FRESH", 0.0)
    book.reads.clear()
    printer.status = Status.WAITING
    await notifier.deliver_run([wrote(n, title, "later") for n, title in titles.items()])
    assert book.reads == [[12, 13, 14], 12, 13, 14]
    assert len(fake_telegram.calls_of("editMessageText")) == 2


async def test_urgent_news_goes_first_in_a_run(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier, book: TicketBook
) -> None:
    fake_telegram.add_group(TEAM, "Technical", forum=True)
    book.add(12)
    book.add(14, title="Site down")
    opened = {
        "number": 14,
        "title": "Site down",
        "customer": "Bob",
        "department": Text("department.technical"),
        "category": Text("category.bug"),
        "priority": Text("priority.critical"),
        "description": "All pages 500",
        "steps": "—",
        "support_number": "—",
        "domain": "—",
        "phone": "—",
        "files": 0,
        "critical": True,
    }
    await notifier.deliver_run(
        [
            wrote(12, "Printer prints nothing", "routine"),
            note(Audience.TEAM, str(TEAM), "team.ticket_opened", params=opened, ticket_number=14),
        ]
    )
    names = [c.params["name"] for c in fake_telegram.calls_of("createForumTopic")]
    assert names == ["#14 Site down", "#12 Printer prints nothing"]


async def test_a_run_cut_by_429_sends_nothing_twice_on_its_retry(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier, book: TicketBook
) -> None:
    fake_telegram.add_group(TEAM, "Technical", forum=True)
    book.add(12)
    book.add(13, title="Scanner")
    run = [wrote(12, "Printer prints nothing", "a"), wrote(13, "Scanner", "b")]
    await notifier.deliver(wrote(12, "Printer prints nothing", "opening"))
    await notifier.deliver(wrote(13, "Scanner", "opening"))
    mark = fake_telegram.mark()
    # Ticket 12's message goes out; ticket 13's gets a 429.
    fake_telegram.fail_next("sendMessage", 429, retry_after=1, passing=1)
    with pytest.raises(DeliveryError):
        await notifier.deliver_run(run)
    await notifier.deliver_run(run)  # the relay's retry of the same run
    tried = [c.params["text"] for c in fake_telegram.calls_of("sendMessage", after=mark)]
    assert sum("\na" in t for t in tried) == 1  # not sent again on the retry
    assert sum("\nb" in t for t in tried) == 2  # refused once, then sent
    shown = [m.get("text", "") for m in fake_telegram.messages.values()]
    assert sum("\na" in t for t in shown) == sum("\nb" in t for t in shown) == 1


async def test_a_card_that_shows_the_ticket_already_is_not_edited_again(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier, book: TicketBook
) -> None:
    fake_telegram.add_group(TEAM, "Technical", forum=True)
    ticket = book.add(12)
    for text in ("one", "two"):
        await notifier.deliver(wrote(12, "Printer prints nothing", text))
    assert fake_telegram.calls_of("editMessageText") == []  # nothing changed on the card
    ticket.status = Status.ACCEPTED
    await notifier.deliver(wrote(12, "Printer prints nothing", "three"))
    await notifier.deliver(wrote(12, "Printer prints nothing", "four"))
    assert len(fake_telegram.calls_of("editMessageText")) == 1


async def test_in_a_run_each_messages_files_come_before_the_next_message(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier, book: TicketBook
) -> None:
    fake_telegram.add_group(TEAM, "Technical", forum=True)
    ticket = book.add(12)
    await notifier.deliver(wrote(12, "Printer prints nothing", "first"))
    shot = Attachment("PHOTO1", "shot.jpg", "image/jpeg", 1000, "telegram", "photo")
    fake_telegram.files["PHOTO1"] = {
        "file_id": "PHOTO1",
        "file_unique_id": "u1",
        "file_size": 1000,
        "file_path": "photos/1",
        "content": b"x",
    }
    ticket.entries.append(
        ThreadEntry(EntryKind.CUSTOMER, "the red circle", NOW, attachments=(shot,))
    )
    mark = fake_telegram.mark()
    await notifier.deliver_run(
        [
            wrote(
                12,
                "Printer prints nothing",
                "the red circle",
                files=1,
                entry=len(ticket.entries) - 1,
            ),
            wrote(12, "Printer prints nothing", "see the circle above"),
        ]
    )
    calls = fake_telegram.calls_of("sendMessage", "sendPhoto", after=mark)
    assert [c.name for c in calls] == ["sendmessage", "sendphoto", "sendmessage"]
    assert "the red circle" in calls[0].params["text"]
    assert "see the circle above" in calls[2].params["text"]


async def test_a_ticket_transferred_back_reopens_its_topic_with_the_opening(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier, book: TicketBook
) -> None:
    fake_telegram.add_group(TEAM, "Technical", forum=True)
    ticket = book.add(12)
    opened = {
        "number": 12,
        "title": ticket.title,
        "customer": "Alice",
        "department": Text("department.technical"),
        "category": Text("category.bug"),
        "priority": Text("priority.normal"),
        "description": ticket.description,
        "steps": "—",
        "support_number": "—",
        "domain": "—",
        "phone": "—",
        "files": 0,
        "critical": False,
    }
    opening = note(Audience.TEAM, str(TEAM), "team.ticket_opened", params=opened, ticket_number=12)
    await notifier.deliver(opening)
    thread = next(iter(fake_telegram.topics[TEAM]))
    ticket.status = Status.CLOSED  # (as if moved away) the topic closes
    await notifier.deliver(wrote(12, "Printer prints nothing", "bye"))
    assert fake_telegram.topics[TEAM][thread]["closed"]

    ticket.status = Status.NEW  # back in this chat: a new opening notice
    await notifier.deliver(
        note(Audience.TEAM, str(TEAM), "team.ticket_opened", params=opened, ticket_number=12)
    )
    assert not fake_telegram.topics[TEAM][thread]["closed"]
    assert len(fake_telegram.calls_of("createForumTopic")) == 1


class Recorded:
    """A run's progress as the relay stores it, each report with the number of Bot API
    calls made by then."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.started: dict[str, int] = {}  # id -> calls made before its first call
        self.finished: dict[str, int] = {}  # id -> calls made when all of it went out

    async def sending(self, notification_ids: Collection[str]) -> None:
        for i in notification_ids:
            self.started.setdefault(i, len(self.fake.calls))

    def delivered(self, notification_id: str) -> None:
        self.finished.setdefault(notification_id, len(self.fake.calls))


async def test_a_run_tells_each_calls_notifications_before_the_call_and_each_one_when_done(
    fake_telegram: FakeTelegram, notifier: TelegramNotifier, book: TicketBook
) -> None:
    """What a crash leaves in doubt is read from these reports (issue 7): a call that
    was not told may not carry anything, and a notification is done only after its
    last call (its files)."""
    fake_telegram.add_group(TEAM, "Technical", forum=True)
    ticket = book.add(12)
    book.add(13, title="Scanner")
    book.add(14, title="Site down").description = "All pages fail"
    shot = Attachment("PHOTO1", "shot.jpg", "image/jpeg", 1000, "telegram", "photo")
    fake_telegram.files["PHOTO1"] = {
        "file_id": "PHOTO1",
        "file_unique_id": "u1",
        "file_size": 1000,
        "file_path": "photos/1",
        "content": b"x",
    }
    ticket.entries.append(ThreadEntry(EntryKind.CUSTOMER, "circle", NOW, attachments=(shot,)))
    opened = {
        "number": 14,
        "title": "Site down",
        "customer": "Bob",
        "department": Text("department.technical"),
        "category": Text("category.bug"),
        "priority": Text("priority.critical"),
        "description": "All pages fail",
        "steps": "—",
        "support_number": "—",
        "domain": "—",
        "phone": "—",
        "files": 0,
        "critical": True,
    }
    run = {
        "circle": wrote(12, "Printer prints nothing", "circle", files=1, entry=0),
        "after": wrote(12, "Printer prints nothing", "see above"),
        "scanner": wrote(13, "Scanner", "still broken"),
        "opening": note(
            Audience.TEAM, str(TEAM), "team.ticket_opened", params=opened, ticket_number=14
        ),
    }
    progress = Recorded(fake_telegram)
    mark = fake_telegram.mark()
    await notifier.deliver_run(list(run.values()), progress)

    carries = {
        "circle": lambda c: "circle" in c.params.get("text", "") or c.name == "sendphoto",
        "after": lambda c: "see above" in c.params.get("text", ""),
        "scanner": lambda c: "still broken" in c.params.get("text", ""),
        # New tickets' cards carry no other notification: the opening is on #14's.
        "opening": lambda c: "All pages fail" in c.params.get("text", ""),
    }
    sends = [
        (at, c)
        for at, c in enumerate(fake_telegram.calls)
        if at >= mark and c.name in ("sendmessage", "sendphoto")
    ]
    # Three cards (#14's says its opening), three texts, the photo.
    assert len(sends) == 7
    for name, n in run.items():
        mine = [at for at, c in sends if carries[name](c)]
        assert mine, name
        # Told before its first call, and done only when its last call had answered.
        assert progress.started[n.id] <= mine[0], name
        assert progress.finished[n.id] > mine[-1], name
    # No call carried a notification it was not told of first.
    for at, call in sends:
        for name, n in run.items():
            if carries[name](call):
                assert progress.started[n.id] <= at
    assert set(progress.finished) == {n.id for n in run.values()}
