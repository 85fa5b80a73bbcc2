"""Reactions read back after downtime: the gateway tells only of reactions made while it
listens, so at each ready the reaction counts of every post that can still get reactions (the
posts of articles published within ``reaction_window``) are read from Discord, one message at a
time at ``reaction_reads`` a second, and recorded as the posts' state: a reaction added while
the bot was away counts, one removed meanwhile no longer does (``newsbot.reactions.decide``
reconciles the counts read back with the readers known)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import discord

from adapters.discord.client import NewsClient
from adapters.discord.ids import snowflake
from adapters.discord.pacing import SlidingWindow
from adapters.discord.reactions import counts_event
from newsbot.errors import StorageError
from newsbot.models import Article, Platform
from newsbot.reactions import ReactionEvent
from newsbot.service import NewsService

log = logging.getLogger("newsbot.discord")

RECORD_EVERY = 25
"""Counts read back are recorded in batches of this many messages."""


async def discord_posts(
    service: NewsService, article: Article
) -> list[tuple[str, int, int | None]]:
    """An article's sent Discord posts to active destinations: (channel, post, thread)."""
    found: list[tuple[str, int, int | None]] = []
    for status in await service.deliveries(article.id):
        delivery, destination = status.delivery, status.destination
        if destination.platform is not Platform.DISCORD or not destination.active:
            continue
        post = snowflake(delivery.message_id)
        channel = destination.thread_id or destination.chat_id
        if post is not None or snowflake(delivery.thread_id) is not None:
            found.append((channel, post or 0, snowflake(delivery.thread_id)))
    return found


class ReactionReadBack:
    """The adapter's reaction read-back (a part of ``DiscordAdapter``)."""

    service: NewsService
    reaction_window: timedelta
    reaction_reads: float
    _read_back: asyncio.Task[int] | None

    def _start_read_back(self, client: NewsClient) -> None:
        """Read back from the start (a new session may have missed more), in the background:
        with thousands of posts in the window it takes minutes at its pace."""
        if self._read_back is not None:
            self._read_back.cancel()
        self._read_back = asyncio.create_task(
            self._read_back_safely(client), name="discord-reaction-read-back"
        )

    async def _stop_read_back(self) -> None:
        task, self._read_back = self._read_back, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait_read_back(self) -> int:
        """Wait for the read-back started at the last ready; returns how many posts it read
        (for tests and the command line)."""
        task = self._read_back
        return 0 if task is None else await asyncio.shield(task)

    async def _read_back_safely(self, client: NewsClient) -> int:
        try:
            read = await self.read_back_reactions(client)
        except StorageError:
            log.exception("discord reactions read back stopped by the store")
            return 0
        except Exception:
            log.exception("discord reactions read back failed")
            return 0
        log.info("discord reactions read back", extra={"posts": read})
        return read

    async def read_back_reactions(self, client: NewsClient) -> int:
        """Read the reaction counts of every post of the articles published within
        ``reaction_window``, newest first, and record them; returns how many were read."""
        pace = SlidingWindow(max(int(self.reaction_reads), 1), 1.0)
        counted: list[ReactionEvent] = []
        read = 0
        async for channel_id, post in self._posts_in_window():
            await pace.acquire()
            try:
                event = await _counts_of(client, channel_id, post)
            finally:
                pace.release()
            if event is None:
                continue
            read += 1
            counted.append(event)
            if len(counted) >= RECORD_EVERY:
                await self.service.reactions.record(counted)
                counted = []
        await self.service.reactions.record(counted)
        return read

    async def _posts_in_window(self) -> AsyncIterator[tuple[str, int]]:
        """(channel, post) of every article published within the window, paged through the
        articles and their deliveries (not the channels' history)."""
        since = self.service.clock.now() - self.reaction_window
        cursor: str | None = None
        while True:
            page = await self.service.latest(limit=50, cursor=cursor)
            for article in page.articles:
                if article.published_at is None or article.published_at < since:
                    return
                for channel_id, post, _ in await discord_posts(self.service, article):
                    if post:
                        yield channel_id, post
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


async def _counts_of(client: NewsClient, channel_id: str, post: int) -> ReactionEvent | None:
    """A post's reaction counts as Discord has them now (``None``: it cannot be read)."""
    where = snowflake(channel_id)
    if where is None:
        return None
    try:
        channel: Any = client.get_channel(where) or await client.fetch_channel(where)
        if isinstance(channel, discord.abc.Messageable):
            return counts_event(await channel.fetch_message(post))
    except (TimeoutError, discord.HTTPException, OSError) as exc:
        log.info(
            "reactions not read back",
            extra={"channel_id": channel_id, "message_id": post, "error": str(exc)},
        )
    return None
