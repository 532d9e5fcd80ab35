"""Which team news goes first when a team chat's messages wait (issue 8)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import sla
from bot.i18n import Translator
from bot.notification import URGENT_KEYS, Audience, Notification, is_urgent
from bot.policy import load_policy


def team(key: str, **params: object) -> Notification:
    return Notification(
        channel="telegram",
        audience=Audience.TEAM,
        recipient="-100",
        key=key,
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        params=dict(params),
    )


def test_new_tickets_sla_alerts_and_critical_news_are_urgent_routine_news_is_not() -> None:
    for key in (sla.TEAM_WARNING, sla.TEAM_BREACHED, sla.TEAM_CRITICAL_OFF_HOURS):
        assert is_urgent(team(key))
    assert is_urgent(team("team.ticket_opened"))
    assert is_urgent(team("team.status", critical=True))
    assert not is_urgent(team("team.customer_wrote", text="hello"))
    assert not is_urgent(team("team.claimed"))


def test_every_urgent_key_is_a_message_the_desk_has() -> None:
    translator = Translator.load(load_policy().labels())
    for key in URGENT_KEYS:
        assert translator.has(key, "en"), key


def test_retries_after_server_errors_come_within_seconds_and_are_spread() -> None:
    from bot.relay import backoff_seconds

    ceilings = [backoff_seconds(attempt, jitter=lambda: 1.0) for attempt in range(1, 9)]
    assert ceilings == [1, 2, 4, 8, 16, 30, 30, 30]  # never minutes
    assert backoff_seconds(3, jitter=lambda: 0.0) == 2  # at most half taken off
    spread = {round(backoff_seconds(5), 3) for _ in range(20)}
    assert len(spread) > 1 and all(8 <= s <= 16 for s in spread)
