"""What a measurement counts: SQL statements and commits, Redis commands, the latency
of each step, and the process's peak memory. Counting, never asserting."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@dataclass
class Tally:
    """Round trips to the stores since ``reset``."""

    statements: int = 0
    commits: int = 0
    redis_commands: int = 0

    def reset(self) -> None:
        self.statements = self.commits = self.redis_commands = 0


@contextmanager
def tally() -> Iterator[Tally]:
    """Count every SQL statement and commit of every engine (the listeners sit on the
    ``Engine`` class, so engines made inside ``build_app`` are counted too) and every
    Redis command (a pipeline counts its commands), while the block runs."""
    counts = Tally()

    def on_statement(*_: Any) -> None:
        counts.statements += 1

    def on_commit(*_: Any) -> None:
        counts.commits += 1

    event.listen(Engine, "before_cursor_execute", on_statement)
    event.listen(Engine, "commit", on_commit)
    with _redis_counted(counts):
        try:
            yield counts
        finally:
            event.remove(Engine, "before_cursor_execute", on_statement)
            event.remove(Engine, "commit", on_commit)


@contextmanager
def _redis_counted(counts: Tally) -> Iterator[None]:
    # redis-py has no event hooks: wrap the two doors every command goes through.
    from redis.asyncio.client import Pipeline, Redis

    command: Callable[..., Awaitable[Any]] = Redis.execute_command
    pipeline = Pipeline.execute

    async def counted_command(self: Redis, *args: Any, **options: Any) -> Any:
        counts.redis_commands += 1
        return await command(self, *args, **options)

    async def counted_pipeline(self: Pipeline, raise_on_error: bool = True) -> Any:
        counts.redis_commands += len(self.command_stack)
        return await pipeline(self, raise_on_error)

    Redis.execute_command = counted_command  # type: ignore[method-assign]
    Pipeline.execute = counted_pipeline  # type: ignore[method-assign]
    try:
        yield
    finally:
        Redis.execute_command = command  # type: ignore[method-assign]
        Pipeline.execute = pipeline  # type: ignore[method-assign]


@dataclass
class Stopwatch:
    """The duration of each timed step, and the wall time of the whole run."""

    laps: list[float] = field(default_factory=list)
    started: float = 0.0
    stopped: float = 0.0

    def start(self) -> None:
        self.laps.clear()
        self.started = time.perf_counter()

    def stop(self) -> float:
        self.stopped = time.perf_counter()
        return self.elapsed

    @property
    def elapsed(self) -> float:
        return self.stopped - self.started

    @contextmanager
    def lap(self) -> Iterator[None]:
        begun = time.perf_counter()
        try:
            yield
        finally:
            self.laps.append(time.perf_counter() - begun)

    def record(self, seconds: float) -> None:
        """A lap timed elsewhere (e.g. from a message's arrival)."""
        self.laps.append(seconds)

    def percentile(self, share: float) -> float:
        """The lap below which ``share`` of all laps fall (nearest rank)."""
        if not self.laps:
            return 0.0
        ordered = sorted(self.laps)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def peak_rss_mib() -> float:
    """The most memory this process has held so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """The memory this process holds now (the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, IndexError, ValueError):
        return peak_rss_mib()
    return pages * resource.getpagesize() / (1024 * 1024)


# -- CPU by part of a multi-process run (Linux /proc; empty elsewhere) -------------------

CPU_PARTS = ("workers", "receiver", "benchmark", "postgres", "redis")


def cpu_by_part(fleet_group: int) -> dict[str, float]:
    """CPU seconds used so far by each part of a fleet's run: its workers and its
    receiver (the processes of group ``fleet_group``), this benchmark process (the
    customers and the loopback Bot API), and every PostgreSQL and Redis server process
    on the machine. Subtract two readings for an interval."""
    tick = os.sysconf("SC_CLK_TCK")
    parts = dict.fromkeys(CPU_PARTS, 0.0)
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                command = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        name, _, rest = stat.partition(" (")[2].rpartition(") ")
        fields = rest.split()
        used = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if pid == os.getpid():
            parts["benchmark"] += used
        elif int(fields[2]) == fleet_group:
            parts["workers" if "worker" in command.split() else "receiver"] += used
        elif name == "postgres" or name.startswith("postgres:"):
            parts["postgres"] += used
        elif name.startswith("redis-server"):
            parts["redis"] += used
    return parts
