"""The benchmarks still run (at a tiny scale); their figures are not judged here."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench import core


def test_core_benchmarks_run_at_small_scale(tmp_path: Path) -> None:
    raw = core.raw_executemany(2_000)
    assert raw.value.endswith("/s")
    results = asyncio.run(core.ingestion(0.3, 500))
    assert "stored" in results[0].note
    stored, answered = (
        int(part.split()[0].replace(",", ""))
        for part in results[0].note.split("; ")[1].split(", ")
    )
    assert stored == answered > 0
    big = tmp_path / "big.db"
    core.build_big_database(big, articles=20, per_article=30, destinations=50)
    reads = asyncio.run(core.thread_reads(big, samples=5, ingest_rate=100))
    assert len(reads) == 4 and all(r.value.endswith("ms") for r in reads)
    memory = core.memory(300)
    assert memory[1].note.endswith("(no task per destination)")
    restart = core.restart(big, 50)
    assert restart.value.endswith(" s")


def test_postgres_benchmarks_run_at_small_scale(pg_url: str) -> None:  # pg_url: skip without one
    server = core.postgres_server()
    assert server is not None
    with core.postgres_database(server) as url:
        results = asyncio.run(core.ingestion(0.3, 500, postgres=url))
    assert results[0].name.endswith("PostgreSQL")
    stored, answered = (
        int(part.split()[0].replace(",", ""))
        for part in results[0].note.split("; ")[1].split(", ")
    )
    assert stored == answered > 0
    with core.postgres_database(server) as url:
        asyncio.run(core.build_big_postgres(url, articles=20, per_article=30, destinations=5))
        reads = asyncio.run(core.thread_reads(url, 5, 100, list(range(1, 21))))
    assert len(reads) == 4 and all(r.name.endswith("PostgreSQL") for r in reads)


def test_web_benchmark_runs_at_small_scale() -> None:
    from bench import web

    results = asyncio.run(web.pages(True, seconds=0.2, connections_list=(8,), open_loop=False))
    names = [r.name for r in results]
    assert names[0].startswith("12. Web ceiling") and len(results) == 7
    assert all(r.value.endswith(("of the ceiling", "req/s")) for r in results[:-1])
    assert "errors" not in " ".join(r.note for r in results)


def test_page_with_views_interleaves_rounds() -> None:
    from bench import reactions

    results = asyncio.run(reactions.page_with_views(True, rounds=2, seconds=0.2))
    assert [r.name.split("(a) ")[-1][:28] for r in results[1:]] == [
        "article page, view counting ",
        "article page, view counting ",
        "article page, counting on / ",
    ]
    assert results[1].value.endswith("of the ceiling") and "of 2 rounds" in results[1].note
    assert "all 3 rounds of 0.2 s pooled" in results[0].note  # the ceiling opens and closes
    views = int(results[1].note.rsplit("; ", 1)[1].split()[0].replace(",", ""))
    assert views > 0
    assert "server CPU a request (off / on): median" in results[3].note
    assert "errors" not in " ".join(r.note for r in results)


def test_interleaved_ratios_take_adjacent_ceiling_rounds() -> None:
    from bench.interleave import ratios

    rounds = {
        "ceiling": [{"rps": 100}, {"rps": 300}, {"rps": 200}],
        "x": [{"rps": 100}, {"rps": 250}],
    }
    spread = ratios(rounds, "x", "ceiling")
    assert spread.values == (0.5, 1.0)
    assert spread.median == 0.75
