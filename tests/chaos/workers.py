"""The failover scenario: three workers (``python bot.py`` three times) share one database
while one article fans out to every destination and readers keep replying; a random worker,
the holder of a platform's role more often than not, is SIGKILLed again and again and
replaced by a new one. Afterwards: what was lost or doubled, 429s and 409s the fakes gave,
and how long each platform had no sender.

Also the paused worker: SIGSTOP the holder past its lease, let another take over, SIGCONT
it, and check that it gave its roles up instead of sending with a stale one.

Shared by ``tests/chaos/test_chaos_workers.py`` (asserts) and ``bench/chaos.py`` (figures).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tests.chaos import kill
from tests.chaos.harness import (
    BotProcess,
    Chaos,
    Database,
    ReplyStream,
    Scale,
    connect,
    error_lines,
    sending,
    sending_chats,
    wait_comments,
)
from tests.fakes.wait import wait_for

WORKERS = 3
PLATFORMS = ("telegram", "discord")
# Shorter leases than the defaults make the small run quick; the failover figures depend on
# ROLE_LEASE (a takeover comes at most a lease and a renewal after the holder's death).
ROLE_LEASE = "5"
CLAIM_LEASE = "10"
_TAKEN = re.compile(
    r"ts=(\S+) level=INFO logger=newsbot msg=\"sending and receiving\" .*platform=(\w+)"
)


@dataclass
class FailoverReport:
    kills: KillCounts
    holder_kills: int = 0
    failovers: dict[str, list[float]] = field(default_factory=dict)
    count_429: dict[str, int] = field(default_factory=dict)
    count_409: int = 0
    errors: list[str] = field(default_factory=list)

    def failover_figures(self, platform: str) -> tuple[float, float]:
        times = self.failovers.get(platform, [])
        if not times:
            return float("nan"), float("nan")
        return statistics.median(times), max(times)

    def summary(self) -> str:
        parts = []
        for platform in PLATFORMS:
            p50, worst = self.failover_figures(platform)
            count = len(self.failovers.get(platform, []))
            parts.append(f"{platform} failover p50 {p50:.1f} s, max {worst:.1f} s ({count})")
        return (
            f"failover test: {self.kills.kills} SIGKILLs of {WORKERS} workers "
            f"({self.holder_kills} of a role holder); {'; '.join(parts)}; 429s from the "
            f"fakes {self.count_429}, getUpdates conflicts {self.count_409}; "
            + self.kills.summary()
        )


KillCounts = kill.KillReport


class Workers:
    """Three worker slots; each life of a slot is a ``BotProcess`` with its own id and log."""

    def __init__(self, chaos: Chaos) -> None:
        self.chaos = chaos
        self.lives: dict[int, BotProcess] = {}
        self.ids: dict[int, str] = {}
        self.all: list[BotProcess] = []
        self._born = 0

    def spawn(self, slot: int, **extra: str) -> BotProcess:
        self._born += 1
        worker = f"w{slot}-life{self._born}"
        env = {
            "NEWSBOT_WORKER_ID": worker,
            "NEWSBOT_ROLE_LEASE": ROLE_LEASE,
            "NEWSBOT_CLAIM_LEASE": CLAIM_LEASE,
            **extra,
        }
        bot = self.chaos.bot(log=self.chaos.tmp / f"worker{slot}.log", env=env)
        self.lives[slot], self.ids[slot] = bot, worker
        self.all.append(bot)
        return bot

    def slot_of(self, worker: str) -> int | None:
        return next((s for s, w in self.ids.items() if w == worker), None)

    def cleanup(self) -> None:
        for bot in self.all:
            bot.cleanup()

    def logs(self) -> str:
        return "\n".join(
            (self.chaos.tmp / f"worker{slot}.log").read_text(errors="replace")
            for slot in self.lives
        )


def holders(db: Database) -> dict[str, str]:
    """platform -> the worker whose role lease is live now (as the database says)."""
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT role, holder FROM roles WHERE lease_until > ?", (now,)
        ).fetchall()
    # Only the platforms' roles: the feed poller's (poll:feeds) is not a platform.
    return {role.split(":", 1)[1]: holder for role, holder in rows if role.startswith("send:")}


def live_holders(workers: Workers) -> dict[str, int]:
    """platform -> the slot of the current life holding its role (not a killed one)."""
    found = {}
    for platform, worker in holders(workers.chaos.db).items():
        slot = workers.slot_of(worker)
        if slot is not None:
            found[platform] = slot
    return found


def taken_since(logs: str, platform: str, since: float) -> float | None:
    """The first time after ``since`` (epoch seconds) a worker started sending for
    ``platform``."""
    for line in logs.splitlines():
        found = _TAKEN.search(line)
        if found is None or found.group(2) != platform:
            continue
        at = datetime.fromisoformat(found.group(1).replace("Z", "+00:00")).timestamp()
        if at > since:
            return at
    return None


async def run(chaos: Chaos, scale: Scale, rng: random.Random, seed: int) -> FailoverReport:
    """Start three workers, publish, kill ``scale.worker_kills`` times, drain and count."""
    report = FailoverReport(kill.KillReport(chaos.synchronous, seed, len(chaos.destinations)))
    counts = report.kills
    await chaos.subscribe_all()
    workers = Workers(chaos)
    slot: int | None  # a worker slot; None: the holder's life already died
    try:
        for slot in range(WORKERS):
            workers.spawn(slot)
        for bot in list(workers.lives.values()):
            await bot.wait_log("newsbot running", 60)
        await wait_for(lambda: len(holders(chaos.db)) == len(PLATFORMS), 30, "both roles held")
        async with ReplyStream(chaos, scale.replies_per_second) as replies:
            replies.bot_up = True
            await chaos.publish_cli("Failover", "One article to every destination.")
            fanout_started = time.monotonic()
            for _ in range(scale.worker_kills):
                await asyncio.sleep(rng.uniform(0.5, 2.5 if scale.full else 1.5))
                if counts.kills == 0 or rng.random() < 0.7:
                    # A role holder, and a live one: a killed holder's lease outlives it
                    # (on a busy machine, possibly past the next kill). The first kill
                    # always waits for one, so that every run kills a holder.
                    await wait_for(lambda: bool(live_holders(workers)), 60, "a live role holder")
                    alive = live_holders(workers)
                    slot = alive[rng.choice(sorted(alive))]
                else:
                    slot = rng.randrange(WORKERS)
                held = holders(chaos.db)
                lost = [p for p, w in held.items() if w == workers.ids[slot]]
                counts.kills_during_fanout += not await kill._fanout_done(chaos)
                killed_at = time.time()
                await workers.lives[slot].kill()
                counts.kills += 1
                report.holder_kills += bool(lost)
                counts.in_flight_telegram += sending(chaos.db, "telegram")
                counts.in_flight_discord += sending(chaos.db, "discord")
                counts.discord_in_flight_chats |= sending_chats(chaos.db, "discord")
                workers.spawn(slot)
                for platform in lost:
                    with contextlib.suppress(AssertionError):
                        await wait_for(
                            lambda p=platform, t=killed_at: (  # type: ignore[misc]  # python/mypy#15459: a lambda default binding a loop variable
                                taken_since(workers.logs(), p, t) is not None
                            ),
                            30,
                            f"another worker to send for {platform}",
                        )
                    at = taken_since(workers.logs(), platform, killed_at)
                    if at is not None:
                        report.failovers.setdefault(platform, []).append(at - killed_at)
            await wait_for(chaos.all_recorded, 120 + 2 * counts.destinations / 30, "the drain")
            counts.fanout_seconds = time.monotonic() - fanout_started
        await wait_comments(chaos, replies.sent, timeout=60 + counts.destinations / 10)
        for bot in list(workers.lives.values()):
            # A worker spawned after the last kill may still be starting (a SIGTERM while
            # Python imports is a death by signal, not a clean stop): let it finish first.
            await bot.wait_log("newsbot running", 60)
            code = await bot.terminate()
            assert code == 0, bot.output()[-3000:]
    finally:
        workers.cleanup()
    await kill._count(chaos, counts, replies.sent)
    tg, dc = await asyncio.gather(chaos.telegram.get("/stats"), chaos.discord.get("/stats"))
    report.count_429 = {"telegram": int(tg["count_429"]), "discord": int(dc["count_429"])}
    report.count_409 = int(tg.get("count_409", 0))
    report.errors = error_lines(workers.logs())
    return report


@dataclass
class PauseReport:
    paused_holder: str = ""
    took_over_in: float = float("nan")
    gave_up_on_waking: bool = False
    sends_after_waking: int = 0
    count_429: dict[str, int] = field(default_factory=dict)
    count_409: int = 0
    discord_doubled: list[str] = field(default_factory=list)
    lost_posts: list[tuple[str, str]] = field(default_factory=list)
    log: str = ""


async def pause(chaos: Chaos, platform: str = "telegram", seconds: float = 9.0) -> PauseReport:
    """SIGSTOP the holder of ``platform``'s role mid fan-out for ``seconds`` (past its lease),
    then SIGCONT it; the fan-out finishes under the new holder."""
    report = PauseReport()
    await chaos.subscribe_all()
    workers = Workers(chaos)
    slot: int | None
    try:
        for slot in range(2):
            workers.spawn(slot, NEWSBOT_LOG_LEVEL="DEBUG")
        for bot in list(workers.lives.values()):
            await bot.wait_log("newsbot running", 60)
        await wait_for(lambda: platform in holders(chaos.db), 30, "the role held")
        await chaos.publish_cli("Paused", "One article to every destination.")
        await wait_for(lambda: _recorded(chaos, platform) >= 5, 30, "the fan-out under way")
        holder = holders(chaos.db)[platform]
        slot = workers.slot_of(holder)
        assert slot is not None
        report.paused_holder = holder
        paused = workers.lives[slot]
        stopped_at = time.time()
        with contextlib.suppress(ProcessLookupError):
            paused.process.send_signal(signal.SIGSTOP)
        try:
            await wait_for(
                lambda: holders(chaos.db).get(platform, holder) != holder,
                60,  # generous: a loaded machine stretches the takeover (11 s seen)
                "another worker to take the role",
            )
            report.took_over_in = time.time() - stopped_at
            remaining = seconds - (time.time() - stopped_at)
            if remaining > 0:
                await asyncio.sleep(remaining)  # the pause being tested, not a wait
        finally:
            with contextlib.suppress(ProcessLookupError):
                paused.process.send_signal(signal.SIGCONT)
        woke_at = time.time()
        with contextlib.suppress(AssertionError):
            await paused.wait_log(r"role lost", 15)
        report.gave_up_on_waking = "role lost" in paused.output()
        await wait_for(chaos.all_recorded, 120, "the drain")
        report.sends_after_waking = _sends_logged_after(paused.output(), woke_at)
        for bot in list(workers.lives.values()):
            await bot.terminate()
        report.log = paused.output()
    finally:
        workers.cleanup()
    posts = await chaos.posts()
    report.lost_posts = sorted(d for d, ids in posts.items() if not ids)
    report.discord_doubled = sorted(
        c for (p, c), ids in posts.items() if p == "discord" and len(ids) > 1
    )
    tg, dc = await asyncio.gather(chaos.telegram.get("/stats"), chaos.discord.get("/stats"))
    report.count_429 = {"telegram": int(tg["count_429"]), "discord": int(dc["count_429"])}
    report.count_409 = int(tg.get("count_409", 0))
    return report


def _recorded(chaos: Chaos, platform: str) -> int:
    with connect(chaos.db) as conn:
        return int(
            conn.execute(
                "SELECT COUNT(*) FROM deliveries WHERE platform = ? AND message_id IS NOT NULL",
                (platform,),
            ).fetchone()[0]
        )


def _sends_logged_after(log: str, since: float) -> int:
    """Sends the worker started after ``since`` (its dispatcher logs "sending" at DEBUG
    before each publisher call; a send in flight at the pause started before it)."""
    count = 0
    for line in log.splitlines():
        if "msg=sending " not in line:
            continue
        stamp = re.search(r"ts=(\S+)", line)
        if (
            stamp
            and datetime.fromisoformat(stamp.group(1).replace("Z", "+00:00")).timestamp() > since
        ):
            count += 1
    return count
