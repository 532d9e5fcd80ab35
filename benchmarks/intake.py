"""Intake through the real aiogram dispatcher, against a bare aiogram echo bot.

Desk: ``build_app`` + ``TelegramChannel`` on the in-memory Bot API; N customers
(``BENCH_CUSTOMERS``, default 500) each file a request by the whole structured
intake, interleaved one update per customer in turn, every update fed with
``dispatcher.feed_update`` and awaited (its replies sent) before the next one.

Echo (``benchmarks.baselines``): a ``Dispatcher`` with one message handler
(``message.answer(text)``) and one callback handler (``query.answer()``) on the same
in-memory session, fed the same kinds of updates in the same order. The ratio is
what the desk costs per update beyond aiogram itself: routing, flood control, the
desk's unit of work, rendering.
"""

from __future__ import annotations

from benchmarks.bot_api import UpdateMaker
from benchmarks.customers import Crowd, feeder, intake
from benchmarks.desk import Desk
from benchmarks.probes import Stopwatch, peak_rss_mib, rss_mib, tally
from benchmarks.runs import WARM_UP, Backend, Figures, Run, per, rate, share, times

TITLE = "intake through the aiogram dispatcher"
# Issue 7's targets for desk/echo updates per second (and <= 3 statements, <= 1 commit
# per update); printed beside the figures, never asserted.
TARGET_SQLITE = 0.25
TARGET_SERVED = 0.12


async def measure(desk: Desk, run: Run) -> Figures:
    """Warm up with a few customers, then time ``run.customers`` whole intakes."""
    bot, api = desk.channel.bot, desk.api
    updates = UpdateMaker(bot, run.first_id)
    feed = feeder(desk.channel.dispatcher, bot)
    await Crowd(api, updates, first_id=run.first_id, count=WARM_UP).run(feed, Stopwatch())
    # The warm-up's team notifications too, so the delivery benchmark times the measured
    # tickets' alone (the first sends of each kind build aiogram's method models).
    await desk.app.relay.run_once()
    crowd = Crowd(
        api, updates, first_id=run.first_id + WARM_UP, count=run.customers, first_account=WARM_UP
    )
    calls_before = api.calls.total()
    rss_before = rss_mib()
    watch = Stopwatch()
    with tally() as counts:
        watch.start()
        fed = await crowd.run(feed, watch)
        seconds = watch.stop()
    return {
        "updates": fed,
        "seconds": seconds,
        "updates_per_s": rate(fed, seconds),
        "tickets": len(crowd.tickets),
        "tickets_per_s": rate(len(crowd.tickets), seconds),
        "p50_ms": watch.percentile(0.50) * 1000,
        "p99_ms": watch.percentile(0.99) * 1000,
        "sql_per_update": per(counts.statements, fed),
        "commits_per_update": per(counts.commits, fed),
        "redis_per_update": per(counts.redis_commands, fed),
        "api_calls_per_update": per(api.calls.total() - calls_before, fed),
        "refused_calls": api.refused.total(),
        "peak_rss_mib": peak_rss_mib(),
        "rss_growth_mib": rss_mib() - rss_before,
    }


def heading(customers: int) -> str:
    return (
        f"{TITLE}: {customers} customers x {len(intake(0))} updates each, interleaved round robin"
    )


def report(backend: Backend, desk: Figures, echo: Figures) -> None:
    target = TARGET_SERVED if backend.served else TARGET_SQLITE
    print(f"  {backend.label}")
    print(
        f"    desk      {desk['updates_per_s']:6.0f} updates/s  p50 {desk['p50_ms']:5.2f} ms  "
        f"p99 {desk['p99_ms']:6.2f} ms  {desk['tickets_per_s']:.1f} tickets/s "
        f"({desk['tickets']:.0f} filed)"
    )
    print(
        f"              per update {desk['sql_per_update']:.2f} SQL statements (target <= 3), "
        f"{desk['commits_per_update']:.2f} commits (<= 1), {desk['redis_per_update']:.2f} "
        f"Redis commands, {desk['api_calls_per_update']:.2f} Bot API calls"
    )
    print(
        f"              peak RSS {desk['peak_rss_mib']:.0f} MiB "
        f"(+{desk['rss_growth_mib']:.0f} MiB during the run)"
    )
    if desk["refused_calls"]:
        print(f"              {desk['refused_calls']:.0f} Bot API calls not answered in memory")
    print(
        f"    echo bot  {echo['updates_per_s']:6.0f} updates/s  p50 {echo['p50_ms']:5.2f} ms  "
        f"p99 {echo['p99_ms']:6.2f} ms  peak RSS {echo['peak_rss_mib']:.0f} MiB "
        f"(+{echo['rss_growth_mib']:.0f} MiB)"
    )
    print(
        f"    ratio     desk/echo updates/s {share(desk['updates_per_s'], echo['updates_per_s'])}"
        f" (target >= {target}); p50 {times(desk['p50_ms'], echo['p50_ms'])}, "
        f"p99 {times(desk['p99_ms'], echo['p99_ms'])}; "
        f"peak RSS {times(desk['peak_rss_mib'], echo['peak_rss_mib'])}"
    )
