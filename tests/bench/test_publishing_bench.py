"""The publishing benchmark still runs (at a tiny scale); its figures are not judged here."""

from __future__ import annotations

import asyncio

from bench import publishing


def test_publishing_benchmark_runs_at_small_scale() -> None:
    late = asyncio.run(publishing.lateness(5, 2))
    assert late.value.endswith(")") and "p99" in late.name
    alone, busy = asyncio.run(publishing.breaking(100, 20))
    assert alone.value.endswith(" s") and "during a 100-chat fan-out" in busy.name
