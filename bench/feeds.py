"""Feeds: 1,000 feeds of 50 items on a local site (in a process of its own, so that its CPU is
not counted), polled by the real HttpFeedSource, FeedService and FeedPoller into a real SQLite
store and the Dispatcher.

Measured: CPU milliseconds per poll in this process and the feed reader's worker processes,
where documents are parsed (a first poll recording 50 items, a 200 with 50 items none new, a
304), resident memory for the feeds in this process, and the time from an item
appearing on the site to its first channel post while the poller runs at the minimum
interval of a minute (goal: at most the interval plus 5 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp

from adapters.feeds import HttpFeedSource
from adapters.feeds.worker import FeedReader
from bench.report import Result, percentile, rss_mib
from newsbot import (
    Actor,
    DestinationKind,
    Dispatcher,
    Job,
    NewDestination,
    NewsService,
    Platform,
    Posted,
)
from newsbot.feeds import FeedPoller, FeedService
from newsbot.models import Feed, NewFeed
from newsbot.polling import next_slot
from storage import SqliteStore
from tests.fakes.process import read_ready

ROOT = Path(__file__).resolve().parent.parent
ITEMS = 50


class TimingPublisher:
    """Records when each article's first post went out; posts instantly."""

    platform = Platform.TELEGRAM

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.next_id = 0

    async def post(self, job: Job) -> Posted:
        self.first.setdefault(job.article.title, time.time())
        self.next_id += 1
        return Posted(str(self.next_id))

    async def edit(self, job: Job) -> None:
        return None

    async def delete(self, job: Job) -> None:
        return None


def _cpu(feeds: FeedService) -> float:
    """CPU seconds of this process and of the feed reader's worker processes (Linux)."""
    total = time.process_time()
    reader: FeedReader | None = getattr(feeds.source, "reader", None)
    for pid in reader.pids if reader is not None else ():
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def _cpu_per_poll(feeds: FeedService, targets: list[Feed], concurrency: int) -> float:
    """Poll every feed once, ``concurrency`` at a time; CPU ms per poll (see ``_cpu``)."""
    slots = asyncio.Semaphore(concurrency)

    async def one(feed: Feed) -> None:
        async with slots:
            await feeds.poll(feed)

    started = _cpu(feeds)
    await asyncio.gather(*(one(f) for f in targets))
    return (_cpu(feeds) - started) * 1000 / len(targets)


async def _measure(count: int, interval: float, seconds: float, adds: int) -> list[Result]:
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.feeds", "--feeds", str(count), "--items", str(ITEMS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        base_url = read_ready(server, 30, "the feed site")["url"]
        with tempfile.TemporaryDirectory() as tmp:
            async with SqliteStore(Path(tmp) / "feeds.db") as store:
                return await _run(store, base_url, count, interval, seconds, adds)
    finally:
        assert server.stdin is not None
        assert server.stdout is not None
        server.stdin.close()
        server.wait(10)
        server.stdout.close()


