"""Fan-out benchmark 2: Discord's fan-out, and its baseline."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.fanout_shared import (
    ARTICLE,
    BASELINE_DISCORD_CONCURRENCY,
    CHANNELS_PER_GUILD,
    DISCORD_RATE,
    JSON,
    PUBLIC_URL,
    TOKEN,
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
