"""Results, percentiles, resident memory, and the BENCHMARKS.md table."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path


@dataclass
class Result:
    name: str
    value: str
    target: str
    met: bool | None
    note: str = ""


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores, {cpu}{memory}, {platform.system()} {platform.release()}"


def versions() -> str:
    names = ["python-telegram-bot", "discord.py", "aiosqlite", "aiohttp"]
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    import sqlite3

    return f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, " + ", ".join(found)


def table(results: list[Result]) -> str:
    lines = ["| Benchmark | Measured | Target | Met | Notes |", "| --- | --- | --- | --- | --- |"]
    for r in results:
        met = "—" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(f"| {r.name} | {r.value} | {r.target} | {met} | {r.note} |")
    return "\n".join(lines)


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_markdown(
    path: Path, results: list[Result], command: str, provenance: str, analysis: str
) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    where = provenance or f"- Machine: {machine()}\n- Software: {versions()}"
    path.write_text(
        "# Benchmarks\n\n"
        f"Written {when} at commit {commit()} by `{command}`; run it again to refresh. "
        "Each group was measured as follows:\n\n"
        f"{where}\n\n{table(results)}\n\n{analysis}\n",
        encoding="utf-8",
    )
