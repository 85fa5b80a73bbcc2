"""SQLite faults under the running bot: a full disk, a disk the kernel turns read-only, and a
file locked by another connection past the bot's busy timeout.

Each scenario: the bot publishes an article and stores replies (what it has *acknowledged*:
comments stored, posts recorded as sent); then a second article goes out with its sends in
flight (Telegram answers 1 s late) when the fault strikes; readers keep writing on Telegram
(Discord's live messages during a storage fault are the subject of a test of their own);
users ask ``/latest`` meanwhile. Then the fault clears and the report says what the logs
said, what was lost, what was sent twice, and how long recovery took.

Shared by ``tests/chaos/test_chaos_sqlite.py`` (asserts) and ``bench/chaos.py`` (reports figures).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos import disk
from tests.chaos.faults import DISCORD_PROBE_EVERY, TELEGRAM_PROBE_EVERY, Prober
from tests.chaos.harness import (
    BotProcess,
    Chaos,
    Database,
    ReplyStream,
    Scale,
    classify,
    comments,
    connect,
    is_postgres,
    lost_replies,
    recorded_posts,
    sending,
    wait_comments,
)
from tests.fakes.wait import wait_for

JSON = dict[str, Any]
DESTINATIONS = 5  # per platform
_STORAGE_ERROR = re.compile(r"StorageError: ([^\\\"]*)")


@dataclass
class Acknowledged:
    """What the bot had confirmed before the fault."""

    articles: int
    comments: set[tuple[str, str, str, str]]
    posts: dict[tuple[str, str], str | None]

    @classmethod
    def read(cls, db: Database) -> Acknowledged:
        with connect(db) as conn:
            articles = int(conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
        return cls(articles, set(comments(db)), recorded_posts(db, 1))

    def missing(self, db: Database) -> list[str]:
        """What of it the database no longer holds."""
        try:
            now = Acknowledged.read(db)
        except sqlite3.Error as error:
            return [f"the database cannot be read: {error}"]
        problems = []
        if now.articles < self.articles:
            problems.append(f"articles: {now.articles} of {self.articles}")
        lost = self.comments - now.comments
        if lost:
            problems.append(f"{len(lost)} of {len(self.comments)} stored comments")
        changed = [d for d, m in self.posts.items() if now.posts.get(d) != m]
        if changed:
            problems.append(f"{len(changed)} of {len(self.posts)} posts recorded as sent")
        return problems


@dataclass
class StorageReport:
    name: str
    synchronous: str
    fault_seconds: float
    acknowledged_comments: int = 0
    storage_errors: list[str] = field(default_factory=list)
    bot_alive_during_fault: bool = False
    probes: dict[str, list[float | None]] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)
    acknowledged_lost: list[str] = field(default_factory=list)
    replies: int = 0
    lost_comments: list[JSON] = field(default_factory=list)
    replies_to_repeats: int = 0
    in_flight_telegram: int = 0
    telegram_repeated: int = 0
    discord_doubled: list[str] = field(default_factory=list)
    lost_posts: list[tuple[str, str]] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    read_only_start: str = ""
    integrity: str = ""

    def probe(self, name: str) -> tuple[int, int, float]:
        values = self.probes.get(name, [])
        answered = [v for v in values if v is not None]
        return len(answered), len(values), max(answered, default=float("nan"))

    def summary(self) -> str:
        errors = sorted(set(self.storage_errors))
        probes = []
        for name in self.probes:
            answered, asked, slowest = self.probe(name)
            probes.append(f"{name} answered {answered}/{asked} (max {slowest:.2f} s)")
        figures = ", ".join(f"{k} {v:.1f} s" for k, v in self.figures.items())
        start = f"; start on a read-only disk: {self.read_only_start!r}" * bool(
            self.read_only_start
        )
        return (
            f"{self.name} (synchronous={self.synchronous}, {self.fault_seconds:g} s): logged "
            f"{errors[:3]}; acknowledged {self.acknowledged_comments} comments, lost "
            f"{self.acknowledged_lost or 'nothing'}; replies {self.replies}, lost "
            f"{len(self.lost_comments)} (and {self.replies_to_repeats} to repeated posts); "
            f"Telegram repeated {self.telegram_repeated} "
            f"({self.in_flight_telegram} in flight), Discord doubled "
            f"{len(self.discord_doubled)}, posts lost {len(self.lost_posts)}; "
            f"{'; '.join(probes)}; {figures}; exit codes {self.exit_codes}{start}; "
            f"integrity {self.integrity}"
        )


@contextlib.asynccontextmanager
async def _probes(chaos: Chaos, report: StorageReport, when: str) -> AsyncIterator[None]:
    async with (
        Prober(chaos, "telegram", TELEGRAM_PROBE_EVERY, 30) as tg,
        Prober(chaos, "discord", DISCORD_PROBE_EVERY, 10) as dc,
    ):
        yield
    report.probes[f"telegram /latest {when}"] = tg.latencies
    report.probes[f"discord /latest {when}"] = dc.latencies


async def _acknowledge(chaos: Chaos, replies: ReplyStream, report: StorageReport) -> Acknowledged:
    """Publish the first article and store some replies: what the fault must not take."""
    await chaos.publish("Before the fault", "What the bot acknowledged.")
    await wait_for(chaos.all_recorded, 60, "the first fan-out")
    replies.bot_up = True
    await wait_for(lambda: len(replies.sent) >= 6, 30, "some replies")
    await wait_comments(chaos, replies.sent, timeout=30)
    acknowledged = Acknowledged.read(chaos.db)
    report.acknowledged_comments = len(acknowledged.comments)
    # From here on only Telegram readers write: Discord messages that arrive during a storage
    # fault have a test of their own (test_discord_reply_during_a_storage_fault_...).
    replies.platforms = "telegram"
    return acknowledged


async def _second_article_in_flight(chaos: Chaos) -> None:
    """Publish again with Telegram answering 1 s late; return once its sends are out."""
    await chaos.telegram.control("delay", {"seconds": 1.0})
    before = await _telegram_sends(chaos)
    await chaos.publish("During the fault", "Sent while the disk fails.")
    await wait_for(lambda: _telegram_sends_above(chaos, before), 30, "the second fan-out to start")


async def _telegram_sends(chaos: Chaos) -> int:
    calls = (await chaos.telegram.get("/stats"))["calls"]
    return int(calls.get("sendMessage", 0))


async def _telegram_sends_above(chaos: Chaos, count: int) -> bool:
    return await _telegram_sends(chaos) > count


async def _finish(
    chaos: Chaos, bot: BotProcess, replies: ReplyStream, report: StorageReport, since: float
) -> None:
    """After the fault: wait for the drain, stop cleanly, count."""
    await wait_for(lambda: chaos.all_recorded(2), 120, "the second fan-out recorded")
    report.figures["posts recorded after the fault"] = time.monotonic() - since
    for platform in ("telegram", "discord"):
        reply = await chaos.reply_to_recorded(platform)
        await wait_for(functools.partial(chaos.is_stored, reply), 120, f"a {platform} reply")
        report.figures[f"{platform} replies stored again after"] = time.monotonic() - since
    replies.platforms = "both"
    await replies.stop()
    await wait_comments(chaos, replies.sent, timeout=60)
    report.exit_codes.append(await bot.terminate())
    report.replies = len(replies.sent)
    twins = classify(chaos.db, replies.sent)[1]  # replies to the first of a repeated post
    have = {c[:3] for c in comments(chaos.db)}
    report.lost_comments = lost_replies(chaos.db, replies.sent) + [
        r for r in twins if (r["platform"], r["chat_id"], r["message_id"]) not in have
    ]
    report.replies_to_repeats = len(twins)
    posts = await chaos.posts()
    for article in (1, 2):
        recorded = recorded_posts(chaos.db, article)
        report.lost_posts += [d for d in chaos.destinations if recorded.get(d) not in posts[d]]
    for (platform, chat), ids in posts.items():
        extra = max(0, len(ids) - 2)
        if platform == "telegram":
            report.telegram_repeated += extra
        elif extra:
            report.discord_doubled.append(chat)
    report.storage_errors = _STORAGE_ERROR.findall(chaos.log.read_text(errors="replace"))
    if is_postgres(chaos.db):
        report.integrity = "ok"  # the server's own business; nothing newsbot can check
        return
    with connect(chaos.db) as conn:
        report.integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])


async def full_disk(tmp: Path, scale: Scale, synchronous: str) -> StorageReport:
    """The database's filesystem (a tmpfs) fills up, then space is freed."""
    seconds = 30.0 if scale.full else 3.0
    report = StorageReport("full disk", synchronous, seconds)
    with disk.tmpfs(tmp / "dbfs", 8192) as fs:
        chaos = await Chaos.start(tmp, DESTINATIONS, synchronous=synchronous, db_dir=fs)
        bot = None
        try:
            await chaos.subscribe_all()
            bot = await chaos.running_bot()
            async with ReplyStream(chaos, 4.0) as replies:
                acknowledged = await _acknowledge(chaos, replies, report)
                await _second_article_in_flight(chaos)
                filler = disk.fill(fs)
                await chaos.telegram.control("delay", {"seconds": 0})
                async with _probes(chaos, report, "while the disk is full"):
                    await asyncio.sleep(seconds)  # the fault itself
                report.bot_alive_during_fault = bot.alive
                filler.unlink()
                cleared = time.monotonic()
                report.acknowledged_lost = acknowledged.missing(chaos.db)
                await _finish(chaos, bot, replies, report, cleared)
        finally:
            if bot is not None:
                bot.cleanup()
            await chaos.stop()
    return report


