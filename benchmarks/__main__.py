"""``python -m benchmarks``: run every benchmark and print its ratio."""

from __future__ import annotations

import asyncio
import sys

from benchmarks.desk import main as desk_main


def main() -> int:
    return asyncio.run(desk_main(sys.argv[1:]))


if __name__ == "__main__":
    raise SystemExit(main())
