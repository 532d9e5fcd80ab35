"""Workers: the intake served by a fleet of N worker processes on PostgreSQL + Redis
(``python -m bot --workers N``), N = 1, 2 and 4; each fleet against one worker.

The fleet lives in other processes, so it talks to the loopback Bot API (HTTP on
127.0.0.1 through ``TELEGRAM_API_URL``), and every customer goes at their own pace,
all at once: a step is queued for ``getUpdates``, the bot's answer awaited, the next
step taken (a button pressed once the bot has shown it). No customer waits for
another: the first version went in waves (every customer's step queued, then every
answer awaited), so each wave lasted as long as its busiest worker and the fleet was
measured at the pace of its most loaded member. The figures are updates/s and
tickets/s from the first update of the timed crowd to its last answer, p50/p99 from
an update's queueing to the first message back.

Beside them, the CPU each part of the run used per update during the timed crowd
(``/proc``: the workers, the receiver, this process with the customers and the loopback
Bot API, PostgreSQL, Redis), and the bound that sets: on this machine every part shares
the same cores, so N workers go no faster than the cores through the whole of an
update's CPU, however fast each worker is.

Telegram's pacing (30 messages a second for the whole bot) would make every fleet
as fast as the pacer; as in the other benchmarks it is lifted, here in every process
of the fleet by a ``sitecustomize`` on the fleet's ``PYTHONPATH`` (the bot has no
setting for it).

Skipped, with the reason printed, while ``python -m bot --help`` offers no
``--workers``, or without PostgreSQL + Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from benchmarks.bot_api import TOKEN, MemoryBotAPI, UpdateMaker, make_bot
from benchmarks.customers import Crowd
from benchmarks.desk import TEAM_CHATS, policy_file, prepared_database
from benchmarks.loopback import LoopbackBotAPI
from benchmarks.probes import CPU_PARTS, Stopwatch, cpu_by_part
from benchmarks.runs import (
    WARM_UP,
    Backend,
    Figures,
    backends,
    fresh_id,
    median,
    rate,
    rounds,
    times,
)

TITLE = "workers: the intake over a fleet of worker processes (PostgreSQL + Redis)"
WORKER_COUNTS = (1, 2, 4)
FLEET_OPTION = "--workers"
STARTUP_SECONDS = 60.0
STOP_SECONDS = 15.0
DEFAULT_CUSTOMERS = 100
TARGET_TWO = 1.7  # issue 7: two workers at least 1.7x one worker on this 2-core machine


# Imported by every Python process of the fleet: once the channel's pacing module is
# loaded, its Limits' rates default to no limit (a frozen dataclass: its __init__
# defaults).
LIFT_PACING = """\
import dataclasses
import importlib.util
import sys

PACING = "handlers.telegram.pacing"
RATES = {"per_bot_per_second", "per_chat_per_second", "chat_burst", "per_group_per_minute"}


class LiftPacing:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != PACING:
            return None
        sys.meta_path.remove(cls)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            init = module.Limits.__init__
            init.__defaults__ = tuple(
                1e9 if f.name in RATES else f.default
                for f in dataclasses.fields(module.Limits)
            )

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, LiftPacing)
"""


def lift_pacing(folder: Path) -> str:
    """A ``PYTHONPATH`` whose processes pace nothing (see ``LIFT_PACING``)."""
    (folder / "sitecustomize.py").write_text(LIFT_PACING, encoding="utf-8")
    return os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)


def fleet_command(workers: int) -> list[str]:
    return [sys.executable, "-m", "bot", FLEET_OPTION, str(workers)]


def fleet_customers() -> int:
    return int(os.environ.get("BENCH_WORKER_CUSTOMERS", DEFAULT_CUSTOMERS))


def served_backend() -> Backend | str:
    """PostgreSQL + Redis, or why they are missing."""
    found = [b for b in backends() if isinstance(b, str) or b.served]
    return found[0] if found else "skipped: no PostgreSQL + Redis"


def fleet_missing() -> str | None:
    """Why the fleet cannot be measured yet; None when ``python -m bot`` has it."""
    try:
        shown = subprocess.run(
            [sys.executable, "-m", "bot", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`python -m bot --help` did not run: {exc}"
    if FLEET_OPTION not in shown.stdout:
        return f"`python -m bot` has no {FLEET_OPTION} option yet (the worker fleet)"
    return None


@contextlib.asynccontextmanager
async def fleet(command: list[str], env: dict[str, str], folder: Path) -> AsyncIterator[int]:
    """``command`` running (in its own process group, so its workers stop with it); the
    group's id."""
    log = (folder / "fleet.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=folder,  # no .env or ./data of the checkout
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process.pid
        if process.returncode is not None:
            raise RuntimeError(f"the fleet exited with {process.returncode}")
    except BaseException as exc:
        log.flush()
        tail = (folder / "fleet.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(command)}: {exc}\n{tail}") from exc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        log.close()


async def balanced(redis_url: str, workers: int, timeout: float) -> None:  # noqa: ASYNC109
    """Wait until the update streams' partitions are held by ``workers`` workers: the
    first worker up takes them all, and the others get their share within a few
    seconds; a fleet that has been running longer has long had its share out."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            keys = [k async for k in client.scan_iter(match="supportbot:updates:*:owner")]
            owners = {o for o in await client.mget(keys) if o is not None} if keys else set()
            if len(owners) >= workers:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{workers} workers did not share the partitions out within "
                    f"{timeout:.0f} s (held by {len(owners)})"
                )
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()


async def measure_fleet(
    command: list[str], backend: Backend, customers: int, workers: int
) -> Figures:
    """``customers`` whole intakes through the bot that ``command`` starts."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        async with prepared_database(
            backend.database_url, backend.redis_url, name, WARM_UP + customers
        ) as url:
            env = os.environ | {
                "DATABASE_URL": url,
                "REDIS_URL": backend.redis_url or "",
                "DESK_POLICY_FILE": str(policy_file(folder)),
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "LOG_LEVEL": "WARNING",
                "PYTHONPATH": lift_pacing(folder),
            }
            api = MemoryBotAPI(team_chats=TEAM_CHATS)
            async with LoopbackBotAPI(api) as server:
                env["TELEGRAM_API_URL"] = server.url
                async with fleet(command, env, folder) as group:
                    await server.polled(STARTUP_SECONDS)
                    if backend.redis_url:
                        await balanced(backend.redis_url, workers, STARTUP_SECONDS)
                    first_id = fresh_id()
                    updates = UpdateMaker(make_bot(MemoryBotAPI()), first_id)
                    warm_up = Crowd(api, updates, first_id=first_id, count=WARM_UP)
                    await warm_up.run_apart(server.push, Stopwatch())
                    crowd = Crowd(
                        api,
                        updates,
                        first_id=first_id + WARM_UP,
                        count=customers,
                        first_account=WARM_UP,
                    )
                    watch = Stopwatch()
                    cpu_before = cpu_by_part(group)
                    watch.start()
                    pushed = await crowd.run_apart(server.push, watch)
                    seconds = watch.stop()
                    cpu_after = cpu_by_part(group)
    return {
        "updates": pushed,
        "seconds": seconds,
        "updates_per_s": rate(pushed, seconds),
        "tickets": len(crowd.tickets),
        "tickets_per_s": rate(len(crowd.tickets), seconds),
        "p50_ms": watch.percentile(0.50) * 1000,
        "p99_ms": watch.percentile(0.99) * 1000,
    } | {
        f"cpu_ms.{part}": (cpu_after[part] - cpu_before[part]) * 1000 / pushed
        for part in cpu_after
        if pushed
    }


