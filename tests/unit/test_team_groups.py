"""Several team chats for one department: tickets spread across them, each staying in
its own, and a policy that lists them wrongly is refused."""

from __future__ import annotations

import copy
import tomllib
from collections import Counter
from datetime import UTC, datetime

import pytest

from bot.announce import Announcer
from bot.events import TicketOpened, TicketTransferred
from bot.notification import Audience
from bot.participant import Participant
from bot.policy import EXAMPLE_POLICY, PolicyError, parse_policy
from bot.ticket import Origin, RequestType, Ticket

RAW = tomllib.loads(EXAMPLE_POLICY.read_text())
GROUPS = ["-1001", "-1002", "-1003"]
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def policy_with(chats: object) -> object:
    raw = copy.deepcopy(RAW)
    raw["departments"]["technical"]["team_channels"] = {"telegram": chats, "console": "tech"}
    return parse_policy(raw)


def ticket(number: int, department: str = "technical") -> Ticket:
    return Ticket(
        customer=Participant("telegram", "501"),
        customer_name="Alice",
        department=department,
        category="bug",
        request_type=RequestType.BUG,
        title="Checkout fails",
        description="…",
        origin=Origin("telegram"),
        created_at=NOW,
        number=number,
    )


def team_chat_of(announcer: Announcer, event: object, t: Ticket) -> list[str]:
    return [
        n.recipient
        for n in announcer.notifications(event, t, NOW)  # type: ignore[arg-type]
        if n.audience is Audience.TEAM and n.channel == "telegram"
    ]


def test_tickets_spread_over_the_groups_and_each_stays_in_its_own() -> None:
    announcer = Announcer(policy_with(GROUPS))  # type: ignore[arg-type]
    homes = {}
    for number in range(1, 601):
        [home] = team_chat_of(announcer, TicketOpened(number=number, at=NOW), ticket(number))
        homes[number] = home
    spread = Counter(homes.values())
    assert set(spread) == set(GROUPS)
    assert min(spread.values()) > 150  # about 200 each
    # Every later message of a ticket goes where its first one went.
    for number in (1, 77, 600):
        event = TicketOpened(number=number, at=NOW)
        assert team_chat_of(announcer, event, ticket(number)) == [homes[number]]
    # A fourth group draws only its share: the others' tickets stay where they are.
    more = Announcer(policy_with([*GROUPS, "-1004"]))  # type: ignore[arg-type]
    moved = [
        n
        for n in homes
        if team_chat_of(more, TicketOpened(number=n, at=NOW), ticket(n)) != [homes[n]]
    ]
    assert all(
        team_chat_of(more, TicketOpened(number=n, at=NOW), ticket(n)) == ["-1004"] for n in moved
    )
    assert 100 < len(moved) < 200  # about a quarter


def test_a_transfer_tells_the_old_group_and_opens_in_the_new_departments() -> None:
    announcer = Announcer(policy_with(GROUPS))  # type: ignore[arg-type]
    t = ticket(42)
    [home] = team_chat_of(announcer, TicketOpened(number=42, at=NOW), t)
    t.department = "sales"
    event = TicketTransferred(
        number=42, old_department="technical", new_department="sales", by_name="Eva", at=NOW
    )
    recipients = team_chat_of(announcer, event, t)
    assert recipients[0] == home  # "moved away" where the team saw it


@pytest.mark.parametrize("chats", [[], ["-1001", "-1001"], {"a": 1}])
def test_a_wrong_list_of_team_chats_is_refused(chats: object) -> None:
    with pytest.raises(PolicyError, match="team_channels"):
        policy_with(chats)


def test_one_chat_is_still_written_as_one() -> None:
    dept = policy_with("-1001").department("technical")  # type: ignore[attr-defined]
    assert dept.team_channels["telegram"] == ("-1001",)
    assert dept.team_chat("telegram", 5) == "-1001"
    assert dept.team_chat("discord", 5) is None
