"""The crash and fault suites as figures: ``run(quick)`` runs the scenarios of
``tests/chaos`` (the real bot against the fakes, each in a process of its own) and reports
what was lost, doubled, and how long recovery took.

``quick`` runs them at the scale ``make test`` uses (100 destinations per platform and 5
kills, 20 destinations per fault); otherwise at full scale (2,000 per platform and 50 kills,
a 60 s outage, 10 s answers, 30 s storage faults), which takes about half an hour. The SQLite
faults on real filesystems need root (``mount``); without it they are reported as skipped.
"""

from __future__ import annotations

import asyncio
import functools
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from bench.report import Result
from tests.chaos import disk, faults, kill, storage
from tests.chaos.harness import FULL, SMALL, Chaos, Scale, seed


def run(quick: bool) -> list[Result]:
    scale = SMALL if quick else FULL
    results: list[Result] = []
    for synchronous in ("NORMAL", "FULL"):
        results += _guarded(
            f"kill test ({synchronous})", functools.partial(_kill, scale, synchronous)
        )
    for name, scenario in (
        ("burst of 5xx and 429", faults.burst),
        ("platform down", faults.outage),
        ("slow server", faults.slow),
    ):
        results += _guarded(name, functools.partial(_fault, scale, scenario))
    reason = disk.unavailable()
    for name, storage_scenario, synchronous, needs_mount in (
        ("full disk", storage.full_disk, "FULL", True),
        ("locked database", storage.locked, "FULL", False),
        ("read-only disk", storage.read_only, "FULL", True),
        ("read-only disk", storage.read_only, "NORMAL", True),
    ):
        label = f"SQLite: {name} ({synchronous})"
        if needs_mount and reason is not None:
            results.append(Result(label, "skipped", "—", None, reason))
            continue
        results += _guarded(
            label, functools.partial(_storage, scale, storage_scenario, synchronous)
        )
    return results


def _guarded(name: str, scenario: Callable[[], list[Result]]) -> list[Result]:
    started = time.monotonic()
    print(f"chaos: {name} ...", file=sys.stderr)
    try:
        results = scenario()
    except Exception as error:  # one scenario failing must not hide the others' figures
        return [Result(f"Chaos: {name}", "did not finish", "—", False, repr(error)[:200])]
    print(f"chaos: {name} took {time.monotonic() - started:.0f} s", file=sys.stderr)
    return results


def _kill(scale: Scale, synchronous: str) -> list[Result]:
    run_seed = seed()

    async def scenario(tmp: Path) -> kill.KillReport:
        chaos = await Chaos.start(tmp, scale.destinations, synchronous=synchronous)
        try:
            return await kill.run(chaos, scale, random.Random(run_seed), run_seed)
        finally:
            await chaos.stop()

    report = _in_tmp(scenario)
    name = f"Crash: {report.kills} SIGKILLs, {report.destinations} destinations ({synchronous})"
    lost_comments = len(report.lost_comments)
    return [
        Result(
            f"{name}: posts lost / Discord doubled",
            f"{len(report.lost_posts)} / {len(report.discord_doubled_posts)}",
            "0 / 0",
            not report.lost_posts and not report.discord_doubled_posts,
            f"{report.kills_during_fanout} kills during the fan-out; seed {run_seed}",
        ),
        Result(
            f"{name}: Telegram repeated vs in flight",
            f"{report.telegram_repeated} vs {report.in_flight_telegram}",
            "repeated ≤ in flight",
            report.telegram_repeated <= report.in_flight_telegram,
            f"in {report.telegram_repeated_chats} chats",
        ),
        Result(
            f"{name}: comments lost / doubled",
            f"{lost_comments} / {len(report.doubled_comments)} of {report.replies}",
            "0 / 0",
            not lost_comments
            and not report.doubled_comments
            and report.replies_to_repeats_stored == report.replies_to_repeats,
            f"{len(report.lost_behind_cursor)} lost behind the Discord backfill cursor; "
            f"{report.replies_to_repeats} replies to repeated Telegram posts, "
            f"{report.replies_to_repeats_stored} stored",
        ),
        Result(
            f"{name}: slowest restart to 'newsbot running'",
            f"{max(report.restart_seconds, default=0):.1f} s",
            "—",
            None,
            f"Discord's 2 s guild wait included; fan-out {report.fanout_seconds:.0f} s with "
            "the kills",
        ),
    ]


def _fault(scale: Scale, scenario: Callable[[Chaos, Scale], Awaitable[Any]]) -> list[Result]:
    async def run_it(tmp: Path) -> faults.FaultReport:
        chaos = await Chaos.start(tmp, scale.fault_destinations)
        try:
            report: faults.FaultReport = await scenario(chaos, scale)
            return report
        finally:
            await chaos.stop()

    report = _in_tmp(run_it)
    clean = (
        not report.lost_posts
        and not report.telegram_repeated
        and not report.discord_doubled
        and not report.lost_comments
    )
    results = [
        Result(
            f"Fault: {report.name}: lost / doubled",
            f"posts {len(report.lost_posts)} / {report.telegram_repeated} Telegram, "
            f"{len(report.discord_doubled)} Discord; comments {len(report.lost_comments)}",
            "0",
            clean,
            f"{report.destinations} destinations, {report.replies} replies",
        )
    ]
    for figure, seconds in report.figures.items():
        results.append(Result(f"Fault: {report.name}: {figure}", f"{seconds:.1f} s", "—", None))
    for probe in report.probes:
        answered, asked, slowest = report.probe(probe)
        limit = 3.0 if probe.startswith("discord") else 2.0
        if "Telegram is slow" in probe and probe.startswith("telegram"):
            limit = 2 * scale.slow + 2.0
        results.append(
            Result(
                f"Fault: {report.name}: {probe}",
                f"{answered}/{asked} answered, slowest {slowest:.2f} s",
                f"all, ≤ {limit:g} s",
                answered == asked and slowest <= limit,
            )
        )
    return results


def _storage(
    scale: Scale,
    scenario: Callable[[Path, Scale, str], Awaitable[storage.StorageReport]],
    synchronous: str,
) -> list[Result]:
    async def run_it(tmp: Path) -> storage.StorageReport:
        return await scenario(tmp, scale, synchronous)

    report = _in_tmp(run_it)
    name = f"SQLite: {report.name} ({synchronous}, {report.fault_seconds:g} s)"
    errors = sorted(set(report.storage_errors))
    results = [
        Result(
            f"{name}: acknowledged data lost",
            ", ".join(report.acknowledged_lost) or "nothing",
            "nothing",
            not report.acknowledged_lost,
            f"logged: {errors[0] if errors else 'no storage error'}",
        ),
        Result(
            f"{name}: replies lost / posts lost",
            f"{len(report.lost_comments)} / {len(report.lost_posts)}",
            "0 / 0",
            not report.lost_comments and not report.lost_posts,
            f"Telegram repeated {report.telegram_repeated} "
            f"({report.in_flight_telegram} in flight)",
        ),
    ]
    for figure, seconds in report.figures.items():
        results.append(Result(f"{name}: {figure}", f"{seconds:.1f} s", "—", None))
    for probe in report.probes:
        answered, asked, slowest = report.probe(probe)
        results.append(
            Result(f"{name}: {probe}", f"{answered}/{asked}, slowest {slowest:.2f} s", "—", None)
        )
    return results


def _in_tmp(scenario: Callable[[Path], Coroutine[Any, Any, Any]]) -> Any:
    with tempfile.TemporaryDirectory(prefix="newsbot-chaos-") as tmp:
        return asyncio.run(scenario(Path(tmp)))
