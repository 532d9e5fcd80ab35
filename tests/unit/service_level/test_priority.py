"""Priority from request type, severity and plan; the queue order."""

from __future__ import annotations

import pytest

from bot.priority import priority_for, queue_key
from bot.service_level import ServiceLevels
from bot.ticket import Priority, RequestType
from tests.unit.service_level.helpers import utc


@pytest.mark.parametrize(
    ("request_type", "critical", "plan", "priority"),
    [
        (RequestType.BUG, True, "free", Priority.URGENT),
        (RequestType.BUG, True, "premium", Priority.URGENT),
        (RequestType.PAYMENT, False, "standard", Priority.HIGH),
        (RequestType.PAYMENT, False, "premium", Priority.HIGH),  # capped below URGENT
        (RequestType.COMPLAINT, False, "standard", Priority.HIGH),
        (RequestType.BUG, False, "standard", Priority.NORMAL),
        (RequestType.BUG, False, "premium", Priority.HIGH),
        (RequestType.CONSULTATION, False, "standard", Priority.NORMAL),
        (RequestType.MODIFICATION, False, "standard", Priority.LOW),
        (RequestType.MODIFICATION, False, "all_in_one", Priority.NORMAL),
        (RequestType.TRAINING, False, "standard", Priority.LOW),
    ],
)
def test_priority_for(
    levels: ServiceLevels,
    request_type: RequestType,
    critical: bool,
    plan: str,
    priority: Priority,
) -> None:
    assert priority_for(request_type, critical, levels.priority_boost(plan)) is priority


def test_large_boosts_never_make_urgent() -> None:
    assert priority_for(RequestType.MODIFICATION, False, 10) is Priority.HIGH
    assert priority_for(RequestType.BUG, False, -3) is Priority.NORMAL


def test_queue_sorted_by_priority_then_due() -> None:
    tickets = [
        ("late normal", Priority.NORMAL, utc(2026, 6, 9)),
        ("urgent", Priority.URGENT, utc(2026, 6, 10)),
        ("early normal", Priority.NORMAL, utc(2026, 6, 8)),
        ("low", Priority.LOW, utc(2026, 6, 1)),
        ("high", Priority.HIGH, utc(2026, 6, 12)),
    ]
    ordered = sorted(tickets, key=lambda t: queue_key(t[1], t[2]))
    assert [t[0] for t in ordered] == ["urgent", "high", "early normal", "late normal", "low"]
