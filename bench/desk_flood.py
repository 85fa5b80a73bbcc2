"""A flood of comments held under pre-moderation while an article fans out (issue 20): the
fan-out keeps the platform's pace (efficiency = sends / (elapsed x rate) >= 0.97, as the
fan-out benchmarks define it), every comment is held and queued, and the staff chat gets a
bounded number of messages (a flood folds into the notice that waits).

Real SQLite store, service and dispatcher (with the staff chat's notice outbox); the comments
arrive through the web intake at ``PER_MINUTE``; the platform is one publisher that takes
every send, article post or staff notice, at one shared pace of ``RATE`` a second.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path

from bench.fanout_shared import efficiency_notes
from bench.notice_fanout import RATE, PacedNotifier
from bench.publishing import _world
from bench.report import Result, percentile
from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    CommentId,
    CommentStatus,
    Dispatcher,
    NewsService,
    Platform,
)
from newsbot.policy import CommentPolicy
from newsbot.review import View
from newsbot.staffchat import NoticeText, StaffChat

PER_MINUTE = 2_000


class PacedStaff(PacedNotifier):
    """The paced platform, also posting staff notices (``StaffPoster``)."""

    def __init__(self) -> None:
        super().__init__()
        self.staff: list[tuple[float, str]] = []  # (when, the folded items' line)
        self.announced = 0  # items announced: each notice's lead and the items folded in

    async def post_notice(self, chat_id: str, comment_id: CommentId, text: NoticeText) -> str:
        self.staff.append((await self._slot(), text.more))
        self.announced += 1 + sum(int(n) for n in re.findall(r"(\d+) more", text.more))
        self.count += 1
        return str(self.count)


async def _flood(service: NewsService, article_id: ArticleId, until: asyncio.Event) -> list[float]:
    """Web comments at ``PER_MINUTE`` until ``until``; how long each intake took (ms)."""
    took: list[float] = []
    gap = 60 / PER_MINUTE
    start = time.monotonic()
    n = 0
    while not until.is_set():
        began = time.monotonic()
        comment = await service.add_web_comment(
            article_id, f"Reader {n}", f"flood {n}", client_key=f"k{n}", user_id=f"w:{n}"
        )
        took.append((time.monotonic() - began) * 1000)
        assert comment.status is CommentStatus.HIDDEN
        n += 1
        await asyncio.sleep(max(0.0, start + n * gap - time.monotonic()))
    return took


async def flood_fanout(chats: int) -> list[Result]:
    """An article to ``chats`` chats while a pre-moderated story gets ``PER_MINUTE``."""
    with tempfile.TemporaryDirectory() as tmp:
        print(f"  subscribing {chats:,} chats ...", file=sys.stderr)
        store, service = await _world(Path(tmp) / "flood.db", chats)
        story = await service.publish(Actor.operator(), ArticleDraft("Story", "b", tags=("x",)))
        await service.desk.set_policy(
            Actor.operator(), story.article.id, CommentPolicy.PREMODERATED
        )
        platform = PacedStaff()
        service.staffchat.chat = StaffChat(Platform.TELEGRAM, "-42")
        service.staffchat.posters[Platform.TELEGRAM] = platform
        done = asyncio.Event()
        async with Dispatcher(
            store, {Platform.TELEGRAM: platform}, staff=service.staffchat
        ) as dispatcher:
            service.on_enqueue(dispatcher.wake)
            print(
                f"  fan-out to {chats:,} chats, {PER_MINUTE:,} comments a minute ...",
                file=sys.stderr,
            )
            started = time.monotonic()
            await service.publish(Actor.operator(), ArticleDraft("Tram line", "b", tags=("all",)))
            flood = asyncio.create_task(_flood(service, story.article.id, done))
            deadline = started + 120 + chats / RATE * 3
            while len(platform.posts) < chats and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            done.set()
            took = await flood
            last = max(platform.posts)
            # The notices folding the flood go once the fan-out is out of the way.
            while platform.announced < len(took) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        queued = await service.store.review_queue(View.HELD, len(took) + 10)
        await store.close()
    efficiency, attainable = efficiency_notes(len(platform.posts), last - started, RATE)
    elapsed = last - started
    bound = int(elapsed / service.staffchat.gap) + 2
    last_line = (platform.staff[-1][1] or "one item") if platform.staff else "none sent"
    return [
        Result(
            f"fan-out efficiency to {chats:,} chats, {PER_MINUTE:,} comments/min held",
            f"{efficiency:.3f}",
            ">= 0.97",
            efficiency >= 0.97,
            f"{attainable}; pace {RATE}/s shared with the staff chat; loaded machine",
        ),
        Result(
            f"comments held during a {chats:,}-chat fan-out",
            f"{len(queued):,}/{len(took):,} in the queue, {platform.announced:,} announced; "
            "intake p99 "
            f"{percentile(took, 99):.1f} ms",
            "all held, queued and announced",
            len(queued) == len(took) == platform.announced,
            f"pre-moderated story; over {elapsed:.1f} s",
        ),
        Result(
            f"staff chat messages for {len(took):,} held comments",
            f"{len(platform.staff)} (the last: {last_line})",
            f"<= {bound} (one per {service.staffchat.gap:g} s + 2)",
            0 < len(platform.staff) <= bound,
            "folded while the fan-out runs",
        ),
    ]


def run(quick: bool) -> list[Result]:
    """The flood bench: 300 chats (10 s) quick, 2,000 (67 s) in full."""
    return asyncio.run(flood_fanout(300 if quick else 2_000))
