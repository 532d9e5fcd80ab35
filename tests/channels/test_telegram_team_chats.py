"""Team chats and the community: cards kept current, transfers leave no live stale card,
membership changes count at once, and /escalate files what the post really holds."""

from __future__ import annotations

from pathlib import Path

from telegram_app import COMMUNITY, SALES_CHAT, TECH_CHAT, running_desk
from telegram_people import (
    Person,
    card_message,
    file_directly,
    in_team_chat,
    press_in_team,
    wait_card,
)

from handlers.telegram.context import Tuning


async def test_the_card_catches_up_after_a_429_on_its_refresh(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        alice = Person(fake, 501, "Alice")
        await file_directly(desk.app, 501, "bug", "Broken")
        card = await wait_card(fake, 1)
        fake.fail_next("editMessageText", 429, retry_after=1)
        mark = fake.mark()
        fake.push_reply(
            TECH_CHAT,
            fake.user(700, "Eve"),
            "Looking into it",
            thread_id=card["message_thread_id"],
        )
        await alice.hears("Looking into it", after=mark)
        edits = await fake.wait_call(
            "editMessageText",
            lambda c: c.params["chat_id"] == TECH_CHAT and "Assignee: Eve" in c.params["text"],
            after=mark,
            count=2,  # the one refused with 429, then the retry
        )
        assert edits[1].at - edits[0].at >= 0.9
        assert "Assignee: Eve" in fake.messages[(TECH_CHAT, card["message_id"])]["text"]


async def test_a_transfer_closes_the_old_topic_and_its_card_buttons(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        fake.add_group(SALES_CHAT, "Sales", forum=True, members={701: "member"})
        Person(fake, 501, "Alice")
        eve = fake.user(700, "Eve")
        await file_directly(desk.app, 501, "bug", "Broken")
        card = await wait_card(fake, 1)
        await press_in_team(fake, eve, card, "a:transfer:1")
        menu = next(m for m in fake.messages.values() if "a:tt:1:sales" in str(m))
        await press_in_team(fake, eve, menu, "a:tt:1:sales")
        await wait_card(fake, 1, SALES_CHAT)
        await fake.wait_idle(0.3)
        assert fake.topics[TECH_CHAT][card["message_thread_id"]]["closed"] is True
        assert "reply_markup" not in fake.messages[(TECH_CHAT, card["message_id"])]
        [sales_topic] = fake.topics[SALES_CHAT].values()
        assert sales_topic["closed"] is False


async def test_escalate_works_in_a_chat_that_is_also_a_team_chat(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", members={700: "administrator", 600: "member"})
        post = fake.push_message(TECH_CHAT, fake.user(600, "Bob"), "Checkout is broken")
        await fake.wait_idle(0.3)
        mark = fake.mark()
        fake.push_message(TECH_CHAT, fake.user(700, "Mod"), "/escalate", reply_to=post)
        await in_team_chat(fake, TECH_CHAT, "Request #1 has been opened for this post", mark)
        ticket = await desk.app.tickets.get(1)
        assert ticket.customer.external_id == "600"


async def test_escalating_albums_forwards_and_posts_without_an_author(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        fake.add_group(
            COMMUNITY, "Users", members={800: "administrator", 600: "member", 601: "member"}
        )
        bob, carl, mod = fake.user(600, "Bob"), fake.user(601, "Carl"), fake.user(800, "Mod")

        async def escalate(post: dict[str, object]) -> str:
            mark = fake.mark()
            fake.push_message(COMMUNITY, mod, "/escalate", reply_to=post)
            calls = await fake.wait_call(
                "sendMessage", lambda c: c.params["chat_id"] == COMMUNITY, after=mark
            )
            return str(calls[0].params["text"])

        origin = {"type": "user", "date": 1, "sender_user": bob}
        forwarded = fake.push_content(COMMUNITY, carl, text="It crashes", forward_origin=origin)
        assert "Request #1 has been opened" in await escalate(forwarded)
        assert (await desk.app.tickets.get(1)).customer.external_id == "600"  # not Carl

        album = fake.push_album(COMMUNITY, bob, "alb", [{"type": "photo"}] * 3, caption="bug")
        await fake.wait_idle(0.3)
        assert "Request #2 has been opened" in await escalate(album[1])
        assert len((await desk.app.tickets.get(2)).attachments) == 3

        big = fake.push_document(
            COMMUNITY, bob, file_name="dump.zip", mime_type="application/zip", size=30 << 20
        )
        refusal = await escalate(big)
        assert "«dump.zip» is larger than 20 MB" in refusal
        assert "No request was opened" in refusal

        hidden = {"type": "hidden_user", "date": 1, "sender_user_name": "Someone"}
        secret = fake.push_content(COMMUNITY, carl, text="Help", forward_origin=hidden)
        assert "does not say who wrote it" in await escalate(secret)

        group = fake.chats[COMMUNITY]
        anonymous_admin = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
        anonymous = fake.push_content(COMMUNITY, anonymous_admin, text="Hi", sender_chat=group)
        assert "on behalf of a group or channel" in await escalate(anonymous)


async def test_leaving_the_team_chat_takes_effect_at_once(tmp_path: Path) -> None:
    tuning = Tuning(album_wait=0.3, membership_ttl=600)
    async with running_desk(tmp_path, tuning) as desk:
        fake = desk.fake
        fake.add_group(
            TECH_CHAT, "Tech", forum=True, members={700: "member", 702: "restricted_out"}
        )
        Person(fake, 501, "Alice")
        await file_directly(desk.app, 501, "bug", "Broken")
        card = await wait_card(fake, 1)
        # Restricted but no longer a member: not an agent of the department.
        refused = await press_in_team(fake, fake.user(702, "Rob"), card, "a:block:1")
        assert "Only agents of this request's department" in refused
        eve = fake.user(700, "Eve")
        await press_in_team(fake, eve, card, "a:block:1")  # cached as a member now
        fake.push_member_change(TECH_CHAT, 700, "left")
        await fake.wait_idle(0.3)
        refused = await press_in_team(fake, eve, card, "a:unblock:1")
        assert "Only agents of this request's department" in refused
        assert (await desk.app.tickets.get(1)).status.value == "blocked"


async def test_a_department_with_two_team_groups_shares_its_tickets_between_them(
    tmp_path: Path,
) -> None:
    from telegram_app import policy_data

    second = -1004000
    policy = policy_data()
    policy["departments"]["technical"]["team_channels"] = {
        "telegram": [str(TECH_CHAT), str(second)]
    }
    async with running_desk(tmp_path, policy=policy) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech A", forum=True, members={700: "member"})
        fake.add_group(second, "Tech B", forum=True, members={701: "member"})
        for number in range(1, 9):
            fake.user(500 + number, f"Customer {number}")
            await file_directly(desk.app, 500 + number, "bug", f"Problem {number}")
        await fake.wait_call(
            "sendMessage", lambda c: "a:claim:" in str(c.params.get("reply_markup", "")), count=8
        )
        await fake.wait_idle(0.3)
        # Every ticket has its card in exactly one of the two groups, both are used.
        cards = {
            number: {
                c.params["chat_id"]
                for c in fake.calls_of("sendMessage")
                if f"a:claim:{number}" in str(c.params)
            }
            for number in range(1, 9)
        }
        assert all(len(chats) == 1 for chats in cards.values()), cards
        assert {next(iter(chats)) for chats in cards.values()} == {TECH_CHAT, second}
        # An agent of the second group claims one of its tickets there.
        number = next(n for n, chats in cards.items() if chats == {second})
        card = card_message(fake, number, second)
        answer = await press_in_team(fake, fake.user(701, "Bob"), card, f"a:claim:{number}")
        assert "Nothing was changed" not in answer
        ticket = await desk.app.tickets.get(number)
        assert ticket.assignee_name == "Bob"
