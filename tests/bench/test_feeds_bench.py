"""The feeds benchmark still runs (at a tiny scale); its figures are not judged here."""

from __future__ import annotations

import pytest

from bench import feeds


@pytest.mark.slow
def test_the_feeds_benchmark_runs_at_small_scale() -> None:
    results = feeds.run(quick=True)
    names = [r.name for r in results]
    assert len(results) == 5 and names[2] == "Feeds: CPU per poll, 304"
    assert all(r.value.endswith(" ms") for r in results[:3])
    latency = results[4]
    assert "0 never posted, 0 posted twice" in latency.note, latency.note
