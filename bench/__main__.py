"""Run the benchmarks, print the table and write BENCHMARKS.md.

`python -m bench` runs every group at full scale (as `make bench` does); `--quick` at a small
scale, which checks that every benchmark still runs; `--only GROUP` runs one group. A full-scale
run saves each group's rows in bench/results/GROUP.json, and BENCHMARKS.md is rebuilt from all
saved groups, so one group can be measured again without repeating the others.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import core
from bench.report import Result, machine, table, versions, write_markdown

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
ANALYSIS = Path(__file__).parent / "ANALYSIS.md"
GROUPS = [
    "fanout",
    "ingest",
    "reads",
    "restart",
    "memory",
    "chaos",
    "workers",
    "feeds",
    "web",
    "desk",
    "publishing",
    "routing",
    "signin",
    "reactions",
    "slowmode",
]


def _ingest(quick: bool) -> list[Result]:
    from bench import fanout, ingest_notices

    seconds = 2 if quick else 60
    replies = 1_000 if quick else 30_000
    return [
        core.raw_executemany(20_000 if quick else 500_000),
        asyncio.run(core.ingestion_capacity(5_000 if quick else 200_000)),
        *asyncio.run(core.ingestion(seconds, 20_000)),
        *asyncio.run(core.ingestion(seconds, 20_000, "NORMAL")),
        # Past capacity the backlog only grows; latency is meaningful at a rate it sustains.
        *asyncio.run(core.ingestion(seconds, 10_000)),
        *asyncio.run(core.ingestion(seconds, 5_000)),
        asyncio.run(fanout.telegram_ingestion(100, replies)),
        asyncio.run(fanout.telegram_ingestion(1, replies)),
        *ingest_notices.run(quick, seconds),
        *_postgres_ingest(quick, seconds),
    ]


def _postgres_ingest(quick: bool, seconds: float) -> list[Result]:
    """The same through the service on PostgreSQL (the local server, or none: no rows)."""
    from bench import ingest_notices

    server = core.postgres_server()
    if server is None:
        return []
    results: list[Result] = []
    with core.postgres_database(server) as url:
        results.append(asyncio.run(core.ingestion_capacity(5_000 if quick else 200_000, url)))
    with core.postgres_database(server) as url:
        results += ingest_notices.run(quick, seconds, url)
    for rate in (20_000, 5_000):
        with core.postgres_database(server) as url:
            results += asyncio.run(core.ingestion(seconds, rate, postgres=url))
    return results


def _big(quick: bool, measure: Callable[[Path, int], list[Result]]) -> list[Result]:
    articles, per_article = (200, 100) if quick else (10_000, 100)
    destinations = 500 if quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.db"
        print(f"building {articles * per_article:,} comments ...", file=sys.stderr)
        core.build_big_database(big, articles, per_article, destinations)
        return measure(big, destinations)


def _reads(quick: bool) -> list[Result]:
    samples = 200 if quick else 2000
    results = _big(quick, lambda big, _: asyncio.run(core.thread_reads(big, samples, 1000)))
    server = core.postgres_server()
    if server is not None:
        articles, per_article = (200, 100) if quick else (10_000, 100)
        with core.postgres_database(server) as url:
            print(
                f"building {articles * per_article:,} comments in PostgreSQL ...", file=sys.stderr
            )
            asyncio.run(core.build_big_postgres(url, articles, per_article, 500))
            ids = list(range(1, articles + 1))
            results += asyncio.run(core.thread_reads(url, samples, 1000, ids))
    return results


def _restart(quick: bool) -> list[Result]:
    return _big(quick, lambda big, destinations: [core.restart(big, destinations)])


def _memory(quick: bool) -> list[Result]:
    return core.memory(2_000 if quick else 10_000)


def _optional(module: str) -> Callable[[bool], list[Result]]:
    def run(quick: bool) -> list[Result]:
        try:
            imported = __import__(f"bench.{module}", fromlist=["run"])
        except ImportError as exc:
            print(f"bench.{module} is not available: {exc}", file=sys.stderr)
            return []
        results: list[Result] = imported.run(quick)
        return results

    return run


RUNNERS: dict[str, Callable[[bool], list[Result]]] = {
    "fanout": _optional("fanout"),
    "ingest": _ingest,
    "reads": _reads,
    "restart": _restart,
    "memory": _memory,
    "chaos": _optional("chaos"),
    "workers": _optional("workers"),
    "feeds": _optional("feeds"),
    "web": _optional("web"),
    "desk": _optional("desk"),
    "publishing": _optional("publishing"),
    "routing": _optional("fanout_routed"),
    "signin": _optional("signin"),
    "reactions": _optional("reactions"),
    "slowmode": _optional("slowmode"),
}


def _save(group: str, results: list[Result], command: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{group}.json").write_text(
        json.dumps(
            {
                "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "command": command,
                "machine": machine(),
                "software": versions(),
                "results": [dataclasses.asdict(r) for r in results],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


def _saved() -> tuple[list[Result], list[str]]:
    results: list[Result] = []
    notes: list[str] = []
    for group in GROUPS:
        path = RESULTS / f"{group}.json"
        if not path.exists():
            notes.append(f"- {group}: not measured yet")
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        results += [Result(**r) for r in data["results"]]
        notes.append(f"- {group}: {data['measured']}, `{data['command']}`, {data['machine']}")
    return results, notes


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small scale, for a smoke run")
    parser.add_argument("--only", choices=GROUPS, action="append", help="run only these groups")
    parser.add_argument("--output", type=Path, help="write this run's table here instead")
    parser.add_argument(
        "--rebuild", action="store_true", help="only rebuild BENCHMARKS.md from saved groups"
    )
    args = parser.parse_args()
    if args.rebuild:
        saved, notes = _saved()
        analysis = ANALYSIS.read_text(encoding="utf-8") if ANALYSIS.exists() else ""
        write_markdown(ROOT / "BENCHMARKS.md", saved, "make bench", "\n".join(notes), analysis)
        return 0
    groups = args.only or GROUPS
    started = time.time()
    results: list[Result] = []
    for group in groups:
        print(f"== {group}", file=sys.stderr)
        rows = RUNNERS[group](args.quick)
        results += rows
        command = f"python -m bench --only {group}" + (" --quick" if args.quick else "")
        if not args.quick and args.output is None and rows:
            _save(group, rows, "make bench" if args.only is None else command)
    print(table(results))
    analysis = ANALYSIS.read_text(encoding="utf-8") if ANALYSIS.exists() else ""
    if args.output is not None:
        write_markdown(args.output, results, " ".join(sys.argv), "", analysis)
    elif not args.quick:
        saved, notes = _saved()
        write_markdown(ROOT / "BENCHMARKS.md", saved, "make bench", "\n".join(notes), analysis)
        print(f"wrote BENCHMARKS.md in {time.time() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
