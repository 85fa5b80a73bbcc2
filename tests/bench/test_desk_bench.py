"""The desk's benchmarks still run (at a tiny scale): the queue page, first and a later page,
and the flood held while a fan-out runs. The flood's own checks are judged: every comment held
and announced, the staff messages bounded."""

from __future__ import annotations

import asyncio

from bench import desk, desk_flood


def test_queue_page_benchmark_runs_at_small_scale() -> None:
    rows = asyncio.run(desk.queue_page(120, 3))
    assert [r.name for r in rows][-1] == "queue page 2 of 2, 120 held: p50 / p99"
    assert all(r.value.endswith(" ms") for r in rows)


def test_flood_benchmark_holds_and_announces_everything() -> None:
    efficiency, held, staff = asyncio.run(desk_flood.flood_fanout(30))
    assert float(efficiency.value) > 0
    assert held.met, held.value
    assert staff.met, staff.value
