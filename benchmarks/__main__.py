"""``python -m benchmarks [intake] [delivery] [workers] [store] [relay] [help]``: run the
named benchmarks (all of them by default) and print each against its baseline from the
same run; ``relay`` is the outbox relay against an in-memory Bot API enforcing Telegram's
limits; ``help`` is the help centre's search quality (top-3 hit rate per language).

Environment: ``BENCH_CUSTOMERS`` (500) customers per run, ``BENCH_ROUNDS`` (3) runs of
the desk (each between two runs of its baseline), ``BENCH_WORKER_CUSTOMERS`` (100) for
the worker fleets, ``BENCH_DATABASE_URL`` + ``BENCH_REDIS_URL`` for the PostgreSQL +
Redis figures (``tools/services.sh`` starts both; ``make bench`` does),
``BENCH_TICKETS`` (1,000,000) tickets on the store's desk, ``BENCH_RELAY_CUSTOMERS``
(1,000) private chats, ``BENCH_RELAY_GROUPS`` (10) team groups, ``BENCH_RELAY_TICKETS``
(10) tickets per group and ``BENCH_RELAY_BASELINE`` (300) bare sends for the relay.
"""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks import delivery, help, intake, relay, store, workers
from benchmarks.runs import (
    Backend,
    ChildFailed,
    Figures,
    Run,
    alternate,
    backends,
    customers,
    rounds,
)

BENCHMARKS = ("intake", "delivery", "workers", "store", "relay", "help")
Measured = dict[str, tuple[Figures, Figures] | ChildFailed]


def desk_and_bare(backend: Backend, n: int, measured: Measured) -> tuple[Figures, Figures]:
    """The desk's and the baselines' figures on ``backend``, measured once per
    invocation: intake and delivery share them (the desk's process does both)."""
    if backend.label not in measured:
        try:
            measured[backend.label] = alternate("desk", "bare", Run.on(backend, n))
        except ChildFailed as exc:
            measured[backend.label] = exc
    found = measured[backend.label]
    if isinstance(found, ChildFailed):
        raise found
    return found


def section(figures: Figures, prefix: str) -> Figures:
    start = len(prefix) + 1
    return {key[start:]: value for key, value in figures.items() if key.startswith(prefix + ".")}


def desk_benchmark(name: str, n: int, measured: Measured) -> bool:
    """Print intake's or delivery's figures on every backend; False when one failed."""
    ok = True
    print((intake if name == "intake" else delivery).heading(n))
    for backend in backends():
        if isinstance(backend, str):
            print(f"  {backend}")
            continue
        try:
            desk, bare = desk_and_bare(backend, n, measured)
        except ChildFailed as exc:
            print(f"  {backend.label}: failed: {exc}")
            ok = False
            continue
        if name == "intake":
            intake.report(backend, section(desk, "intake"), section(bare, "echo"))
        else:
            delivery.report(backend, section(desk, "delivery"), section(bare, "send"))
    return ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    args = parser.parse_args(argv)
    if unknown := sorted(set(args.names) - set(BENCHMARKS)):
        parser.error(f"unknown benchmark {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    n = customers()
    print(
        f"Supportbot benchmarks: per backend {rounds()} run(s) of the desk, each between two "
        "runs of its baseline, every run a fresh process;\nfigures are medians over the "
        "runs; targets are issue 7's (the relay's issue 8's), printed, never asserted."
    )
    started = time.perf_counter()
    measured: Measured = {}
    ok = True
    for name in args.names or BENCHMARKS:
        print()
        if name == "workers":
            ok = workers.main() and ok
        elif name == "store":
            ok = store.main() and ok
        elif name == "relay":
            ok = relay.main() and ok
        elif name == "help":
            ok = help.main() and ok
        else:
            ok = desk_benchmark(name, n, measured) and ok
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
