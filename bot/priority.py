"""Ticket priority from request type, severity and plan, and the queue order.

The base priority follows the seeds: a critical problem (the system or a core
function cannot be used nor worked around) comes first; payment, subscription and
complaints are due the same day; bugs and consultations are normal; paid
modifications and training sessions are scheduled work. A plan's
``priority_boost`` lifts non-critical requests by whole steps, but never to URGENT,
which stays reserved for outages.
"""

from __future__ import annotations

from datetime import datetime

from bot.ticket import Priority, RequestType

BASE_PRIORITY: dict[RequestType, Priority] = {
    RequestType.PAYMENT: Priority.HIGH,
    RequestType.COMPLAINT: Priority.HIGH,
    RequestType.BUG: Priority.NORMAL,
    RequestType.CONSULTATION: Priority.NORMAL,
    RequestType.MODIFICATION: Priority.LOW,
    RequestType.TRAINING: Priority.LOW,
}


def priority_for(request_type: RequestType, critical: bool, boost: int = 0) -> Priority:
    """URGENT when critical; otherwise the type's base raised by ``boost`` steps
    (``ServiceLevels.priority_boost(plan)``), capped at HIGH.

    With the example policy: premium bug HIGH, standard bug NORMAL, payment HIGH,
    modification LOW (NORMAL for premium), critical anything URGENT.
    """
    if critical:
        return Priority.URGENT
    base = BASE_PRIORITY.get(request_type, Priority.NORMAL)
    return Priority(min(int(base) + max(boost, 0), int(Priority.HIGH)))


def queue_key(priority: Priority, due: datetime) -> tuple[int, datetime]:
    """Sort key for the agents' queue: higher priority first, then earlier due time."""
    return (-int(priority), due)
