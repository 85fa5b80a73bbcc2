"""Reply notices while an article fans out (issue 18): the fan-out keeps the platform's pace
(efficiency = sends / (elapsed x rate) >= 0.97, as the fan-out benchmarks define it) and the
notices go out after it, or in the slots it leaves free.

Real SQLite store, service and dispatcher (with the store's notice outbox); the platform is a
publisher that takes every send, post or private message, at one shared pace of ``RATE`` a
second, like a platform's global limit.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.fanout_shared import efficiency_notes
from bench.publishing import _world
from bench.report import Result
from newsbot import Actor, ArticleDraft, Dispatcher, Job, Platform, Posted
from newsbot.notifications import NoticeJob
from newsbot.people import Proof, Proven, web_author_id

RATE = 30  # sends a second, posts and private messages together (Telegram's broadcast limit)


class PacedNotifier:
    """Sends at ``RATE`` a second in all; records when each post and notice went out."""

    platform = Platform.TELEGRAM

    def __init__(self) -> None:
        self.posts: list[float] = []
        self.notices: list[tuple[float, int]] = []  # (when, replies it carried)
        self._next = 0.0
        self.count = 0

    async def _slot(self) -> float:
        now = time.monotonic()
        at = max(now, self._next)
        self._next = at + 1 / RATE
        await asyncio.sleep(at - now)
        return time.monotonic()

    async def post(self, job: Job) -> Posted:
        self.posts.append(await self._slot())
        self.count += 1
        return Posted(str(self.count))

    async def edit(self, job: Job) -> None:
        return None

    async def delete(self, job: Job) -> None:
        return None

    async def notify(self, job: NoticeJob) -> None:
        self.notices.append((await self._slot(), job.count))


async def notice_fanout(chats: int, readers: int) -> list[Result]:
    """An article to ``chats`` chats; meanwhile each of ``readers`` signed-in readers gets a
    reply to their comment on an earlier article."""
    with tempfile.TemporaryDirectory() as tmp:
        print(f"  subscribing {chats:,} chats, {readers} readers ...", file=sys.stderr)
        store, service = await _world(Path(tmp) / "notices.db", chats)
        service.notifications.delay = timedelta(0)
        earlier = await service.publish(
            Actor.operator(),
            ArticleDraft("Earlier", "b", tags=("earlier",)),  # to no chat
        )
        parents = []
        for n in range(readers):
            who = Proven(Platform.TELEGRAM, str(10_000 + n), f"Reader {n}", Proof.TELEGRAM_LOGIN)
            await service.people.sign_in(who)
            parents.append(
                await service.add_web_comment(
                    earlier.article.id,
                    who.name,
                    "first",
                    client_key=f"p{n}",
                    user_id=web_author_id(who),
                )
            )
        publisher = PacedNotifier()
        async with Dispatcher(store, {Platform.TELEGRAM: publisher}, notices=store) as dispatcher:
            service.on_enqueue(dispatcher.wake)
            print(f"  fan-out to {chats:,} chats with {readers} replies ...", file=sys.stderr)
            started = time.monotonic()
            await service.publish(Actor.operator(), ArticleDraft("Tram line", "b", tags=("all",)))
            while len(publisher.posts) < chats // 10:
                await asyncio.sleep(0.01)
            for n, parent in enumerate(parents):
                await service.add_web_comment(
                    earlier.article.id,
                    "Bob",
                    f"reply {n}",
                    parent_id=parent.id,
                    client_key=f"r{n}",
                    user_id=f"w:b{n}",
                )
            queued = time.monotonic()
            deadline = time.monotonic() + 120 + chats / RATE * 3
            while (
                len(publisher.posts) < chats or sum(c for _, c in publisher.notices) < readers
            ) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        await store.close()
    last = max(publisher.posts)
    efficiency, attainable = efficiency_notes(len(publisher.posts), last - started, RATE)
    told = sum(c for _, c in publisher.notices)
    during = sum(1 for t, _ in publisher.notices if t <= last)
    after = [t - last for t, _ in publisher.notices if t > last]
    return [
        Result(
            f"fan-out efficiency to {chats:,} chats with {readers} reply notices queued",
            f"{efficiency:.3f}",
            ">= 0.97",
            efficiency >= 0.97,
            f"{attainable}; pace {RATE}/s shared; loaded machine",
        ),
        Result(
            f"reply notices during a {chats:,}-chat fan-out ({readers} readers)",
            f"{told}/{readers} told; {during} sent during the fan-out, "
            f"{len(after)} after it (last {max(after, default=0):.2f} s after)",
            "all told, after the fan-out or in its free slots",
            told == readers,
            f"queued {queued - started:.1f} s into a {last - started:.1f} s fan-out",
        ),
    ]
