"""Fan-out benchmarks against the fakes at the platforms' limits (issue 6, benchmarks 1-3).

Each fake runs in its own OS process (``bench.fake_servers``) with the limits enforced as
sliding windows, so client and server share the machine's cores honestly. Every run starts a
fresh fake.

1. Telegram: one article to N channels through the real path: ``SqliteStore`` on a temporary
   file, ``NewsService.subscribe`` for each channel, ``NewsService.publish``, the real
   ``Dispatcher`` (as ``bot.py`` builds it) and the whole ``TelegramAdapter`` with its
   defaults (polling, handlers, ``SendLimiter``), pointed at the fake. Baseline: the same
   messages through python-telegram-bot with ``AIORateLimiter()`` (defaults), 64 sends at a
   time; a send refused with 429 is sent again after ``retry_after``.
2. Discord: an embed plus a thread (two requests) in each of N text channels (500 per guild,
   Discord's cap) through the whole ``DiscordAdapter`` and the ``Dispatcher``. Baseline: a plain
   discord.py client, 16 channels at a time, ``channel.send`` then ``message.create_thread``.
3. Interactive lane: during benchmark 1, 100 users each send ``/latest`` or ``/help`` in their
   private chat, spread over the expected fan-out time; the wait is measured inside the fake,
   from queueing the user's message to accepting the bot's answer.

Efficiency is messages (or requests) / (elapsed x limit), elapsed running from the call to
``publish`` to the last send the fake accepted. Timestamps on both sides are
``time.monotonic()`` (CLOCK_MONOTONIC, shared by all processes on Linux). A sliding window
also admits one full window at the start, so the most a perfect client could reach is
``limit x elapsed + limit``; the notes give the efficiency against that too, which matters at
the quick scale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.fake_servers import TELEGRAM_CHANNEL_BASE, TELEGRAM_GROUP_BASE, TELEGRAM_USER_BASE
from bench.report import Result, percentile, rss_mib
from newsbot import (
    Actor,
    ArticleDraft,
    DestinationKind,
    Dispatcher,
    NewDestination,
    NewsService,
    Platform,
)
from newsbot.models import Article, ArticleId, ArticleStatus, Author
from storage import SqliteStore
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


# --------------------------------------------------------------------------------------------
# 1 and 3: Telegram fan-out with the interactive lane
# --------------------------------------------------------------------------------------------


async def send_commands(fake: FakeProcess, count: int, spread: float, errors: list[str]) -> None:
    """``count`` users each send one command, evenly over ``spread`` seconds."""
    started = time.monotonic()
    for k in range(count):
        due = started + (k + 0.5) * spread / count
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        text = "/latest" if k % 2 == 0 else "/help"
        try:
            await fake.post("/command", {"user_id": TELEGRAM_USER_BASE + k, "text": text})
        except aiohttp.ClientError as error:
            errors.append(f"command {k}: {error!r}")


async def telegram_fanout(channels: int, commands: int, **adapter_options: Any) -> list[Result]:
    """Benchmarks 1 and 3 (``adapter_options`` go to ``TelegramAdapter``, for experiments;
    the benchmark runs it with its defaults, as ``bot.py`` does)."""
    from adapters.telegram import TelegramAdapter

    chat_ids = [TELEGRAM_CHANNEL_BASE - n for n in range(channels)]
    async with running_fake(
        "telegram", "--channels", str(channels), "--users", str(commands)
    ) as fake:
        with tempfile.TemporaryDirectory() as tmp:
            async with SqliteStore(Path(tmp) / "telegram.db") as store:
                service = NewsService(store, public_url=PUBLIC_URL)
                print(f"  subscribing {channels:,} Telegram channels ...", file=sys.stderr)
                await subscribe_all(service, Platform.TELEGRAM, [str(c) for c in chat_ids], "TG")
                adapter = TelegramAdapter(
                    service, token=TOKEN, api_url=fake.info["base_url"], **adapter_options
                )
                dispatcher = Dispatcher(
                    store,
                    {Platform.TELEGRAM: adapter.publisher},
                    article_url=service.article_url,
                )
                service.on_enqueue(dispatcher.wake)
                memory = MemorySampler()
                command_errors: list[str] = []
                commander: asyncio.Task[None] | None = None
                try:
                    await adapter.start()
                    await dispatcher.start()

                    async def polling() -> bool:
                        return bool((await fake.get("/progress"))["active_polls"])

                    await until(polling, 30, "the adapter to poll for updates")
                    memory.start()
                    expected = (channels + commands) / TELEGRAM_RATE
                    print(
                        f"  Telegram fan-out to {channels:,} channels (~{expected:.0f} s) ...",
                        file=sys.stderr,
                    )
                    commander = asyncio.create_task(
                        send_commands(fake, commands, expected * 0.9, command_errors)
                    )
                    started = time.monotonic()
                    change = await service.publish(Actor.operator(), ARTICLE)

                    async def finished() -> bool:
                        progress = await fake.get("/progress")
                        return bool(
                            progress["fanout_sends"] >= channels
                            and progress["answers"] >= commands
                        )

                    await until(finished, expected * 3 + 60, "the fan-out and the answers")
                    await commander
                    await dispatcher.drain(60)
                    await memory.stop()
                    statuses = await service.deliveries(change.article.id)
                finally:
                    if commander is not None and not commander.done():
                        commander.cancel()
                    await memory.stop()
                    await dispatcher.stop()
                    await adapter.stop()
        stats = await fake.get("/stats")

    sent_states = sum(1 for s in statuses if str(s.delivery.state) == "sent")
    per_chat = stats["per_chat"]
    duplicated = sum(1 for c in chat_ids if per_chat.get(str(c), 0) > 1)
    missing = sum(1 for c in chat_ids if per_chat.get(str(c), 0) == 0)
    channel_set = set(chat_ids)
    fanout_times = [t for t, chat in stats["sends"] if chat in channel_set]
    last = max(fanout_times)
    first = min(fanout_times)
    elapsed = last - started
    messages = sum(1 for t, _ in stats["sends"] if started <= t <= last)
    answers_in = messages - len(fanout_times)
    efficiency, attainable = efficiency_notes(messages, elapsed, TELEGRAM_RATE)
    waits = [
        stats["answers"][user] - at
        for user, at in stats["commands"].items()
        if user in stats["answers"]
    ]
    p99 = percentile(waits, 99)
    growth = memory.peak - memory.base
    service = stats["service_times"]
    return [
        Result(
            "1. Telegram fan-out efficiency",
            f"{efficiency:.3f}",
            ">= 0.97",
            efficiency >= 0.97,
            f"{messages:,} messages ({len(fanout_times):,} posts + {answers_in} command "
            f"answers) in {elapsed:.1f} s from publish; {attainable}; posts alone "
            f"{len(fanout_times) / elapsed:.1f}/s; first post {first - started:.2f} s after "
            "publish; real TelegramAdapter (polling) + Dispatcher defaults",
        ),
        Result(
            "1. Telegram fan-out 429s",
            str(stats["count_429"]),
            "0",
            stats["count_429"] == 0 and duplicated == 0 and missing == 0,
            f"{duplicated} chats got the post twice or more, {missing} got none; "
            f"{sent_states:,}/{channels:,} deliveries recorded sent; the fake's service time "
            f"p50 {percentile(service, 50) * 1000:.1f} ms, p99 "
            f"{percentile(service, 99) * 1000:.1f} ms",
        ),
        Result(
            "3. interactive lane p99 (during fan-out)",
            f"{p99:.2f} s",
            "<= 2 s",
            p99 <= 2 and len(waits) == commands,
            f"{len(waits)}/{commands} commands (/latest, /help) answered; p50 "
            f"{percentile(waits, 50):.2f} s, max {max(waits, default=float('nan')):.2f} s; "
            "queued at the fake -> answer accepted by the fake"
            + (f"; {len(command_errors)} command errors" if command_errors else ""),
        ),
        Result(
            "6. RSS growth during the Telegram fan-out",
            f"{growth:.1f} MiB",
            "bounded",
            growth <= 15,
            f"{channels:,} destinations, real adapter; RSS {memory.base:.0f} -> peak "
            f"{memory.peak:.0f} MiB; at most {memory.tasks_peak} asyncio tasks alive; this "
            f"process used {memory.cpu / memory.wall:.0%} of a core meanwhile",
        ),
    ]


async def telegram_ingestion(groups: int, replies: int, users: int = 1000) -> Result:
    """Benchmark 4, end to end: ``replies`` readers' replies to the article's post in
    ``groups`` groups, all waiting at the fake, fetched by the real adapter through getUpdates
    (100 a batch, PTB's default and Telegram's maximum) and stored as comments."""
    from adapters.telegram import TelegramAdapter

    group_ids = [TELEGRAM_GROUP_BASE - n for n in range(groups)]
    user_ids = [TELEGRAM_USER_BASE + n for n in range(users)]
    async with running_fake(
        "telegram", "--channels", "0", "--groups", str(groups), "--users", str(users)
    ) as fake:
        with tempfile.TemporaryDirectory() as tmp, quiet_loggers("newsbot", "telegram"):
            async with SqliteStore(Path(tmp) / "telegram.db") as store:
                service = NewsService(store, public_url=PUBLIC_URL, mirror=False)
                await subscribe_all(service, Platform.TELEGRAM, [str(g) for g in group_ids], "G")
                adapter = TelegramAdapter(service, token=TOKEN, api_url=fake.info["base_url"])
                dispatcher = Dispatcher(
                    store, {Platform.TELEGRAM: adapter.publisher}, article_url=service.article_url
                )
                service.on_enqueue(dispatcher.wake)
                try:
                    await adapter.start()
                    await dispatcher.start()
                    article = (await service.publish(Actor.operator(), ARTICLE)).article

                    async def posted() -> bool:
                        return bool((await fake.get("/progress"))["fanout_sends"] >= groups)

                    await until(posted, groups / TELEGRAM_RATE * 3 + 60, "the posts")
                    await dispatcher.drain(60)
                    print(
                        f"  Telegram ingestion: {replies:,} replies in {groups} groups ...",
                        file=sys.stderr,
                    )
                    await fake.post(
                        "/replies", {"count": replies, "groups": group_ids, "users": user_ids}
                    )
                    started = time.monotonic()

                    async def stored() -> bool:
                        return await store.count_comments(article.id) >= replies

                    await until(stored, 600, "the replies to be stored", interval=0.02)
                    elapsed = time.monotonic() - started
                    count = await store.count_comments(article.id)
                    left = (await fake.get("/progress"))["pending"]
                finally:
                    await dispatcher.stop()
                    await adapter.stop()
        polls = [t for t in (await fake.get("/stats"))["poll_times"] if t < 1]
    rate = replies / elapsed
    return Result(
        f"4. Telegram ingestion end to end, {groups} group{'s' if groups != 1 else ''}",
        f"{rate:,.0f}/s",
        ">= 1,500/s",
        rate >= 1500 and count == replies,
        f"{replies:,} replies waiting at the fake, stored in {elapsed:.1f} s by the real "
        f"adapter (getUpdates, 100 a batch); {count:,} stored; {left} updates left unconfirmed; "
        f"the fake answered a poll in p50 {percentile(polls, 50) * 1000:.1f} ms",
    )


async def telegram_baseline(channels: int) -> Result:
    from telegram.error import RetryAfter
    from telegram.ext import AIORateLimiter, ApplicationBuilder

    from adapters.telegram.limiter import retry_seconds
    from adapters.telegram.publisher import NO_PREVIEW
    from adapters.telegram.render import render_article

    rendered = render_article(
        standalone_article(), article_url=f"{PUBLIC_URL}/articles/1", comment_count=0
    )
    chat_ids = [TELEGRAM_CHANNEL_BASE - n for n in range(channels)]
    async with running_fake("telegram", "--channels", str(channels)) as fake:
        application = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(fake.info["base_url"])
            .rate_limiter(AIORateLimiter())
            .updater(None)
            .build()
        )
        await application.initialize()
        try:
            queue = iter(chat_ids)
            retried = 0

            async def worker() -> None:
                nonlocal retried
                for chat in queue:
                    while True:
                        try:
                            await application.bot.send_message(
                                chat,
                                rendered.text,
                                entities=rendered.entities,
                                link_preview_options=NO_PREVIEW,
                            )
                            break
                        except RetryAfter as error:
                            retried += 1
                            await asyncio.sleep(retry_seconds(error))

            print(f"  baseline: AIORateLimiter to {channels:,} channels ...", file=sys.stderr)
            with warnings.catch_warnings(), quiet_loggers("telegram", level=logging.CRITICAL):
                warnings.simplefilter("ignore")  # PTB warns in every RetryAfter
                started = time.monotonic()
                await asyncio.gather(*(worker() for _ in range(BASELINE_TELEGRAM_CONCURRENCY)))
        finally:
            await application.shutdown()
        stats = await fake.get("/stats")
    times = [t for t, _ in stats["sends"]]
    elapsed = max(times) - started
    efficiency, attainable = efficiency_notes(len(times), elapsed, TELEGRAM_RATE)
    duplicated = sum(1 for c in chat_ids if stats["per_chat"].get(str(c), 0) > 1)
    return Result(
        "1. baseline: PTB AIORateLimiter (defaults)",
        f"{efficiency:.3f}",
        "(reference)",
        None,
        f"{stats['count_429']} answers of 429; {len(times):,} messages in {elapsed:.1f} s; "
        f"{attainable}; {BASELINE_TELEGRAM_CONCURRENCY} sends at a time, a 429 sent again "
        f"after retry_after; {duplicated} duplicated",
    )


# --------------------------------------------------------------------------------------------
# 2: Discord fan-out
# --------------------------------------------------------------------------------------------


def discord_outcome(stats: JSON, started: float, channels: int) -> tuple[float, float, str]:
    useful = [
        t
        for t, status, kind in stats["answers"]
        if status < 300 and kind in ("post", "thread") and t >= started
    ]
    last = max(useful)
    elapsed = last - started
    total = sum(1 for t, _, _ in stats["answers"] if started <= t <= last)
    efficiency, attainable = efficiency_notes(len(useful), elapsed, DISCORD_RATE)
    half = started + elapsed / 2
    first_half = sum(1 for t in useful if t < half) / (elapsed / 2)
    second_half = sum(1 for t in useful if t >= half) / (elapsed / 2)
    service = stats["service_times"]
    note = (
        f"{len(useful):,} posts and threads ({total:,} requests in all) in {elapsed:.1f} s "
        f"from start; {attainable}; {first_half:.1f}/s in the first half, "
        f"{second_half:.1f}/s in the second; {len(stats['duplicated'])} channels doubled, "
        f"{len(stats['missing'])} incomplete (of {channels:,}); the fake's service time p50 "
        f"{percentile(service, 50) * 1000:.1f} ms, p99 {percentile(service, 99) * 1000:.1f} ms"
    )
    return efficiency, elapsed, note


async def discord_fanout(channels: int, **adapter_options: Any) -> list[Result]:
    """Benchmark 2 (``adapter_options`` go to ``DiscordAdapter``, for experiments; the
    benchmark runs it as ``bot.py`` does, apart from a shorter ``guild_ready_timeout``)."""
    from adapters.discord import DiscordAdapter

    guilds = -(-channels // CHANNELS_PER_GUILD)
    async with running_fake(
        "discord", "--channels", str(channels), "--per-guild", str(CHANNELS_PER_GUILD)
    ) as fake:
        world = await fake.get("/world")
        with tempfile.TemporaryDirectory() as tmp:
            async with SqliteStore(Path(tmp) / "discord.db") as store:
                service = NewsService(store, public_url=PUBLIC_URL)
                print(f"  subscribing {channels:,} Discord channels ...", file=sys.stderr)
                await subscribe_all(service, Platform.DISCORD, world["channels"], "DC")
                adapter = DiscordAdapter(
                    service,
                    token=TOKEN,
                    api_url=fake.info["api_url"],
                    gateway_url=fake.info["gateway_url"],
                    guild_ready_timeout=0.5,
                    ready_timeout=300,
                    **adapter_options,
                )
                dispatcher = Dispatcher(
                    store,
                    {Platform.DISCORD: adapter.publisher},
                    article_url=service.article_url,
                )
                service.on_enqueue(dispatcher.wake)
                try:
                    connect_started = time.monotonic()
                    await adapter.start()
                    connect = time.monotonic() - connect_started
                    await dispatcher.start()
                    print(
                        f"  Discord fan-out to {channels:,} channels in {guilds} guilds "
                        f"(~{2 * channels / DISCORD_RATE:.0f} s) ...",
                        file=sys.stderr,
                    )
                    started = time.monotonic()
                    change = await service.publish(Actor.operator(), ARTICLE)

                    async def finished() -> bool:
                        return bool((await fake.get("/progress"))["useful"] >= 2 * channels)

                    await until(finished, 2 * channels / DISCORD_RATE * 3 + 60, "the fan-out")
                    await dispatcher.drain(60)
                    statuses = await service.deliveries(change.article.id)
                finally:
                    await dispatcher.stop()
                    await adapter.stop()
        stats = await fake.get("/stats")
    sent_states = sum(1 for s in statuses if str(s.delivery.state) == "sent")
    efficiency, _elapsed, note = discord_outcome(stats, started, channels)
    return [
        Result(
            "2. Discord fan-out efficiency",
            f"{efficiency:.3f}",
            ">= 0.97",
            efficiency >= 0.97,
            note + f"; real DiscordAdapter + Dispatcher defaults, gateway ready in "
            f"{connect:.1f} s ({guilds} guilds)",
        ),
        Result(
            "2. Discord fan-out 429s",
            str(stats["count_429"]),
            "0",
            stats["count_429"] == 0 and not stats["duplicated"] and not stats["missing"],
            f"{stats['count_429_global']} global, {stats['count_429_route']} per route; "
            f"{sent_states:,}/{channels:,} deliveries recorded sent",
        ),
    ]


async def discord_baseline(channels: int) -> Result:
    import discord.gateway
    import discord.http
    import yarl

    from adapters.discord._sdk import discord as _quiet_discord  # noqa: F401
    from adapters.discord.render import article_embed, thread_name

    article = standalone_article()
    embed = article_embed(article, url=f"{PUBLIC_URL}/articles/1", comment_count=0)
    async with running_fake(
        "discord", "--channels", str(channels), "--per-guild", str(CHANNELS_PER_GUILD)
    ) as fake:
        world = await fake.get("/world")
        saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = fake.info["api_url"]
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.info["gateway_url"])
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        client = discord.Client(
            intents=intents,
            guild_ready_timeout=0.5,
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        runner: asyncio.Task[None] | None = None
        failures: list[str] = []
        try:
            with quiet_loggers("discord"):
                await client.login(TOKEN)
                runner = asyncio.create_task(client.connect())
                await asyncio.wait_for(client.wait_until_ready(), 300)
                queue = iter(world["channels"])

                async def attempt(call: Callable[[], Awaitable[Any]]) -> Any:
                    for _ in range(20):
                        try:
                            return await call()
                        except discord.HTTPException as error:
                            if error.status < 429:
                                raise
                            failures.append(f"{error.status}")
                            await asyncio.sleep(1)
                    return None

                async def worker() -> None:
                    for channel_id in queue:
                        channel = client.get_channel(int(channel_id))
                        assert isinstance(channel, discord.TextChannel)
                        message = await attempt(lambda channel=channel: channel.send(embed=embed))  # type: ignore[misc]  # python/mypy#15459
                        if message is not None:
                            await attempt(
                                lambda message=message: message.create_thread(  # type: ignore[misc]  # python/mypy#15459
                                    name=thread_name(article), auto_archive_duration=10080
                                )
                            )

                print(f"  baseline: discord.py loop to {channels:,} channels ...", file=sys.stderr)
                started = time.monotonic()
                await asyncio.gather(*(worker() for _ in range(BASELINE_DISCORD_CONCURRENCY)))
        finally:
            await client.close()
            if runner is not None:
                with contextlib.suppress(Exception):
                    await runner
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
        stats = await fake.get("/stats")
    efficiency, _elapsed, note = discord_outcome(stats, started, channels)
    return Result(
        "2. baseline: discord.py send loop",
        f"{efficiency:.3f}",
        "(reference)",
        None,
        f"{stats['count_429']} answers of 429 ({stats['count_429_global']} global); {note}; "
        f"{BASELINE_DISCORD_CONCURRENCY} channels at a time"
        + (f"; {len(failures)} calls failed after discord.py's retries" if failures else ""),
    )


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def run(quick: bool) -> list[Result]:
    """Benchmarks 1-3: 300 channels each when quick, 10,000 at full scale."""
    telegram_channels = 300 if quick else 10_000
    discord_channels = 300 if quick else 10_000
    results: list[Result] = []
    results += asyncio.run(telegram_fanout(telegram_channels, COMMANDS))
    results.append(asyncio.run(telegram_baseline(telegram_channels)))
    results += asyncio.run(discord_fanout(discord_channels))
    results.append(asyncio.run(discord_baseline(discord_channels)))
    return results
