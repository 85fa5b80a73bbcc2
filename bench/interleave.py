"""Throughput ratios that hold on a loaded machine: variants measured in alternating short
rounds (A B C A B C ... A), each ratio taken from adjacent rounds, their median and spread.

On the shared 2-core machine the load of other sessions moves a server's requests a second
by 2x within seconds, so two figures measured a few seconds apart say little about each
other. Measured in rounds of a second or less, one variant after another, a variant's round
and the ceiling rounds just before and after it (their mean) see about the same machine;
the median of the per-round ratios then ignores the rounds a burst of load hit, and the
spread (quartiles, min and max) says how far to trust it.

The load generator is one process of its own for the whole measurement (``python -m
bench.interleave load``, fed one round a line on stdin: the client of ``bench/web.py``), so
it neither shares the server's event loop nor pays a process start between rounds; the
servers stay in the calling process. Neither is pinned to a core: on a machine whose cores
other sessions use at random, a pinned process cannot move away from a busy core.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.web import GZIP, ROOT, _load


@dataclass(frozen=True)
class Spread:
    """The median of per-round ratios, their quartiles and extremes."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def quartiles(self) -> str:
        """The middle half of the ratios, ``q1-q3`` (all of them, under 4 rounds)."""
        v = sorted(self.values)
        if len(v) < 4:
            return f"{v[0]:.2f}-{v[-1]:.2f}"
        q1, _, q3 = statistics.quantiles(v, n=4)
        return f"{q1:.2f}-{q3:.2f}"

    def describe(self) -> str:
        v = sorted(self.values)
        return (
            f"median {self.median:.2f} of {len(v)} rounds, quartiles {self.quartiles()}, "
            f"range {v[0]:.2f}-{v[-1]:.2f}"
        )


def ratios(
    rounds: Mapping[str, Sequence[dict[str, Any]]], key: str, against: str, field: str = "rps"
) -> Spread:
    """``key``'s requests a second over ``against``'s in adjacent rounds. When ``against`` has
    one round more (it opened and closed the sequence), a round of ``key`` is taken against the
    mean of the two rounds of ``against`` around it; otherwise against the one of its round.
    With ``field="cpu_us"``, the server's CPU time a request the other way round
    (``against``'s over ``key``'s), so that above 1 is faster either way."""
    top, bottom = rounds[key], rounds[against]
    values = []
    for n, got in enumerate(top):
        near = bottom[n : n + 2] if len(bottom) > len(top) else bottom[n : n + 1]
        base = statistics.fmean(float(b[field]) for b in near)
        mine = float(got[field])
        if field == "cpu_us":
            base, mine = mine, base
        values.append(mine / base if base else 0.0)
    return Spread(tuple(values))


class Loader:
    """The load generator's process: one round a line in, its figures a line out."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    async def measure(self, url: str, connections: int, seconds: float) -> dict[str, Any]:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        order = {"url": url, "connections": connections, "seconds": seconds}
        self._process.stdin.write(json.dumps(order).encode() + b"\n")
        await self._process.stdin.drain()
        line = await self._process.stdout.readline()
        if not line:
            raise RuntimeError("the load generator stopped")
        data: dict[str, Any] = json.loads(line)
        return data


@contextlib.asynccontextmanager
async def loader() -> AsyncIterator[Loader]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.interleave",
        "load",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        yield Loader(process)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def interleaved(
    urls: Mapping[str, str], rounds: int, seconds: float, connections: int = 32
) -> dict[str, list[dict[str, Any]]]:
    """Every variant in ``urls`` (in order) once a round for ``rounds`` rounds, then the first
    once more, so that each round of the others has one of the first on either side."""
    got: dict[str, list[dict[str, Any]]] = {key: [] for key in urls}
    first = next(iter(urls))
    order = [
        *((key, url) for _ in range(rounds) for key, url in urls.items()),
        (first, urls[first]),
    ]
    async with loader() as load:
        for key, url in order:
            cpu = time.process_time()
            round_ = await load.measure(url, connections, seconds)
            # The servers are this process's only work while the loader runs: its CPU time a
            # request (the loader's warm-up requests included) moves far less with the
            # machine's load than requests a second do.
            round_["cpu_us"] = (time.process_time() - cpu) / (round_["count"] + connections) * 1e6
            got[key].append(round_)
    return got


def pooled(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The rounds of one variant as one figure: requests over time, median p50 and p99."""
    elapsed = sum(float(r["elapsed"]) for r in runs)
    statuses: dict[str, int] = {}
    for r in runs:
        for status, n in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    return {
        "count": sum(int(r["count"]) for r in runs),
        "elapsed": elapsed,
        "rps": sum(int(r["count"]) for r in runs) / elapsed if elapsed else 0.0,
        "p50_ms": statistics.median(float(r["p50_ms"]) for r in runs),
        "p99_ms": statistics.median(float(r["p99_ms"]) for r in runs),
        "statuses": statuses,
        "errors": sum(int(r["errors"]) for r in runs),
    }


def _load_main() -> int:
    for line in sys.stdin:
        order = json.loads(line)
        result = asyncio.run(
            _load(order["url"], int(order["connections"]), float(order["seconds"]), GZIP, 0.0)
        )
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["load"]:
        raise SystemExit(_load_main())
    raise SystemExit("usage: python -m bench.interleave load")
