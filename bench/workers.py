"""Several workers: fan-out efficiency with three ``bot.py`` processes on one database, and
the failover time when the role holder is killed.

The fakes are ``bench.fake_servers`` (each platform's limits enforced as sliding windows, every
send timestamped); the three workers are real ``python bot.py`` processes, as an operator runs
them; the article is published from this process through the store, so the holder learns of it
the way it learns of ``bot.py publish`` (LISTEN/NOTIFY on PostgreSQL, the data_version watch on
SQLite). Efficiency is as in ``bench/fanout.py``: messages accepted / (elapsed x the limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.fake_servers import TELEGRAM_CHANNEL_BASE
from bench.fanout import (
    TELEGRAM_RATE,
    TOKEN,
    discord_outcome,
    efficiency_notes,
    running_fake,
    subscribe_all,
    until,
)
from bench.report import Result
from newsbot import Actor, ArticleDraft, NewsService, Platform

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3
CHANNELS_PER_GUILD = 500


def _open(database: str) -> Any:
    from storage import open_store

    return open_store(database)


class Worker:
    """One ``python bot.py`` with its own log."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "bot.py")],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.asynccontextmanager
async def _world(channels: int, database: str) -> AsyncIterator[tuple[Any, Any, dict[str, str]]]:
    async with (
        running_fake("telegram", "--channels", str(channels), "--users", "1") as tg,
        running_fake(
            "discord", "--channels", str(channels), "--per-guild", str(CHANNELS_PER_GUILD)
        ) as dc,
    ):
        world = await dc.get("/world")
        store = _open(database)
        await store.open()
        try:
            service = NewsService(store)
            print(f"  subscribing {channels:,} chats per platform ...", file=sys.stderr)
            await subscribe_all(
                service,
                Platform.TELEGRAM,
                [str(TELEGRAM_CHANNEL_BASE - n) for n in range(channels)],
                "TG",
            )
            await subscribe_all(service, Platform.DISCORD, world["channels"], "DC")
        finally:
            await store.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "NEWSBOT_DATABASE": database,
                "NEWSBOT_WEB": "false",
                "NEWSBOT_LOG_LEVEL": "INFO",
                "NEWSBOT_PUBLIC_URL": "https://news.example",
                "NEWSBOT_MIRROR": "false",
                "NEWSBOT_TELEGRAM_TOKEN": TOKEN,
                "NEWSBOT_TELEGRAM_API_URL": tg.info["base_url"],
                "NEWSBOT_DISCORD_TOKEN": TOKEN,
                "NEWSBOT_DISCORD_API_URL": dc.info["api_url"],
                "NEWSBOT_DISCORD_GATEWAY_URL": dc.info["gateway_url"],
            }
        )
        yield tg, dc, env


async def _roles_held(database: str) -> dict[str, str]:
    """The platforms' sending roles held now (``poll:feeds`` is a role too, not counted)."""
    store = _open(database)
    await store.open()
    try:
        now = NewsService(store).clock.now()
        return {
            r.role: r.holder
            for r in await store.list_roles()
            if r.role.startswith("send:") and r.lease_until > now
        }
    finally:
        await store.close()


async def _publish(database: str) -> None:
    store = _open(database)
    await store.open()
    try:
        await NewsService(store).publish(
            Actor.operator(), ArticleDraft("Workers", "One article, three workers.")
        )
    finally:
        await store.close()


