"""The fake Telegram's test world and helpers, shared by test_fake_telegram*.py."""

from __future__ import annotations

import datetime as dtm
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from telegram import (
    Bot,
    Update,
)
from telegram.error import (
    RetryAfter,
)

from tests.fakes.telegram import (
    FakeTelegram,
    loopback_request,
)

TOKEN = "123456:TEST"
ADMIN = 1001
READER = 1002
CHANNEL = -1001000000001
DISCUSSION = -1001000000002
GROUP = -1001000000003
QUIET_GROUP = -1001000000004  # the bot is a plain member there (privacy mode applies)


@pytest_asyncio.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        fake.add_user(ADMIN, "Alice", "alice")
        fake.add_user(READER, "Bob", "bob")
        fake.add_chat(CHANNEL, "channel", "News", "news_channel", admins=[ADMIN], owner=ADMIN)
        fake.add_chat(DISCUSSION, "supergroup", "News chat", admins=[ADMIN], owner=ADMIN)
        fake.link_discussion(CHANNEL, DISCUSSION)
        fake.add_chat(GROUP, "supergroup", "Group", admins=[ADMIN])
        fake.add_chat(QUIET_GROUP, "supergroup", "Quiet", bot_is_admin=False)
        yield fake


@pytest_asyncio.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with make_bot(tg) as client:
        yield client


def make_bot(tg: FakeTelegram, token: str = TOKEN) -> Bot:
    return Bot(
        token,
        base_url=tg.base_url,
        base_file_url=tg.base_file_url,
        request=loopback_request(),
        get_updates_request=loopback_request(),
    )


def must(value: dict[str, Any] | None) -> dict[str, Any]:
    assert value is not None
    return value


def retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def drain(bot: Bot) -> list[Update]:
    """Fetch all pending updates and confirm them."""
    updates = list(await bot.get_updates(timeout=0))
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    return updates
