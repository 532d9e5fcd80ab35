"""Running measurements: each in a fresh child process, the subject and its baseline
alternated (baseline, subject, baseline, ...) so machine noise and drift hit both,
the runs of each combined by their median.

A measurement is an ``async def (Run) -> Figures`` registered in ``benchmarks.child``;
``python -m benchmarks.child NAME RUN_JSON`` runs one and prints its figures as JSON.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

Figures = dict[str, float]

DEFAULT_CUSTOMERS = 500
# The desk's and the fleets' runs: one run on this shared machine can be a third off
# (intake 0.25 of echo in one run, 0.34 in the next); the median of three is steadier.
DEFAULT_ROUNDS = 3
WARM_UP = 5  # customers through the whole intake before any clock starts


@dataclass(frozen=True, slots=True)
class Backend:
    """Where the desk keeps its data: a temporary SQLite file, or PostgreSQL + Redis."""

    label: str
    database_url: str | None = None  # None: a SQLite file in a temporary folder
    redis_url: str | None = None

    @property
    def served(self) -> bool:
        """PostgreSQL + Redis, as production runs."""
        return self.database_url is not None


@dataclass(frozen=True, slots=True)
class Run:
    """What one child process measures."""

    customers: int
    database_url: str | None = None
    redis_url: str | None = None
    # Telegram user ids (and update ids) of this run start here; a fresh range every
    # run, so a shared Redis (flood counters, state, seen updates) never sees them twice.
    first_id: int = 1_000_000

    @classmethod
    def on(cls, backend: Backend, customers: int) -> Run:
        return cls(customers, backend.database_url, backend.redis_url)


def customers() -> int:
    return int(os.environ.get("BENCH_CUSTOMERS", DEFAULT_CUSTOMERS))


def rounds() -> int:
    return max(1, int(os.environ.get("BENCH_ROUNDS", DEFAULT_ROUNDS)))


def backends() -> Iterator[Backend | str]:
    """SQLite always; PostgreSQL + Redis when ``BENCH_DATABASE_URL`` and
    ``BENCH_REDIS_URL`` name them, otherwise the reason they are skipped."""
    yield Backend("SQLite (temporary file)")
    database_url = os.environ.get("BENCH_DATABASE_URL")
    redis_url = os.environ.get("BENCH_REDIS_URL")
    if database_url and redis_url:
        yield Backend("PostgreSQL + Redis", database_url, redis_url)
        return
    missing = " and ".join(
        name
        for name, value in (("BENCH_DATABASE_URL", database_url), ("BENCH_REDIS_URL", redis_url))
        if not value
    )
    yield f"skipped: PostgreSQL + Redis ({missing} not set; `make bench` starts both)"


def fresh_id() -> int:
    """The start of a range of a million ids no other run uses (users, updates)."""
    return 1_000_000 * (1 + secrets.randbelow(1_000_000))


class ChildFailed(RuntimeError):
    pass


def measure_in_child(name: str, run: Run) -> Figures:
    """Run measurement ``name`` in a fresh interpreter; its figures."""
    run = replace(run, first_id=fresh_id())
    return in_child(name, "benchmarks.child", name, json.dumps(asdict(run)))


def in_child(label: str, module: str, *args: str) -> Figures:
    """``python -m module args...`` in a fresh interpreter; the figures it prints as
    its last line of JSON."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ChildFailed(f"{label} failed (exit {done.returncode}):\n{done.stderr.strip()}")
    figures: Figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def alternate(subject: str, baseline: str, run: Run) -> tuple[Figures, Figures]:
    """The subject ``BENCH_ROUNDS`` times, each run between two runs of the (cheap)
    baseline: baseline, subject, baseline, subject, baseline ... The median of each
    figure over the subject's runs and over the baseline's."""
    baselines = [measure_in_child(baseline, run)]
    subjects: list[Figures] = []
    for _ in range(rounds()):
        subjects.append(measure_in_child(subject, run))
        baselines.append(measure_in_child(baseline, run))
    return median(subjects), median(baselines)


def median(runs: list[Figures]) -> Figures:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def per(count: float, of: float) -> float:
    return count / of if of else 0.0


def times(subject: float, baseline: float) -> str:
    """``subject / baseline`` as a ratio for a report: ``12.3x``."""
    return f"{subject / baseline:.1f}x" if baseline else "n/a"


def share(subject: float, baseline: float) -> str:
    """``subject / baseline`` for a ratio below one: ``0.034``."""
    return f"{subject / baseline:.3f}" if baseline else "n/a"
