"""Telegram and Discord side by side on one store: the real python-telegram-bot and discord.py
clients against the fake servers, delivering through one Dispatcher (for the end-to-end tests
that follow a comment from one platform to the other)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from adapters.discord import DiscordAdapter
from adapters.telegram import TelegramAdapter
from newsbot import Dispatcher, NewsService, Platform
from newsbot.ports import Store
from tests.adapters.discord.test_discord_e2e import BOT_PERMISSIONS, TOKEN
from tests.fakes.discord import GUILD_TEXT, FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.telegram_helpers import ADMIN, PUBLIC_URL, build_world, fast_limiter

TG = Platform.TELEGRAM
DC = Platform.DISCORD


@dataclass
class BothPlatforms:
    tg: FakeTelegram
    dc: FakeDiscord
    service: NewsService
    dispatcher: Dispatcher
    telegram: TelegramAdapter
    discord: DiscordAdapter
    channel: int  # the Discord text channel
    members: list[int]  # the Discord readers asked for, in order


@asynccontextmanager
async def both_platforms(
    store: Store, *, members: Sequence[str] = (), **options: Any
) -> AsyncIterator[BothPlatforms]:
    """Both adapters started on ``store`` (the service built with ``options``), the Telegram
    world of ``build_world`` and a Discord server with a text channel and ``members``."""
    async with FakeTelegram() as tg, FakeDiscord(token=TOKEN) as dc:
        build_world(tg)
        owner = dc.add_user(dc.new_id(), "Olga Owner")
        guild = dc.add_guild("Newsroom", owner_id=owner, bot_permissions=BOT_PERMISSIONS)
        readers = [dc.add_member(guild, dc.new_id(), name) for name in members]
        channel = dc.add_channel(guild, "news", GUILD_TEXT)
        service = NewsService(
            store, admins={TG: {str(ADMIN)}, DC: {str(owner)}}, public_url=PUBLIC_URL, **options
        )
        telegram = TelegramAdapter(
            service, token=tg.token, api_url=tg.base_url, limiter=fast_limiter(), poll_timeout=5.0
        )
        discord = DiscordAdapter(
            service,
            token=TOKEN,
            api_url=dc.api_url,
            gateway_url=dc.gateway_url,
            guild_id=guild,
            guild_ready_timeout=0.05,
            ready_timeout=10.0,
        )
        await telegram.start()
        await discord.start()
        dispatcher = Dispatcher(
            store,
            {TG: telegram.publisher, DC: discord.publisher},
            poll_interval=0.05,
            backoff_base=0.01,
            backoff_cap=0.05,
            article_url=service.article_url,
            notices=store,
            closing=service.desk.closing,
        )
        service.on_enqueue(dispatcher.wake)
        await dispatcher.start()
        try:
            yield BothPlatforms(tg, dc, service, dispatcher, telegram, discord, channel, readers)
        finally:
            await dispatcher.stop(grace=1.0)
            await discord.stop()
            await telegram.stop()
