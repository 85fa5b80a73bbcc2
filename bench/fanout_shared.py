"""The fan-out benchmarks' shared pieces: limits, the article, the fakes in their own processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.report import rss_mib
from newsbot import (
    Actor,
    ArticleDraft,
    DestinationKind,
    NewDestination,
    NewsService,
    Platform,
)
from newsbot.models import Article, ArticleId, ArticleStatus, Author
from tests.fakes.process import read_ready

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH"
PUBLIC_URL = "https://news.example"
TELEGRAM_RATE = 30
DISCORD_RATE = 50
COMMANDS = 100
BASELINE_TELEGRAM_CONCURRENCY = 64
BASELINE_DISCORD_CONCURRENCY = 16
CHANNELS_PER_GUILD = 500

JSON = dict[str, Any]

ARTICLE = ArticleDraft(
    title="City council approves the riverside tram line after a decade of debate",
    body="""The city council voted **31 to 14** on Tuesday night to build the riverside tram \
line, ending a debate that has outlived three mayors. Construction of the first 6.2 km, from \
the central station to the new hospital, starts in *spring 2027*.

The line will run every five minutes at peak hours and cost an estimated €412 million, of \
which the national government pays 60 %. Opponents argued that buses would serve the same \
streets for a fraction of the price; the transport department's study, published in March, \
found trams carry [twice as many passengers](https://news.example/reports/tram-study) per \
driver.

What changes for residents:

- Riverside Avenue closes to through traffic during the works (about 18 months).
- Two bus routes, the 12 and the 40, will be merged into the tram's timetable.
- Cyclists get a protected lane along the whole route.

"We have talked about this since 2015," said councillor Amira Haddad, who chaired the \
committee. "Now we build it." The first trams are expected to carry passengers in `2030`.""",
)


# --------------------------------------------------------------------------------------------
# Fakes in their own processes
# --------------------------------------------------------------------------------------------


@dataclass
class FakeProcess:
    """``python -m bench.fake_servers`` running in a child process."""

    process: subprocess.Popen[bytes]
    info: JSON
    http: aiohttp.ClientSession | None = None

    @classmethod
    def start(cls, platform: str, *args: str, timeout: float = 120.0) -> FakeProcess:
        command = [sys.executable, "-m", "bench.fake_servers", platform, "--token", TOKEN, *args]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
        )
        try:
            ready = read_ready(process, timeout, f"the fake {platform} server")
        except BaseException:
            cls(process, {}).stop()
            raise
        return cls(process, ready)

    async def get(self, path: str) -> Any:
        assert self.http is not None
        async with self.http.get(self.info["sidecar"] + path) as response:
            response.raise_for_status()
            return await response.json()

    async def post(self, path: str, body: JSON) -> Any:
        assert self.http is not None
        async with self.http.post(self.info["sidecar"] + path, json=body) as response:
            response.raise_for_status()
            return await response.json()

    def stop(self) -> None:
        """Close its stdin (it exits on EOF), then terminate or kill it if need be."""
        process = self.process
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


@contextlib.asynccontextmanager
async def running_fake(platform: str, *args: str) -> Any:
    fake = await asyncio.to_thread(FakeProcess.start, platform, *args)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            fake.http = http
            yield fake
    finally:
        await asyncio.to_thread(fake.stop)


async def until(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, interval: float = 0.1
) -> None:
    """Poll ``check`` until it is true; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------


async def subscribe_all(
    service: NewsService, platform: Platform, chat_ids: list[str], title: str
) -> None:
    actor = Actor.operator()
    for n, chat_id in enumerate(chat_ids):
        await service.subscribe(
            actor,
            NewDestination(platform, chat_id, DestinationKind.CHANNEL, title=f"{title} {n}"),
        )


def standalone_article() -> Article:
    """The benchmark article as the baselines render it (they use no store)."""
    now = datetime.now(UTC)
    return Article(
        id=ArticleId(1),
        title=ARTICLE.title,
        body=ARTICLE.body,
        summary=ARTICLE.summary,
        url=None,
        image_url=None,
        author=Author("operator", Platform.CLI, "operator"),
        tags=(),
        status=ArticleStatus.PUBLISHED,
        created_at=now,
        published_at=now,
        updated_at=now,
        revision=1,
    )


@dataclass
class MemorySampler:
    """Resident memory and live asyncio tasks of this process, sampled every 0.2 s."""

    base: float = 0.0
    peak: float = 0.0
    tasks_peak: int = 0
    cpu: float = 0.0
    wall: float = 0.0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.base = self.peak = rss_mib()
        self.cpu, self.wall = -time.process_time(), -time.monotonic()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mib())
            self.tasks_peak = max(self.tasks_peak, len(asyncio.all_tasks()))
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self.cpu += time.process_time()
            self.wall += time.monotonic()


def efficiency_notes(count: int, elapsed: float, rate: int) -> tuple[float, str]:
    """Efficiency as defined, and the note with the efficiency against the attainable."""
    value = count / (elapsed * rate)
    attainable = count / (elapsed * rate + rate)
    return value, f"{attainable:.3f} of the attainable (limit x elapsed + one window)"


@contextlib.contextmanager
def quiet_loggers(*names: str, level: int = logging.ERROR) -> Iterator[None]:
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for name, old in saved.items():
            logging.getLogger(name).setLevel(old)