async def locked(tmp: Path, scale: Scale, synchronous: str) -> StorageReport:
    """Another connection holds ``BEGIN EXCLUSIVE`` past the bot's 5 s busy timeout."""
    seconds = 30.0 if scale.full else 6.0
    report = StorageReport("locked database", synchronous, seconds)
    chaos = await Chaos.start(tmp, DESTINATIONS, synchronous=synchronous)
    bot = None
    try:
        await chaos.subscribe_all()
        bot = await chaos.running_bot()
        async with ReplyStream(chaos, 4.0) as replies:
            acknowledged = await _acknowledge(chaos, replies, report)
            await _second_article_in_flight(chaos)
            holder = sqlite3.connect(chaos.db, isolation_level=None, timeout=30)
            try:
                holder.execute("BEGIN EXCLUSIVE")
                await chaos.telegram.control("delay", {"seconds": 0})
                async with _probes(chaos, report, "while the database is locked"):
                    await asyncio.sleep(seconds)  # the fault itself
                report.bot_alive_during_fault = bot.alive
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            released = time.monotonic()
            report.acknowledged_lost = acknowledged.missing(chaos.db)
            await _finish(chaos, bot, replies, report, released)
    finally:
        if bot is not None:
            bot.cleanup()
        await chaos.stop()
    return report


