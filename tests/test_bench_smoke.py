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
