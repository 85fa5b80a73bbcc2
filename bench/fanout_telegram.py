"""Fan-out benchmarks 1 and 3: Telegram's fan-out with the interactive lane, and its baseline."""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import aiohttp

from bench.fake_servers import TELEGRAM_CHANNEL_BASE, TELEGRAM_GROUP_BASE, TELEGRAM_USER_BASE
from bench.fanout_shared import (
    ARTICLE,
    BASELINE_TELEGRAM_CONCURRENCY,
    PUBLIC_URL,
    TELEGRAM_RATE,
    TOKEN,
    FakeProcess,
    MemorySampler,
    efficiency_notes,
    quiet_loggers,
    running_fake,
    standalone_article,
    subscribe_all,
    until,
)
from bench.report import Result, percentile
from newsbot import (
    Actor,
    Dispatcher,
    NewsService,
    Platform,
)
from storage import SqliteStore

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
