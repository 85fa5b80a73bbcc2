"""The fake Discord's test world and helpers, shared by test_fake_discord*.py."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.fakes.discord import (
    DemoWorld,
    FakeDiscord,
    build_demo,
    point_discord_py_at,
)

with warnings.catch_warnings():
    # discord.py imports the deprecated audioop module (Python 3.11/3.12).
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord.ext import commands


TOKEN = "fake-token"


def make_intents(*, message_content: bool = True) -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = message_content
    return intents


@contextlib.asynccontextmanager
async def running_bot(
    dc: FakeDiscord,
    *,
    intents: discord.Intents | None = None,
    setup: Callable[[commands.Bot], Awaitable[None]] | None = None,
) -> AsyncIterator[commands.Bot]:
    """A real commands.Bot logged in and connected to the fake, closed on exit."""
    with point_discord_py_at(dc):
        bot = commands.Bot(
            command_prefix="!", intents=intents or make_intents(), guild_ready_timeout=0.1
        )
        task: asyncio.Task[None] | None = None
        try:
            await bot.login(TOKEN)
            if setup is not None:
                await setup(bot)
            task = asyncio.create_task(bot.connect())
            await asyncio.wait_for(bot.wait_until_ready(), 5)
            yield bot
        finally:
            await bot.close()
            if task is not None:
                await asyncio.wait_for(task, 5)


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def world(dc: FakeDiscord) -> DemoWorld:
    return build_demo(dc)


@pytest.fixture
async def bot(dc: FakeDiscord, world: DemoWorld) -> AsyncIterator[commands.Bot]:
    async with running_bot(dc) as client:
        yield client


def text_channel(bot: commands.Bot, world: DemoWorld) -> discord.TextChannel:
    channel = bot.get_channel(world.text_channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


def collect(bot: commands.Bot, event: str) -> list[Any]:
    """Record the first argument of every ``event`` the bot dispatches."""
    seen: list[Any] = []

    async def listener(arg: Any, *_: Any) -> None:
        seen.append(arg)

    bot.add_listener(listener, event)
    return seen


def posts(dc: FakeDiscord, path_suffix: str) -> list[Any]:
    return [
        body
        for method, path, body in dc.requests
        if method == "POST" and path.endswith(path_suffix)
    ]
