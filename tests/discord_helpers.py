"""A whole Discord world for end-to-end tests: the fake Discord (REST and gateway), the real
SQLite store, NewsService, Dispatcher and DiscordAdapter (discord.py talking to the fake).

Test modules import the ``fake``, ``make_world`` and ``world`` fixtures from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.discord import DiscordAdapter
from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    DeliveryState,
    DestinationKind,
    Dispatcher,
    NewDestination,
    NewsService,
    Platform,
)
from storage import SqliteStore
from tests.fakes.discord import (
    GUILD_ANNOUNCEMENT,
    GUILD_FORUM,
    GUILD_TEXT,
    MANAGE_CHANNELS,
    FakeDiscord,
)

TOKEN = "fake-discord-token"
EPHEMERAL = 1 << 6
MANAGE_GUILD = 1 << 5
LISTED_ADMIN = 99  # in the service's Discord admin list (tests/conftest.py)
BOT_PERMISSIONS = 326417607680  # what docs/discord.md's invite link grants


@dataclass
class World:
    fake: FakeDiscord
    service: NewsService
    store: SqliteStore
    adapter: DiscordAdapter
    dispatcher: Dispatcher
    guild: int
    text: int
    news: int
    forum: int
    owner: int
    moderator: int
    manager: int
    reader: int
    role: int

    async def slash(
        self, name: str, user: int, where: int | None = None, **options: Any
    ) -> dict[str, Any]:
        """Run a slash command in ``where`` and return what the user is shown in answer."""
        payload = await self.fake.slash_command(
            self.guild, where or self.text, user, name, options
        )
        return await self.fake.wait_for_answer(payload["id"])

    async def menu(self, name: str, user: int, channel: int, message: int) -> dict[str, Any]:
        payload = await self.fake.slash_command(
            self.guild, channel, user, name, command_type=3, target_id=message
        )
        return await self.fake.wait_for_answer(payload["id"])

    async def publish(self, title: str = "Hello", body: str = "World **bold**", **kw: Any) -> int:
        change = await self.service.publish(
            Actor.operator(), ArticleDraft(title=title, body=body, **kw)
        )
        await self.dispatcher.drain()
        return int(change.article.id)

    async def subscribe(
        self, channel: int, kind: DestinationKind = DestinationKind.CHANNEL
    ) -> int:
        result = await self.service.subscribe(
            Actor.operator(), NewDestination(Platform.DISCORD, str(channel), kind)
        )
        return int(result.destination.id)

    def bot_messages(self, channel: int) -> list[dict[str, Any]]:
        return [m for m in self.fake.messages(channel) if m["_author_id"] == self.fake.bot_id]

    async def post_of(self, article_id: int, channel: int) -> tuple[str, str | None]:
        for status in await self.service.deliveries(ArticleId(article_id)):
            if status.destination.chat_id == str(channel):
                assert status.delivery.state is DeliveryState.SENT, status.delivery
                assert status.delivery.message_id is not None
                return status.delivery.message_id, status.delivery.thread_id
        raise AssertionError(f"article {article_id} has no delivery to {channel}")


def ephemeral(response: dict[str, Any]) -> bool:
    return bool(int(response["data"].get("flags") or 0) & EPHEMERAL)


def content(response: dict[str, Any]) -> str:
    return str(response["data"].get("content") or "")


def make_adapter(service: NewsService, fake: FakeDiscord, **kw: Any) -> DiscordAdapter:
    return DiscordAdapter(
        service,
        token=TOKEN,
        api_url=fake.api_url,
        gateway_url=fake.gateway_url,
        guild_id=kw.pop("guild_id", None),
        guild_ready_timeout=0.05,
        ready_timeout=10.0,
        **kw,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as dc:
        yield dc


WorldFactory = Callable[..., Awaitable[World]]


@pytest.fixture
async def make_world(
    fake: FakeDiscord, service: NewsService, store: SqliteStore
) -> AsyncIterator[WorldFactory]:
    started: list[tuple[DiscordAdapter, Dispatcher]] = []

    async def build(*, with_service: NewsService | None = None, **adapter_options: Any) -> World:
        """A world; ``with_service`` runs it on another service (and that service's store)."""
        svc = with_service or service
        db = svc.store if with_service is not None else store
        assert isinstance(db, SqliteStore)
        owner = fake.add_user(fake.new_id(), "Olga Owner")
        gid = fake.add_guild("Newsroom", owner_id=owner, bot_permissions=BOT_PERMISSIONS)
        moderator = fake.add_member(
            gid, fake.new_id(), "Mo Moderator", roles=[fake.add_role(gid, "mods", MANAGE_GUILD)]
        )
        manager = fake.add_member(
            gid,
            fake.new_id(),
            "Manny Manager",
            roles=[fake.add_role(gid, "channel managers", MANAGE_CHANNELS)],
        )
        reader = fake.add_member(gid, fake.new_id(), "Rita Reader")
        fake.add_member(gid, LISTED_ADMIN, "Lee Listed")
        role = fake.add_role(gid, "subscribers", 0, mentionable=True)
        text = fake.add_channel(gid, "news", GUILD_TEXT)
        news = fake.add_channel(gid, "announcements", GUILD_ANNOUNCEMENT)
        forum = fake.add_channel(gid, "discussions", GUILD_FORUM, tags=["article", "meta"])
        adapter_options.setdefault("guild_id", gid)
        adapter = make_adapter(svc, fake, **adapter_options)
        await adapter.start()
        dispatcher = Dispatcher(
            db,
            {Platform.DISCORD: adapter.publisher},
            poll_interval=0.05,
            backoff_base=0.01,
            backoff_cap=0.05,
            article_url=svc.article_url,
            staff=svc.staffchat,
            clock=svc.clock,
            notices=db,
            closing=svc.desk.closing,
        )
        svc.on_enqueue(dispatcher.wake)
        await dispatcher.start()
        started.append((adapter, dispatcher))
        return World(
            fake,
            svc,
            db,
            adapter,
            dispatcher,
            gid,
            text,
            news,
            forum,
            owner,
            moderator,
            manager,
            reader,
            role,
        )

    yield build
    for adapter, dispatcher in reversed(started):
        await dispatcher.stop()
        await adapter.stop()


@pytest.fixture
async def world(make_world: WorldFactory) -> World:
    return await make_world()
