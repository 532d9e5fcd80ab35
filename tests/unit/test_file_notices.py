"""Who is told when a file cannot be shown on another platform's team chat: the
customer who sent it (``Announcer._not_shown``): the team there sees only a notice in
its place, and the customer is the one who can send a smaller file or a link."""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, datetime

from bot.announce import Announcer
from bot.events import AgentAnswered, CustomerWrote, TicketOpened, TicketTransferred
from bot.files import MB
from bot.notification import Audience, Notification
from bot.participant import Participant
from bot.policy import EXAMPLE_POLICY, parse_policy
from bot.ticket import Attachment, EntryKind, Origin, RequestType, ThreadEntry, Ticket

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
NOTICE = "notice.files_not_shown"
ALICE = Participant("telegram", "501")
AGENT = Participant("telegram", "700")


def announcer(*, discord_team: bool = True) -> Announcer:
    raw = tomllib.loads(EXAMPLE_POLICY.read_text())
    raw = copy.deepcopy(raw)
    channels = {"telegram": "-1001"}
    if discord_team:
        channels["discord"] = "5001"
    raw["departments"]["technical"]["team_channels"] = channels
    return Announcer(parse_policy(raw), platforms=("telegram", "discord"))


def shot(size_mb: float, platform: str = "telegram", name: str = "page.png") -> Attachment:
    return Attachment(f"ref-{name}", name, "image/png", int(size_mb * MB), platform)


def ticket(*files: Attachment) -> Ticket:
    return Ticket(
        customer=ALICE,
        customer_name="Alice",
        department="technical",
        category="bug",
        request_type=RequestType.BUG,
        title="Checkout fails",
        description="…",
        origin=Origin("telegram"),
        created_at=NOW,
        number=7,
        attachments=list(files),
        locale="pl",
    )


def told(notes: list[Notification], key: str) -> list[Notification]:
    return [n for n in notes if n.key == key]


def test_a_customers_file_over_the_other_platforms_team_limit_is_told_to_the_customer() -> None:
    t = ticket()
    t.add_entry(ThreadEntry(EntryKind.CUSTOMER, "look", NOW, ALICE, "Alice", (shot(15),)))
    event = CustomerWrote(number=7, text="look", files=1, entry=0, at=NOW)
    notes = announcer().notifications(event, t, NOW)
    [notice] = told(notes, NOTICE)
    assert notice.audience is Audience.CUSTOMER and notice.recipient == "501"
    assert notice.params["files"] == "«page.png»"
    assert notice.params["max_mb"] == 10 and notice.params["channel"] == "Discord"
    # The team still sees the message (and, on Discord, the file's notice in place).
    assert len(told(notes, "team.customer_wrote")) == 2

    # A file that fits everywhere, or a desk with no team chat on another platform: no
    # notice.
    small = ticket()
    small.add_entry(ThreadEntry(EntryKind.CUSTOMER, "look", NOW, ALICE, "Alice", (shot(9),)))
    assert not told(announcer().notifications(event, small, NOW), NOTICE)
    alone = announcer(discord_team=False).notifications(event, t, NOW)
    assert not told(alone, NOTICE)


def test_a_ticket_filed_with_such_a_file_tells_the_customer_too() -> None:
    t = ticket(shot(12, name="a.png"), shot(1, name="b.png"), shot(18, name="c.pdf"))
    notes = announcer().notifications(TicketOpened(number=7, at=NOW), t, NOW)
    [notice] = told(notes, NOTICE)
    assert notice.params["files"] == "«a.png», «c.pdf»"


def test_a_transfer_to_a_team_on_another_platform_tells_the_customer() -> None:
    t = ticket(shot(15, name="scan.pdf"))
    raw = tomllib.loads(EXAMPLE_POLICY.read_text())
    raw["departments"]["technical"]["team_channels"] = {"telegram": "-1001"}
    raw["departments"]["sales"]["team_channels"] = {"discord": "5002"}
    desk = Announcer(parse_policy(raw), platforms=("telegram", "discord"))
    assert not told(desk.notifications(TicketOpened(number=7, at=NOW), t, NOW), NOTICE)
    t.department = "sales"
    event = TicketTransferred(
        number=7, old_department="technical", new_department="sales", by_name="Eva", at=NOW
    )
    [notice] = told(desk.notifications(event, t, NOW), NOTICE)
    assert notice.params["files"] == "«scan.pdf»" and notice.params["channel"] == "Discord"


def test_an_agents_file_goes_only_to_the_customer() -> None:
    """Agents' answers are not repeated in the other platform's team chat: their files
    cross only to the customer (``team.files_too_large`` tells the team when they
    cannot)."""
    t = ticket()
    t.add_entry(
        ThreadEntry(EntryKind.AGENT, "the export", NOW, AGENT, "Eva", (shot(15, name="x.csv"),))
    )
    event = AgentAnswered(number=7, agent_name="Eva", text="the export", files=1, entry=0, at=NOW)
    notes = announcer().notifications(event, t, NOW)
    assert [n.key for n in notes if n.audience is Audience.TEAM] == []
    assert not told(notes, NOTICE)
