"""The kill scenario: SIGKILL the real bot again and again during a fan-out and a stream of
replies, restart it each time, drain, and count what was lost or doubled.

Shared by ``tests/chaos/test_chaos_kill.py`` (asserts) and ``bench/chaos.py`` (reports figures).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.chaos.harness import (
    BotProcess,
    Chaos,
    ReplyStream,
    Scale,
    classify,
    comments,
    error_lines,
    recorded_posts,
    sending,
    sending_chats,
    wait_comments,
)
from tests.fakes.wait import wait_for

JSON = dict[str, Any]


@dataclass
class KillReport:
    synchronous: str
    seed: int
    destinations: int = 0
    kills: int = 0
    kills_during_fanout: int = 0
    kills_during_startup: int = 0
    in_flight_telegram: int = 0
    in_flight_discord: int = 0
    lost_posts: list[tuple[str, str]] = field(default_factory=list)
    unrecorded_posts: list[tuple[str, str]] = field(default_factory=list)
    telegram_repeated: int = 0
    telegram_repeated_chats: int = 0
    discord_doubled_posts: list[str] = field(default_factory=list)
    discord_doubled_threads: list[str] = field(default_factory=list)
    replies: int = 0
    replies_while_down: int = 0
    replies_to_repeats: int = 0
    replies_to_repeats_stored: int = 0
    lost_comments: list[JSON] = field(default_factory=list)
    lost_behind_cursor: list[JSON] = field(default_factory=list)
    lost_in_late_threads: list[JSON] = field(default_factory=list)
    discord_in_flight_chats: set[str] = field(default_factory=set)
    doubled_comments: list[str] = field(default_factory=list)
    stray_comments: list[tuple[str, str, str, str]] = field(default_factory=list)
    fanout_seconds: float = 0.0
    drain_seconds: float = 0.0
    restart_seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        restart = max(self.restart_seconds, default=0.0)
        return (
            f"kill test (synchronous={self.synchronous}, seed={self.seed}): "
            f"{self.kills} SIGKILLs ({self.kills_during_fanout} during the fan-out, "
            f"{self.kills_during_startup} during start-up) over {self.destinations} "
            f"destinations; posts lost {len(self.lost_posts)}, Telegram repeated "
            f"{self.telegram_repeated} (in {self.telegram_repeated_chats} chats) vs "
            f"{self.in_flight_telegram} in flight at the kills, Discord doubled "
            f"{len(self.discord_doubled_posts)} posts / {len(self.discord_doubled_threads)} "
            f"threads ({self.in_flight_discord} in flight); replies {self.replies} "
            f"({self.replies_while_down} while down), comments lost "
            f"{len(self.lost_comments)} (of which {len(self.lost_behind_cursor)} behind the "
            f"Discord backfill cursor, {len(self.lost_in_late_threads)} in threads of posts "
            f"recorded after the backfill), doubled {len(self.doubled_comments)}, stray "
            f"{len(self.stray_comments)}; replies to repeated Telegram posts "
            f"{self.replies_to_repeats} (stored {self.replies_to_repeats_stored}); fan-out "
            f"{self.fanout_seconds:.1f} s, drain {self.drain_seconds:.1f} s, slowest restart "
            f"to 'running' {restart:.1f} s; error lines {len(self.errors)}"
        )


async def _fanout_done(chaos: Chaos) -> bool:
    posts = await chaos.posts()
    return all(posts.values())


async def _posted(chaos: Chaos) -> int:
    return sum(1 for ids in (await chaos.posts()).values() if ids)


async def run(chaos: Chaos, scale: Scale, rng: random.Random, seed: int) -> KillReport:
    """Publish, kill ``scale.kills`` times at random moments, drain, and count."""
    report = KillReport(chaos.synchronous, seed, destinations=len(chaos.destinations))
    await chaos.subscribe_all()
    bots: list[BotProcess] = []

    async def spawn() -> BotProcess:
        bot = chaos.bot()
        bots.append(bot)
        return bot

    try:
        bot = await spawn()
        await bot.wait_log("newsbot running", 60)
        report.restart_seconds.append(time.monotonic() - bot.started)
        async with ReplyStream(chaos, scale.replies_per_second) as replies:
            replies.bot_up = True
            await chaos.publish_cli("Chaos", "One article to every destination.")
            fanout_started = time.monotonic()
            for _ in range(scale.kills):
                # A random moment: mostly while posts are going out, sometimes during start-up.
                if rng.random() < 0.2:
                    await asyncio.sleep(rng.uniform(0.0, 3.5))
                    report.kills_during_startup += not _running(bot)
                else:
                    before = await _posted(chaos)
                    with contextlib.suppress(AssertionError):
                        await wait_for(
                            functools.partial(_progress, chaos, before), 20, "posts to go out"
                        )
                    await asyncio.sleep(rng.uniform(0.0, 1.5 if scale.full else 0.8))
                during = not await _fanout_done(chaos)
                await bot.kill()
                replies.bot_up = False
                report.kills += 1
                report.kills_during_fanout += during
                report.in_flight_telegram += sending(chaos.db, "telegram")
                report.in_flight_discord += sending(chaos.db, "discord")
                report.discord_in_flight_chats |= sending_chats(chaos.db, "discord")
                await asyncio.sleep(rng.uniform(0.0, 0.6))  # down for a while; replies go on
                bot = await spawn()
                replies.bot_up = True
            await bot.wait_log("newsbot running", 60)
            report.restart_seconds.append(time.monotonic() - bot.started)
            await wait_for(chaos.all_recorded, 120 + 2 * report.destinations / 30, "the drain")
            report.fanout_seconds = time.monotonic() - fanout_started
        drained = time.monotonic()
        # A fresh gateway session backfills every thread: one history request per thread.
        await wait_comments(chaos, replies.sent, timeout=60 + report.destinations / 10)
        await wait_for(lambda: _updates_confirmed(chaos), 30, "every update confirmed")
        report.drain_seconds = time.monotonic() - drained
        code = await bot.terminate()
        assert code == 0, bot.output()[-3000:]
    finally:
        for each in bots:
            each.cleanup()
    await _count(chaos, report, replies.sent)
    report.errors = error_lines(chaos.log.read_text(errors="replace"))
    return report


def _running(bot: BotProcess) -> bool:
    return "newsbot running" in bot.output()


async def _progress(chaos: Chaos, before: int) -> bool:
    return await _posted(chaos) > before or await _fanout_done(chaos)


async def _updates_confirmed(chaos: Chaos) -> bool:
    stats = await chaos.telegram.get("/stats")
    return int(stats["pending_updates"]) == 0


async def _count(chaos: Chaos, report: KillReport, sent: list[JSON]) -> None:
    posts = await chaos.posts()
    recorded = recorded_posts(chaos.db)
    report.lost_posts = sorted(d for d, ids in posts.items() if not ids)
    report.unrecorded_posts = sorted(
        d for d in chaos.destinations if recorded.get(d) not in posts.get(d, [])
    )
    for (platform, chat), ids in posts.items():
        if platform == "telegram" and len(ids) > 1:
            report.telegram_repeated += len(ids) - 1
            report.telegram_repeated_chats += 1
        if platform == "discord" and len(ids) > 1:
            report.discord_doubled_posts.append(chat)
    threads = (await chaos.discord.get("/stats"))["threads"]
    report.discord_doubled_threads = sorted(c for c, n in threads.items() if n > 1)

    stored = comments(chaos.db)
    by_source = Counter((p, c, m) for p, c, m, _ in stored)
    by_text = Counter(t for *_, t in stored)
    known, twins = classify(chaos.db, sent)
    report.replies = len(sent)
    report.replies_while_down = sum(1 for r in sent if not r["bot_up"])
    report.replies_to_repeats = len(twins)
    report.replies_to_repeats_stored = sum(
        1 for r in twins if by_source[(r["platform"], r["chat_id"], r["message_id"])]
    )
    report.lost_comments = [
        r for r in known if not by_source[(r["platform"], r["chat_id"], r["message_id"])]
    ]
    newest: dict[tuple[str, str], int] = {}
    for platform, chat, message, _ in stored:
        if platform == "discord":
            newest[(platform, chat)] = max(newest.get((platform, chat), 0), int(message))
    report.lost_behind_cursor = [
        r
        for r in report.lost_comments
        if r["platform"] == "discord"
        and newest.get((r["platform"], r["chat_id"]), 0) > int(r["message_id"])
    ]
    report.lost_in_late_threads = [
        r
        for r in report.lost_comments
        if r["platform"] == "discord"
        and r not in report.lost_behind_cursor
        and r["destination"] in report.discord_in_flight_chats
    ]
    report.doubled_comments = sorted(t for t, n in by_text.items() if n > 1)
    texts = {r["text"] for r in sent}
    report.stray_comments = [c for c in stored if c[3] not in texts]