async def read_only(tmp: Path, scale: Scale, synchronous: str) -> StorageReport:
    """The kernel turns the database's ext4 read-only (a disk error). That cannot be undone
    under open files: stop the bot, repair, try a start on the read-only disk (a clear
    refusal is expected), then start on the repaired, writable disk."""
    seconds = 30.0 if scale.full else 3.0
    report = StorageReport("read-only disk", synchronous, seconds)
    fs = disk.Ext4(tmp / "ext4.img", tmp / "dbfs")
    fs.create()
    fs.mount()
    bots: list[BotProcess] = []
    chaos = await Chaos.start(tmp, DESTINATIONS, synchronous=synchronous, db_dir=fs.mountpoint)
    try:
        await chaos.subscribe_all()
        bots.append(await chaos.running_bot())
        async with ReplyStream(chaos, 4.0) as replies:
            acknowledged = await _acknowledge(chaos, replies, report)
            await _second_article_in_flight(chaos)
            fs.fail()
            await wait_for(fs.read_only, 10, "the kernel to remount read-only")
            await chaos.telegram.control("delay", {"seconds": 0})
            async with _probes(chaos, report, "while the disk is read-only"):
                await asyncio.sleep(seconds)  # the fault itself
            report.bot_alive_during_fault = bots[-1].alive
            report.exit_codes.append(await bots[-1].terminate())
            replies.bot_up = False
            report.storage_errors = _STORAGE_ERROR.findall(chaos.log.read_text(errors="replace"))
            fs.repair()
            fs.mount()
            report.in_flight_telegram = sending(chaos.db, "telegram")
            report.acknowledged_lost = acknowledged.missing(chaos.db)
            if report.acknowledged_lost:
                return report
            fs.umount()
            fs.mount(read_only=True)
            refused = chaos.bot()
            bots.append(refused)
            started = time.monotonic()
            code = await asyncio.to_thread(refused.process.wait, 60)
            report.figures["refusal on a read-only disk"] = time.monotonic() - started
            report.exit_codes.append(code)
            said = [ln for ln in refused.output().splitlines() if ln.startswith("newsbot: ")]
            report.read_only_start = said[-1] if said else ""
            fs.umount()
            fs.mount()
            restarted = time.monotonic()
            bots.append(await chaos.running_bot())
            replies.bot_up = True
            await _finish(chaos, bots[-1], replies, report, restarted)
            report.storage_errors = _STORAGE_ERROR.findall(chaos.log.read_text(errors="replace"))
    finally:
        for bot in bots:
            bot.cleanup()
        await chaos.stop()
        fs.umount()
    return report


