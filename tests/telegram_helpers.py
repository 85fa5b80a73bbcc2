"""A whole Telegram world for end-to-end tests: the fake Bot API server, the real SQLite store,
NewsService, Dispatcher and TelegramAdapter (python-telegram-bot talking HTTP to the fake).

Test modules import the ``world`` fixture from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.telegram import SendLimiter, TelegramAdapter
from newsbot import Dispatcher, NewsService, Platform
from storage import SqliteStore
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wait import wait_for

ADMIN = 42
READER = 7
OTHER = 8
CHANNEL_A = -1001000000001
DISCUSSION_A = -1001000000002
CHANNEL_B = -1001000000003
GROUP = -1001000000004
PUBLIC_URL = "https://news.example"

JSON = dict[str, Any]


def fast_limiter() -> SendLimiter:
    """Real pacing, but with windows short enough for tests to never wait long."""
    return SendLimiter(group=20, group_period=2.0, private=3, private_period=1.0)


@dataclass
class World:
    tg: FakeTelegram
    store: SqliteStore
    service: NewsService
    db_path: Path
    adapter: TelegramAdapter | None = None
    dispatcher: Dispatcher | None = None

    def configure(self, **options: Any) -> NewsService:
        """Rebuild the service (same store, admins and public URL) with other options, such
        as ``intake=IntakeLimits(...)`` or ``open_subscriptions=True``; before ``start``."""
        assert self.adapter is None, "configure the service before starting the adapter"
        self.service = NewsService(
            self.store, admins={Platform.TELEGRAM: {str(ADMIN)}}, public_url=PUBLIC_URL, **options
        )
        return self.service

    async def crash(self) -> None:
        """Stop as a crash would: the adapter abandons its batch (no offset saved beyond what
        is stored); the dispatcher stops so that a new one can take over its deliveries."""
        if self.adapter is not None:
            await self.adapter.abort()
            self.adapter = None
        if self.dispatcher is not None:
            await self.dispatcher.stop(grace=1.0)
            self.dispatcher = None

    async def start(self, **options: Any) -> TelegramAdapter:
        """Start an adapter and a dispatcher delivering through its publisher."""
        options.setdefault("limiter", fast_limiter())
        options.setdefault("poll_timeout", 5.0)
        adapter = TelegramAdapter(
            self.service, token=self.tg.token, api_url=self.tg.base_url, **options
        )
        await adapter.start()
        dispatcher = Dispatcher(
            self.store,
            {Platform.TELEGRAM: adapter.publisher},
            poll_interval=0.05,
            backoff_base=0.01,
            backoff_cap=0.05,
            article_url=self.service.article_url,
            staff=self.service.staffchat,
            clock=self.service.clock,
            notices=self.store,
            closing=self.service.desk.closing,
        )
        self.service.on_enqueue(dispatcher.wake)
        await dispatcher.start()
        self.adapter, self.dispatcher = adapter, dispatcher
        return adapter

    async def stop(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.stop(grace=1.0)
            self.dispatcher = None
        if self.adapter is not None:
            await self.adapter.stop()
            self.adapter = None

    # -- people ----------------------------------------------------------------------------

    def bot_messages(self, chat_id: int) -> list[JSON]:
        """Messages in a chat sent by the bot (in a channel: every post)."""
        bot_id = self.tg.bot_id
        return [
            m
            for m in self.tg.messages(chat_id)
            if m.get("from", {}).get("id") == bot_id or m["chat"]["type"] == "channel"
        ]

    async def say(self, chat_id: int, user_id: int, text: str, **kw: Any) -> JSON:
        """A user sends a message and the bot answers it: returns the bot's answer."""
        before = len(self.bot_messages(chat_id))
        self.tg.user_sends(chat_id, user_id, text, **kw)
        await wait_for(
            lambda: len(self.bot_messages(chat_id)) > before, 10, f"an answer to {text[:40]!r}"
        )
        return self.bot_messages(chat_id)[before]

    async def drain(self) -> None:
        """Wait until every queued delivery is done."""
        assert self.dispatcher is not None
        await self.dispatcher.drain(20)

    async def processed(self) -> None:
        """Wait until the adapter has handled every update the fake holds."""
        assert self.adapter is not None
        adapter = self.adapter

        def caught_up() -> bool:
            last = self.tg.enqueued[-1]["update_id"] if self.tg.enqueued else 0
            return adapter.offset > last

        await wait_for(caught_up, 20, "the adapter to process every update")


def build_world(tg: FakeTelegram) -> None:
    """Two channels (A with a discussion group), one group, an admin and two readers."""
    tg.add_user(ADMIN, "Ada", "ada", last_name="Admin")
    tg.add_user(READER, "Rita", "rita", last_name="Reader")
    tg.add_user(OTHER, "Omar", "omar")
    for user in (ADMIN, READER, OTHER):
        tg.add_chat(user, "private")
    tg.add_chat(CHANNEL_A, "channel", "Channel A", "channel_a", admins=[ADMIN], owner=ADMIN)
    tg.add_chat(
        DISCUSSION_A,
        "supergroup",
        "Channel A chat",
        admins=[ADMIN],
        owner=ADMIN,
        members=[READER, OTHER],
    )
    tg.link_discussion(CHANNEL_A, DISCUSSION_A)
    tg.add_chat(CHANNEL_B, "channel", "Channel B", "channel_b", admins=[ADMIN], owner=ADMIN)
    tg.add_chat(GROUP, "supergroup", "Readers", admins=[ADMIN], members=[READER, OTHER])


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db_path = tmp_path / "newsbot.db"
    async with FakeTelegram() as tg, SqliteStore(db_path) as store:
        build_world(tg)
        service = NewsService(
            store, admins={Platform.TELEGRAM: {str(ADMIN)}}, public_url=PUBLIC_URL
        )
        w = World(tg, store, service, db_path)
        try:
            yield w
        finally:
            await w.stop()


# PTB 22 warns inside RetryAfter.__init__ (every 429) unless PTB_TIMEDELTA is set; the adapter
# reads the value without the warning, but the library's own constructor cannot be helped.
IGNORE_RETRY_AFTER_WARNING = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)