async def fanout(channels: int, database: str, label: str) -> list[Result]:
    """Three workers; one article to ``channels`` chats on each platform."""
    with tempfile.TemporaryDirectory() as tmp:
        async with _world(channels, database) as (tg, dc, env):
            workers = [
                Worker({**env, "NEWSBOT_WORKER_ID": f"bench-w{n}"}, Path(tmp) / f"w{n}.log")
                for n in range(WORKERS)
            ]
            try:

                async def ready() -> bool:
                    return len(await _roles_held(database)) == 2

                await until(ready, 120, "both roles held")
                await asyncio.sleep(3)  # the Discord holder's gateway comes up after its role
                print(
                    f"  {label}: fan-out to {channels:,} chats per platform, {WORKERS} workers",
                    file=sys.stderr,
                )
                started = time.monotonic()
                await _publish(database)

                async def finished() -> bool:
                    t, d = await tg.get("/progress"), await dc.get("/progress")
                    return bool(t["fanout_sends"] >= channels and d["useful"] >= 2 * channels)

                await until(finished, 4 * channels / TELEGRAM_RATE + 120, "the fan-out")
                tg_stats, dc_stats = await tg.get("/stats"), await dc.get("/stats")
            finally:
                for worker in workers:
                    worker.stop()
    sends = [t for t, _ in tg_stats["sends"] if t >= started]
    elapsed = max(sends) - started
    tg_efficiency, attainable = efficiency_notes(len(sends), elapsed, TELEGRAM_RATE)
    dc_efficiency, _elapsed, dc_note = discord_outcome(dc_stats, started, channels)
    duplicated = sum(1 for n in tg_stats["per_chat"].values() if n > 1)
    return [
        Result(
            f"11. Telegram fan-out, 3 workers ({label})",
            f"{tg_efficiency:.3f}",
            ">= 0.97",
            tg_efficiency >= 0.97 and tg_stats["count_429"] == 0,
            f"{len(sends):,} posts in {elapsed:.1f} s from publish; {attainable}; "
            f"{tg_stats['count_429']} answers of 429; {duplicated} chats doubled",
        ),
        Result(
            f"11. Discord fan-out, 3 workers ({label})",
            f"{dc_efficiency:.3f}",
            ">= 0.97",
            dc_efficiency >= 0.97 and dc_stats["count_429"] == 0,
            dc_note + f"; {dc_stats['count_429']} answers of 429",
        ),
    ]


async def failover(channels: int, database: str, label: str, kills: int) -> list[Result]:
    """Kill the holder of a random platform's role ``kills`` times; the time until another
    worker logs that it sends for that platform."""
    rng = random.Random(7)
    times: dict[str, list[float]] = {"telegram": [], "discord": []}
    with tempfile.TemporaryDirectory() as tmp:
        async with _world(channels, database) as (_tg, _dc, env):
            lives: dict[str, Worker] = {}
            born = 0

            def spawn() -> None:
                nonlocal born
                born += 1
                worker_id = f"bench-life{born}"
                lives[worker_id] = Worker(
                    {**env, "NEWSBOT_WORKER_ID": worker_id}, Path(tmp) / f"{worker_id}.log"
                )

            try:
                for _ in range(WORKERS):
                    spawn()

                async def ready() -> bool:
                    return len(await _roles_held(database)) == 2

                await until(ready, 120, "both roles held")
                for _ in range(kills):
                    await asyncio.sleep(3)
                    held = await _roles_held(database)
                    role = rng.choice(sorted(held))
                    victim = held[role]
                    killed = time.time()
                    lives.pop(victim).kill()
                    spawn()
                    platform = role.split(":", 1)[1]

                    def taken(p: str = platform, since: float = killed) -> float | None:
                        from tests.chaos.workers import taken_since

                        logs = "\n".join(w.text() for w in lives.values())
                        return taken_since(logs, p, since)

                    async def took_over() -> bool:
                        return taken() is not None

                    await until(took_over, 60, f"a takeover of {platform}")
                    at = taken()
                    assert at is not None
                    times[platform].append(at - killed)
            finally:
                for worker in lives.values():
                    worker.stop()
    results = []
    for platform, measured in times.items():
        if not measured:
            continue
        p50, worst = statistics.median(measured), max(measured)
        results.append(
            Result(
                f"11. {platform} failover ({label})",
                f"{p50:.1f} s p50",
                "<= 10 s (aim 5)",
                worst <= 10,
                f"max {worst:.1f} s over {len(measured)} kills of the holder; from SIGKILL to "
                "the new holder's adapter started; role lease 5 s, renewed every second",
            )
        )
    return results


def run(quick: bool) -> list[Result]:
    """2,000 chats per platform and 20 kills of the holder (300 and 4 when quick), on
    PostgreSQL (the scale-out store) and, for comparison, three workers on one SQLite file."""
    from bench.core import postgres_database, postgres_server

    channels = 300 if quick else 2_000
    kills = 4 if quick else 20
    results: list[Result] = []
    server = postgres_server()
    if server is not None:
        with postgres_database(server) as database:
            results += asyncio.run(fanout(channels, database, "PostgreSQL"))
        with postgres_database(server) as database:
            results += asyncio.run(failover(50, database, "PostgreSQL", kills))
    with tempfile.TemporaryDirectory() as tmp:
        results += asyncio.run(fanout(channels, str(Path(tmp) / "workers.db"), "SQLite"))
    with tempfile.TemporaryDirectory() as tmp:
        results += asyncio.run(failover(50, str(Path(tmp) / "failover.db"), "SQLite", kills))
    return results