# -- PostgreSQL: the server goes away ------------------------------------------------------


async def _through_proxy(tmp: Path, url: str, synchronous: str) -> tuple[Chaos, Any]:
    """Both fakes, and the bot on PostgreSQL through a relay the test can cut (the test's own
    reads go to the server directly)."""
    from tests.pg import Proxy, through

    proxy = Proxy(url)
    await proxy.start()
    chaos = await Chaos.start(
        tmp,
        DESTINATIONS,
        synchronous=synchronous,
        database_url=url,
        NEWSBOT_DATABASE=through(url, proxy.port),
    )
    return chaos, proxy


async def pg_outage(tmp: Path, scale: Scale, url: str, synchronous: str = "FULL") -> StorageReport:
    """The PostgreSQL server refuses every connection for a while (down, or restarting),
    with a fan-out in flight, readers writing and users asking ``/latest``."""
    seconds = 30.0 if scale.full else 8.0
    report = StorageReport("PostgreSQL unreachable", synchronous, seconds)
    chaos, proxy = await _through_proxy(tmp, url, synchronous)
    bot = None
    try:
        await chaos.subscribe_all()
        bot = await chaos.running_bot()
        async with ReplyStream(chaos, 4.0) as replies:
            acknowledged = await _acknowledge(chaos, replies, report)
            await _second_article_in_flight(chaos)
            proxy.refuse()
            await chaos.telegram.control("delay", {"seconds": 0})
            async with _probes(chaos, report, "while PostgreSQL is unreachable"):
                await asyncio.sleep(seconds)  # the fault itself
            report.bot_alive_during_fault = bot.alive
            proxy.restore()
            back = time.monotonic()
            report.acknowledged_lost = acknowledged.missing(chaos.db)
            await _finish(chaos, bot, replies, report, back)
    finally:
        if bot is not None:
            bot.cleanup()
        await chaos.stop()
        await proxy.stop()
    return report


async def pg_restart(
    tmp: Path, scale: Scale, url: str, synchronous: str = "FULL"
) -> StorageReport:
    """Every connection of the bot is terminated by the server (as a restart does) three
    times in a row, a second apart, while it sends and stores."""
    report = StorageReport("PostgreSQL restarted", synchronous, 3.0)
    chaos, proxy = await _through_proxy(tmp, url, synchronous)
    bot = None
    try:
        await chaos.subscribe_all()
        bot = await chaos.running_bot()
        async with ReplyStream(chaos, 4.0) as replies:
            acknowledged = await _acknowledge(chaos, replies, report)
            await _second_article_in_flight(chaos)
            await chaos.telegram.control("delay", {"seconds": 0})
            async with _probes(chaos, report, "while PostgreSQL restarts"):
                for _ in range(3):
                    proxy.refuse()  # every connection dropped mid-flight...
                    proxy.restore()  # ...and the server answers again at once
                    await asyncio.sleep(1.0)  # between the restarts, not a wait
            report.bot_alive_during_fault = bot.alive
            back = time.monotonic()
            report.acknowledged_lost = acknowledged.missing(chaos.db)
            await _finish(chaos, bot, replies, report, back)
    finally:
        if bot is not None:
            bot.cleanup()
        await chaos.stop()
        await proxy.stop()
    return report
