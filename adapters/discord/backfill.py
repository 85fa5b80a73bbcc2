"""The backfill: what was written in the latest articles' threads and channels while the bot
was away, or could not store it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord

from adapters.discord.client import NewsClient
from adapters.discord.ids import snowflake
from adapters.discord.intake import CommentIntake
from adapters.discord.reactions import counts_event
from adapters.discord.readback import ReactionReadBack, discord_posts
from newsbot.errors import StorageError
from newsbot.models import MessageRef, Platform
from newsbot.reactions import ReactionEvent

log = logging.getLogger("newsbot.discord")


class Backfill(CommentIntake, ReactionReadBack):
    """The adapter's backfill at each ready and after a store failure (a part of
    ``DiscordAdapter``)."""

    backfill_articles: int
    backfill_interval: float
    backfill_reads: int
    backfilled: int
    _client: NewsClient | None
    _ready: asyncio.Event
    _backfill: asyncio.Task[None] | None
    _first_backfill: asyncio.Future[int] | None
    _catch_ups: set[asyncio.Task[None]]

    async def ready(self, client: NewsClient) -> None:
        if client is not self._client:
            return
        self._ready.set()
        # A fresh session (not a resume) may have missed messages and reactions: catch up in
        # the background.
        self._start_read_back(client)
        self._first_backfill = asyncio.get_running_loop().create_future()
        if self._backfill is None or self._backfill.done():
            self._backfill = asyncio.create_task(self._backfill_safely(), name="discord-backfill")
        else:
            self._backfill_again.set()

    # -- backfill -------------------------------------------------------------------------

    async def _backfill_safely(self) -> None:
        """Backfill now, then again every ``backfill_interval`` seconds or when asked (after a
        store failure), until the client goes."""
        delay = 5.0
        while True:
            try:
                count = await self.backfill()
            except asyncio.CancelledError:
                raise
            except StorageError:
                log.exception(
                    "discord backfill stopped by the store; retrying", extra={"in": delay}
                )
                count = 0
                self._backfill_again.set()
            except Exception:
                log.exception("discord backfill failed")
                count = 0
            else:
                delay = 5.0
            self.backfilled += count
            if count:
                log.info("discord backfill stored messages", extra={"count": count})
            if self._first_backfill is not None and not self._first_backfill.done():
                self._first_backfill.set_result(count)
            if self._backfill_again.is_set():
                self._backfill_again.clear()
                await asyncio.sleep(delay)
            elif self.backfill_interval > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._backfill_again.wait(), self.backfill_interval)
            else:
                await self._backfill_again.wait()
            delay = min(delay * 2, 300.0)

    async def wait_backfill(self) -> int:
        """Wait for the first backfill after the last ready; returns how many messages it
        stored (for tests and the command line)."""
        if self._first_backfill is None:
            return 0
        return await self._first_backfill

    def _after_resend(self, thread_id: str, channel_id: str) -> None:
        task = asyncio.create_task(self._catch_up(thread_id, channel_id))
        self._catch_ups.add(task)
        task.add_done_callback(self._catch_ups.discard)

    async def _catch_up(self, thread_id: str, channel_id: str) -> None:
        """Read a resent post's thread and channel once the dispatcher has recorded the post."""
        ref = MessageRef(Platform.DISCORD, thread_id, thread_id)
        for _ in range(600):
            if await self.service.resolve(ref) is not None:
                break
            await asyncio.sleep(0.2)
        else:
            return
        client = self._client
        if client is None:
            return
        try:
            await self._backfill_channel(client, thread_id, int(thread_id))
            await self._backfill_channel(client, channel_id, int(thread_id))
        except StorageError:
            self._backfill_again.set()

    async def backfill(self) -> int:
        """Store what was written in the latest articles' threads and channels while the bot
        was away (or could not store it).

        Each thread, and each channel holding a post (at most ``backfill_reads``, newest
        articles first), is read from a watermark only the backfill moves, message by message
        in order: messages stored live meanwhile never make it skip earlier ones. Every message
        goes through ``ingest``, which stores each once. Returns how many were stored (or found
        stored).
        """
        client = self._client
        if client is None:
            return 0
        # channel -> the oldest post there among the latest articles: read from it on.
        places: dict[str, int] = {}
        seen = 0
        cursor: str | None = None
        while seen < self.backfill_articles:
            page = await self.service.latest(
                limit=min(50, self.backfill_articles - seen), cursor=cursor
            )
            for article in page.articles:
                for channel, post, thread in await discord_posts(self.service, article):
                    if thread is not None:
                        places[str(thread)] = thread
                    if post:
                        places[channel] = min(places.get(channel, post), post)
            seen += len(page.articles)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        stored = reads = quiet = skipped = 0
        # places holds the newest articles' threads and channels first. A place whose last
        # message (as the gateway told us, kept current by live events) is not after where
        # reading would start has nothing to read: only the others cost a request and count
        # against backfill_reads, so a fan-out to thousands of channels is backfilled in full.
        for channel_id, after in places.items():
            if _nothing_after(client, channel_id, after):
                quiet += 1
                continue
            if reads >= self.backfill_reads:
                skipped += 1
                continue
            reads += 1
            stored += await self._backfill_channel(client, channel_id, after)
        log.info(
            "discord backfill done",
            extra={"places": len(places), "read": reads, "quiet": quiet, "stored": stored},
        )
        if skipped:
            log.warning(
                "discord backfill skipped older threads",
                extra={"read": reads, "skipped": skipped},
            )
        return stored

    async def _backfill_channel(self, client: NewsClient, channel_id: str, after: int) -> int:
        """Ingest a channel's or thread's history after ``after`` and after its watermark."""
        key = f"discord.backfill.{channel_id}"
        start = max(after, snowflake(await self.service.last_state(key)) or 0)
        stored = 0
        last = start
        counted: list[ReactionEvent] = []
        where = snowflake(channel_id)
        if where is None:  # a destination subscribed by hand with a malformed id
            log.info("channel not backfilled: not a channel id", extra={"channel_id": channel_id})
            return 0
        try:
            channel: Any = client.get_channel(where) or await client.fetch_channel(where)
            if not isinstance(channel, discord.abc.Messageable):
                return 0
            async for message in channel.history(
                limit=None, after=discord.Object(id=start), oldest_first=True
            ):
                try:
                    async with self._lock(message.channel.id):
                        comment = await self.ingest(message)
                    if comment is not None:
                        stored += 1
                except StorageError:
                    raise
                except Exception:
                    log.exception(
                        "cannot backfill a message",
                        extra={"channel_id": channel_id, "message_id": message.id},
                    )
                last = message.id
                counted.append(counts_event(message))
                if stored and stored % 100 == 0:
                    await self.service.save_state(key, str(last))
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info("channel not backfilled", extra={"channel_id": channel_id, "error": str(exc)})
        except (TimeoutError, discord.HTTPException, OSError) as exc:
            log.warning(
                "channel backfill interrupted", extra={"channel_id": channel_id, "error": str(exc)}
            )
        finally:
            with contextlib.suppress(StorageError):
                await self.service.reactions.record(counted)
            if last > start:
                with contextlib.suppress(StorageError):
                    await self.service.save_state(key, str(last))
        return stored


def _nothing_after(client: NewsClient, channel_id: str, after: int) -> bool:
    """Whether the gateway's view of a channel or thread shows no message after ``after``.

    Unknown channels (an archived thread, one not cached) and channels without a last message
    id (except a cached thread that never had a message) are read: only a certain "nothing
    new" skips a read.
    """
    where = snowflake(channel_id)
    if where is None:
        return False
    channel = client.get_channel(where)
    if channel is None:
        return False
    last = getattr(channel, "last_message_id", None)
    if last is None:
        return isinstance(channel, discord.Thread) and not channel.message_count
    return int(last) <= after