async def _run(
    store: SqliteStore, base_url: str, count: int, interval: float, seconds: float, adds: int
) -> list[Result]:
    service = NewsService(store)
    source = HttpFeedSource(allow_private=True)
    feeds = FeedService(service, source, min_interval=min(interval, 60.0))
    publisher = TimingPublisher()
    await service.subscribe(
        Actor.operator(), NewDestination(Platform.TELEGRAM, "-1001", DestinationKind.CHANNEL)
    )
    rss_before = rss_mib()

    # 1. Adding: a first poll each, recording 50 items.
    slots = asyncio.Semaphore(16)
    urls = [f"{base_url}/feeds/{i}" for i in range(count)]

    async def add(url: str) -> None:
        async with slots:
            await feeds.add(Actor.operator(), NewFeed(url, interval=interval))

    started_cpu, started_wall = _cpu(feeds), time.monotonic()
    await asyncio.gather(*(add(u) for u in urls))
    add_cpu = (_cpu(feeds) - started_cpu) * 1000 / count
    add_wall = time.monotonic() - started_wall
    rss_held = rss_mib()
    listed = await store.list_feeds()
    assert len(listed) == count
    assert all(f.items_seen == ITEMS for f in listed)

    # 2. A 200 with 50 items, none new (the validators dropped), then 3. a 304.
    full_cpu = await _cpu_per_poll(
        feeds, [dataclasses.replace(f, etag=None, last_modified=None) for f in listed], 16
    )
    not_modified_cpu = await _cpu_per_poll(feeds, await store.list_feeds(), 16)

    # 4. The poller at the interval, with new items appearing on the site.
    # As in a poller that has run for a while: each feed due at its phase of this interval.
    now = service.clock.now()
    for feed in await store.list_feeds():
        due = next_slot(feed, now) - timedelta(seconds=interval)
        await store.save_feed(dataclasses.replace(feed, next_poll_at=due))
    async with Dispatcher(store, {Platform.TELEGRAM: publisher}, poll_interval=0.05) as dispatcher:
        service.on_enqueue(dispatcher.wake)
        poller = FeedPoller(feeds, concurrency=16)
        await poller.start()
        added: dict[str, float] = {}
        rng = random.Random(7)
        cpu0, polls0 = _cpu(feeds), poller.polls
        peak = rss_mib()
        async with aiohttp.ClientSession() as http:
            begin = time.monotonic()
            for n in range(adds):
                await asyncio.sleep(
                    max(begin + (n + 1) * seconds / (adds + 1) - time.monotonic(), 0)
                )
                index = rng.randrange(count)
                async with http.get(f"{base_url}/_control/add", params={"feed": index}) as r:
                    answer = await r.json()
                added[f"New {answer['guid']}"] = answer["wall"]
                peak = max(peak, rss_mib())
            deadline = time.monotonic() + interval + 15
            while time.monotonic() < deadline and not set(added) <= set(publisher.first):
                await asyncio.sleep(0.2)
            async with http.get(f"{base_url}/_control/counts") as r:
                answers = await r.json()
        steady_cpu = (_cpu(feeds) - cpu0) * 1000 / max(poller.polls - polls0, 1)
        steady_polls = poller.polls - polls0
        await poller.stop()
    await source.close()
    latencies = [publisher.first[t] - at for t, at in added.items() if t in publisher.first]
    missing = len(added) - len(latencies)
    duplicates = publisher.next_id - len(publisher.first)
    p50, p99, worst = (percentile(latencies, p) for p in (50, 99, 100))
    per_1000 = (rss_held - rss_before) * 1000 / count
    goal = interval + 5
    return [
        Result(
            "Feeds: CPU per poll, 200 with 50 items, first poll",
            f"{add_cpu:.1f} ms",
            "(reference)",
            None,
            f"{count:,} feeds added in {add_wall:.1f} s, 16 at a time; fetch, parse, record "
            f"{ITEMS} items each as seen",
        ),
        Result(
            "Feeds: CPU per poll, 200 with 50 items, none new",
            f"{full_cpu:.1f} ms",
            "(reference)",
            None,
            "fetch and feedparser for 50 items, one lookup of their keys; known items are not "
            "converted to Markdown",
        ),
        Result(
            "Feeds: CPU per poll, 304",
            f"{not_modified_cpu:.2f} ms",
            "(reference)",
            None,
            "conditional GET answered 304, poll state written",
        ),
        Result(
            f"Feeds: memory for {count:,} feeds",
            f"{per_1000:.1f} MiB per 1,000",
            "bounded",
            per_1000 < 100,
            f"RSS {rss_before:.0f} -> {rss_held:.0f} MiB after adding; peak {peak:.0f} MiB while "
            "polling",
        ),
        Result(
            f"Feeds: item on the site to first channel post, {count:,} feeds every {interval:g} s",
            f"p99 {p99:.1f} s",
            f"<= {goal:g} s",
            missing == 0 and duplicates == 0 and worst <= goal,
            f"{len(added)} items added at random times over {seconds:g} s; p50 {p50:.1f} s, "
            f"max {worst:.1f} s; {missing} never posted, {duplicates} posted twice; "
            f"{steady_polls:,} polls meanwhile at {steady_cpu:.2f} CPU ms each (the site "
            f"answered {answers.get('200', 0):,} 200s and {answers.get('304', 0):,} 304s in all)",
        ),
    ]


def run(quick: bool) -> list[Result]:
    if quick:
        return asyncio.run(_measure(50, 3.0, 8.0, 5))
    return asyncio.run(_measure(1000, 60.0, 120.0, 40))
