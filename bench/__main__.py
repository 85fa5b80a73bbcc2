"""Run the benchmarks, print the table and write BENCHMARKS.md.

`python -m bench` runs at full scale (as `make bench` does); `--quick` at a small scale, which
checks that every benchmark still runs; `--only NAME` runs one group.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench import core
from bench.report import Result, table, write_markdown

ROOT = Path(__file__).resolve().parent.parent

ANALYSIS = Path(__file__).parent / "ANALYSIS.md"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small scale, for a smoke run")
    parser.add_argument("--only", choices=["ingest", "reads", "memory", "restart", "fanout"])
    parser.add_argument("--output", type=Path, default=None, help="where to write the table")
    args = parser.parse_args()
    quick = args.quick
    results: list[Result] = []

    def run(group: str) -> bool:
        return args.only in (None, group)

    started = time.time()
    if run("ingest"):
        results.append(core.raw_executemany(20_000 if quick else 500_000))
        results.append(asyncio.run(core.ingestion_capacity(5_000 if quick else 200_000)))
        results += asyncio.run(core.ingestion(2 if quick else 60, 20_000))
    if run("reads") or run("restart"):
        articles, per_article = (200, 100) if quick else (10_000, 100)
        destinations = 500 if quick else 10_000
        with tempfile.TemporaryDirectory() as tmp:
            big = Path(tmp) / "big.db"
            print(f"building {articles * per_article:,} comments ...", file=sys.stderr)
            core.build_big_database(big, articles, per_article, destinations)
            if run("reads"):
                results += asyncio.run(core.thread_reads(big, 200 if quick else 2000, 1000))
            if run("restart"):
                results.append(core.restart(big, destinations))
    if run("memory"):
        results += core.memory(2_000 if quick else 10_000)
    if run("fanout"):
        try:
            from bench import fanout
        except ImportError:
            print("fan-out benchmarks are not built yet", file=sys.stderr)
        else:
            results += fanout.run(quick)
    print(table(results))
    command = "make bench" if not quick else "python -m bench --quick"
    if args.only:
        command += f" --only {args.only}"
    output = args.output or (None if quick else ROOT / "BENCHMARKS.md")
    if output is not None:
        analysis = ANALYSIS.read_text(encoding="utf-8") if ANALYSIS.exists() else ""
        write_markdown(output, results, command, analysis)
        print(f"wrote {output} in {time.time() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