def main() -> bool:
    """Print the fleets' figures (or why they are skipped); False when one failed."""
    n = fleet_customers()
    print(f"{TITLE}: {n} customers (BENCH_WORKER_CUSTOMERS), each at their own pace")
    backend = served_backend()
    if isinstance(backend, str):
        print(f"  {backend}")
        return True
    if reason := fleet_missing():
        print(f"  skipped: {reason}")
        return True
    print(f"  {backend.label}, Telegram pacing lifted, through the receiver's update queue")
    # One worker (the baseline) first and again after each round of the others.
    one, *more = WORKER_COUNTS
    order = [one, *([*more, one] * rounds())]
    results: dict[int, list[Figures]] = {count: [] for count in WORKER_COUNTS}
    try:
        for count in order:
            measured = asyncio.run(measure_fleet(fleet_command(count), backend, n, count))
            results[count].append(measured)
    except RuntimeError as exc:
        print(f"    failed: {exc}")
        return False
    report({count: median(runs) for count, runs in results.items()})
    return True


def report(by_count: dict[int, Figures]) -> None:
    one = by_count[WORKER_COUNTS[0]]
    for count, figures in by_count.items():
        print(
            f"    {count} worker{'s' if count > 1 else ' '} {figures['updates_per_s']:6.0f} "
            f"updates/s  p50 {figures['p50_ms']:6.2f} ms  p99 {figures['p99_ms']:7.2f} ms  "
            f"{figures['tickets_per_s']:.1f} tickets/s ({figures['tickets']:.0f} filed)  "
            f"{times(figures['updates_per_s'], one['updates_per_s'])} one worker"
        )
    cores = os.cpu_count() or 1
    cpu = {count: cpu_ms(figures) for count, figures in by_count.items()}
    if all(cpu.values()):
        print(
            f"    CPU ms per update (/proc): {'  '.join(f'{p:>10}' for p in CPU_PARTS)}"
            f"       total  {cores} cores allow"
        )
        for count, parts in cpu.items():
            total = sum(parts.values())
            print(
                f"      {count} worker{'s' if count > 1 else ' '}"
                f"{' ' * 17}{'  '.join(f'{parts[p]:10.2f}' for p in CPU_PARTS)}"
                f"  {total:10.2f}  {rate(cores * 1000, total):6.0f} updates/s"
            )
    if 2 in by_count:
        print(
            f"    ratio     2 workers / 1: "
            f"{times(by_count[2]['updates_per_s'], one['updates_per_s'])} "
            f"(target >= {TARGET_TWO}x)"
        )
        if cpu.get(2):
            # Two workers can go no faster than the machine's cores through everything
            # an update costs; one worker, no faster than its one core through its own
            # part. TARGET_TWO asks the rest to be at most cores / TARGET_TWO - 1 of it.
            parts = cpu[2]
            total, own = sum(parts.values()), parts["workers"]
            print(
                f"              bound by CPU: {cores} cores / {total:.2f} ms = "
                f"{times(rate(cores * 1000, total), one['updates_per_s'])} one worker at "
                f"most; {TARGET_TWO}x needs the rest under {cores / TARGET_TWO - 1:.2f} of "
                f"the workers' CPU per update, here {(total - own) / own:.2f}"
            )


def cpu_ms(figures: Figures) -> dict[str, float]:
    """CPU ms per update by part (none where /proc could not be read)."""
    return {part: figures[f"cpu_ms.{part}"] for part in CPU_PARTS if f"cpu_ms.{part}" in figures}
