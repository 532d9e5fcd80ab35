"""``python -m benchmarks.child NAME RUN_JSON``: one measurement in this process, its
figures printed as one JSON line (``benchmarks.runs.measure_in_child`` reads it).

- ``desk``: the app and Telegram channel on a fresh database; the intake, then the
  relay delivering what it left (figures ``intake.*`` and ``delivery.*``).
- ``bare``: the baselines, aiogram without the desk (``echo.*`` and ``send.*``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile

from benchmarks.runs import WARM_UP, Figures, Run


async def desk(run: Run) -> Figures:
    # Imported here: the baselines' process never loads the desk.
    from benchmarks import delivery, intake
    from benchmarks.desk import running_desk, scratch_database

    with tempfile.TemporaryDirectory() as folder:
        async with (
            scratch_database(run.database_url, folder) as url,
            running_desk(url, run.redis_url, WARM_UP + run.customers) as stage,
        ):
            filed = await intake.measure(stage, run)
            delivered = await delivery.measure(stage)
    return _named("intake", filed) | _named("delivery", delivered)


async def bare(run: Run) -> Figures:
    from benchmarks import baselines

    return await baselines.measure(run)


def _named(section: str, figures: Figures) -> Figures:
    return {f"{section}.{key}": value for key, value in figures.items()}


MEASUREMENTS = {"desk": desk, "bare": bare}


def main(argv: list[str]) -> int:
    name, config = argv
    figures = asyncio.run(MEASUREMENTS[name](Run(**json.loads(config))))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
