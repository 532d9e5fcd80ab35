"""Delivery: the outbox relay draining what the intake left for the teams, against a
bare ``bot.send_message`` loop on the same in-memory Bot API.

In the desk's process, after the intake benchmark (the relay does not run during
it), ``app.relay.run_once()`` is called until nothing is due: every filed ticket's
announcement goes to its team chat (a forum: topic, card, opening message, the
customer's photo). The baseline sends one message of a card's length per ticket.
The ratio is what one team notification costs against one bare send.
"""

from __future__ import annotations

from benchmarks.desk import Desk
from benchmarks.probes import Stopwatch, tally
from benchmarks.runs import WARM_UP, Backend, Figures, per, rate, times

TITLE = "delivery: the outbox relay draining the intake's notifications into the in-memory Bot API"
MAX_ROUNDS = 100_000  # a relay that keeps finding work is reported, not waited for


async def measure(desk: Desk) -> Figures:
    relay, api = desk.app.relay, desk.api
    calls_before = api.calls.total()
    delivered = rounds = 0
    watch = Stopwatch()
    with tally() as counts:
        watch.start()
        while rounds < MAX_ROUNDS:
            rounds += 1
            with watch.lap():
                sent = await relay.run_once()
            if sent == 0:
                break
            delivered += sent
        seconds = watch.stop()
    return {
        "delivered": delivered,
        "seconds": seconds,
        "delivered_per_s": rate(delivered, seconds),
        "ms_per_notification": per(seconds * 1000, delivered),
        "relay_rounds": rounds,
        "sql_per_notification": per(counts.statements, delivered),
        "commits_per_notification": per(counts.commits, delivered),
        "redis_per_notification": per(counts.redis_commands, delivered),
        "api_calls_per_notification": per(api.calls.total() - calls_before, delivered),
        "refused_calls": api.refused.total(),
    }


def heading(customers: int) -> str:
    return (
        f"{TITLE}\n  (the teams' notifications of the {customers} tickets filed; the "
        f"{WARM_UP} warm-up tickets' were delivered before)"
    )


def report(backend: Backend, desk: Figures, send: Figures) -> None:
    print(f"  {backend.label}")
    print(
        f"    relay     {desk['delivered_per_s']:6.0f} notifications/s  "
        f"{desk['ms_per_notification']:.2f} ms per team notification (target <= 5 ms)"
    )
    print(
        f"              per notification {desk['sql_per_notification']:.2f} SQL statements, "
        f"{desk['commits_per_notification']:.2f} commits (target <= 1), "
        f"{desk['redis_per_notification']:.2f} Redis commands, "
        f"{desk['api_calls_per_notification']:.2f} Bot API calls"
    )
    print(
        f"              {desk['delivered']:.0f} delivered in {desk['relay_rounds']:.0f} "
        "rounds of run_once()"
    )
    if desk["refused_calls"]:
        print(f"              {desk['refused_calls']:.0f} Bot API calls not answered in memory")
    print(
        f"    send loop {send['sends_per_s']:6.0f} messages/s  "
        f"{send['ms_per_send']:.3f} ms per bot.send_message"
    )
    print(
        f"    ratio     one team notification takes "
        f"{times(desk['ms_per_notification'], send['ms_per_send'])} the time of one bare send"
    )
