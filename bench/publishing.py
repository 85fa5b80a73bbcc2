"""Publishing like a newsroom: how late scheduled articles go out, and how fast a breaking
article reaches its chats while a big fan-out is under way (issue 21).

Real SQLite store, service and dispatcher; the platform is a publisher that takes a fixed
time per send with ``concurrency`` in flight, i.e. a platform pace (16 / 0.05 s = 320/s).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.report import Result, percentile
from newsbot import (
    Actor,
    ArticleDraft,
    DestinationKind,
    Dispatcher,
    Job,
    NewDestination,
    NewsService,
    Platform,
    Posted,
)
from newsbot.scheduling import Priority, Schedule
from storage import SqliteStore

SEND = 0.05  # seconds per send: with 16 in flight, a platform pace of 320 sends a second


class PacedPublisher:
    """Records when each article's posts went out."""

    platform = Platform.TELEGRAM

    def __init__(self) -> None:
        self.sent: dict[str, list[float]] = {}
        self.count = 0

    async def post(self, job: Job) -> Posted:
        await asyncio.sleep(SEND)
        self.count += 1
        self.sent.setdefault(job.article.title, []).append(time.monotonic())
        return Posted(str(self.count))

    async def edit(self, job: Job) -> None:
        return None

    async def delete(self, job: Job) -> None:
        return None


async def _world(path: Path, chats: int, breaking: int = 0) -> tuple[SqliteStore, NewsService]:
    """``chats`` chats, all tagged ``all``; the first ``breaking`` also ``breaking``."""
    store = SqliteStore(path)
    await store.open()
    service = NewsService(store)
    for i in range(chats):
        tags = ("all", "breaking") if i < breaking else ("all",)
        await service.subscribe(
            Actor.operator(),
            NewDestination(
                Platform.TELEGRAM, f"-{1_000_000 + i}", DestinationKind.CHANNEL, tags=tags
            ),
        )
    return store, service


async def lateness(articles: int, spread: float) -> Result:
    """``articles`` scheduled over ``spread`` seconds to one chat: how late each goes out."""
    with tempfile.TemporaryDirectory() as tmp:
        store, service = await _world(Path(tmp) / "late.db", 1)
        publisher = PacedPublisher()
        start = datetime.now(UTC) + timedelta(seconds=2)
        due = {}
        for n in range(articles):
            at = start + timedelta(seconds=spread * n / articles)
            due[f"s{n}"] = time.monotonic() + (at - datetime.now(UTC)).total_seconds()
            draft = ArticleDraft(f"s{n}", "b", tags=("all",))
            await service.publish(Actor.operator(), draft, schedule=Schedule(at))
        async with Dispatcher(store, {Platform.TELEGRAM: publisher}) as dispatcher:
            service.on_enqueue(dispatcher.wake)
            while len(publisher.sent) < articles:
                await asyncio.sleep(0.05)
        await store.close()
    late = [publisher.sent[t][0] - SEND - d for t, d in due.items()]
    p99 = percentile(late, 99)
    return Result(
        f"scheduled article lateness, p99 ({articles} over {spread:.0f} s)",
        f"{p99:.2f} s (max {max(late):.2f})",
        "<= 2 s",
        p99 <= 2.0,
        "real clock, default 1 s poll; loaded machine",
    )


async def breaking(normal: int, chats: int) -> list[Result]:
    """A breaking article to ``chats`` chats, alone and while a ``normal``-chat fan-out runs."""
    with tempfile.TemporaryDirectory() as tmp:
        store, service = await _world(Path(tmp) / "lane.db", normal, chats)
        timings = {}
        for label, busy in (("alone", False), ("during fan-out", True)):
            publisher = PacedPublisher()
            async with Dispatcher(store, {Platform.TELEGRAM: publisher}) as dispatcher:
                service.on_enqueue(dispatcher.wake)
                if busy:
                    big = ArticleDraft(f"big {label}", "b", tags=("all",))
                    await service.publish(Actor.operator(), big)
                    while publisher.count < min(200, normal // 10):
                        await asyncio.sleep(0.01)
                title = f"breaking {label}"
                began = time.monotonic()
                draft = ArticleDraft(title, "b", tags=("breaking",))
                await service.publish(Actor.operator(), draft, priority=Priority.BREAKING)
                while len(publisher.sent.get(title, [])) < chats:
                    await asyncio.sleep(0.01)
                timings[label] = max(publisher.sent[title]) - began
                await dispatcher.stop(grace=0.5)
        await store.close()
    ratio = timings["during fan-out"] / timings["alone"]
    return [
        Result(
            f"breaking article to {chats:,} chats, lane empty",
            f"{timings['alone']:.2f} s",
            "",
            None,
            f"platform pace {16 / SEND:.0f}/s",
        ),
        Result(
            f"breaking article to {chats:,} chats during a {normal:,}-chat fan-out",
            f"{timings['during fan-out']:.2f} s ({ratio:.2f}x)",
            "<= 1.05x the empty lane",
            ratio <= 1.05,
            "loaded machine",
        ),
    ]


def run(quick: bool) -> list[Result]:
    """The group's rows: lateness, then the lane."""
    rows = [asyncio.run(lateness(50 if quick else 300, 10 if quick else 60))]
    normal, chats = (2_000, 200) if quick else (10_000, 1_000)
    rows += asyncio.run(breaking(normal, chats))
    return rows
