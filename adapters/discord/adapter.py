"""``DiscordAdapter``: connects discord.py, turns chat messages into comments, and publishes.

The adapter owns the client's life: it points discord.py at the configured REST and gateway
URLs, logs in, runs the gateway in a task of its own (never ``Client.run``, which takes the
event loop over), syncs the slash commands, and backfills what it missed while it was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl

from adapters.discord._sdk import guard_discord_loggers
from adapters.discord.client import NewsClient
from adapters.discord.commands import install_commands
from adapters.discord.ids import snowflake
from adapters.discord.pacing import ChannelPacer, RequestPacer
from adapters.discord.publisher import NO_MENTIONS, DiscordPublisher
from newsbot.errors import ConfigError, DomainError, NewsBotError, StorageError
from newsbot.models import Author, Comment, MessageRef, Platform
from newsbot.service import NewsService

log = logging.getLogger("newsbot.discord")
COMMANDS_KEY = "discord.commands_synced"  # the fingerprint of the last successful sync

INTENT_HELP = (
    "Discord refused the privileged Message Content intent (gateway close code 4014); "
    "enable it in the Discord Developer Portal under Applications > your app > Bot > "
    "Privileged Gateway Intents > Message Content Intent, then restart newsbot. Running "
    "without it: slash commands work, but chat messages arrive without text, so replies "
    "become comments only as attachment placeholders."
)
_COMMENT_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def message_text(message: discord.Message) -> str:
    """The text a comment stores for a message: its clean content, or placeholders for what
    carries no text (an image, a file, a sticker)."""
    # clean_content shows user, role and channel mentions by name; it also puts a zero-width
    # space into @everyone and @here, which every renderer neutralises anyway: store the text.
    text = message.clean_content.replace("@\u200beveryone", "@everyone")
    text = text.replace("@\u200bhere", "@here").strip()
    if text:
        return text
    parts = []
    for attachment in message.attachments:
        kind = (attachment.content_type or "").split("/")[0]
        if kind in ("image", "video", "audio"):
            parts.append(f"[{kind}]")
        else:
            parts.append(f"[file: {attachment.filename}]")
    parts += [f"[sticker: {sticker.name}]" for sticker in message.stickers]
    if message.poll is not None:
        parts.append("[poll]")
    return " ".join(parts)


class DiscordAdapter:
    """The Discord adapter: slash commands, comments from chat, and the publisher.

    Args:
        service: the service every command and event goes through.
        token: the bot token (never logged).
        api_url: the REST base including the version path.
        gateway_url: the gateway WebSocket URL.
        guild_ids: the servers the operator names (``NEWSBOT_DISCORD_GUILDS``): only there do
            Manage Server and Manage Channels count as newsbot rights, only there are commands
            taken (from anyone else but ``NEWSBOT_DISCORD_ADMINS``), and the commands are
            synced to each of them (instantly available) while global commands are cleared.
            With none, commands are synced globally and Discord permissions count nowhere.
        guild_id: one more server for ``guild_ids`` (the older, single-server setting).
        guild_ready_timeout: seconds discord.py waits after the last GUILD_CREATE before
            ``on_ready``.
        ready_timeout: seconds ``start`` waits for the gateway to become ready.
        message_content: request the privileged Message Content intent (falls back without it
            when Discord refuses).
        global_rate: REST requests allowed per ``global_period`` (Discord: 50 per second).
        global_period: the global window in seconds.
        channel_rate: message writes allowed per channel per ``channel_period``.
        channel_period: the per-channel window in seconds.
        backfill_articles: how many of the latest articles' threads and channels to backfill.
        backfill_interval: seconds between backfills after the first (at each ready); 0 (the
            default) backfills only at each ready and after a store failure.
        backfill_reads: the most threads and channels one backfill reads, newest articles
            first: with thousands of destinations a full round would take the whole request
            budget for many minutes.
    """

    name = "discord"

    def __init__(
        self,
        service: NewsService,
        *,
        token: str,
        api_url: str = "https://discord.com/api/v10",
        gateway_url: str = "wss://gateway.discord.gg/",
        guild_ids: Iterable[int] = (),
        guild_id: int | None = None,
        guild_ready_timeout: float = 2.0,
        ready_timeout: float = 60.0,
        message_content: bool = True,
        global_rate: int = 50,
        global_period: float = 1.0,
        channel_rate: int = 5,
        channel_period: float = 5.0,
        backfill_articles: int = 50,
        backfill_interval: float = 0.0,
        backfill_reads: int = 1000,
    ) -> None:
        self.service = service
        self._token = token
        self.api_url = api_url.rstrip("/")
        self.gateway_url = gateway_url
        self.guild_ids = frozenset(guild_ids) | (frozenset() if guild_id is None else {guild_id})
        self.guild_ready_timeout = guild_ready_timeout
        self.ready_timeout = ready_timeout
        self.message_content = message_content
        self.backfill_articles = backfill_articles
        self.backfill_interval = backfill_interval
        self.backfill_reads = backfill_reads
        self.pacer = RequestPacer(self.api_url, limit=global_rate, period=global_period)
        self._publisher = DiscordPublisher(
            lambda: self._client,
            service,
            channel_pacer=ChannelPacer(channel_rate, channel_period),
        )
        self._client: NewsClient | None = None
        self._runner: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._backfill: asyncio.Task[None] | None = None
        self._backfill_again = asyncio.Event()
        self._first_backfill: asyncio.Future[int] | None = None
        self._catch_ups: set[asyncio.Task[None]] = set()
        self._publisher.on_resent_thread = self._after_resend
        self._saved_urls: tuple[str, yarl.URL] | None = None
        self.backfilled = 0
        # discord.py runs each event in a task of its own; a lock per channel keeps a reply,
        # an edit or a deletion from overtaking the message it is about.
        self._channel_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def __repr__(self) -> str:  # never show the token
        return f"DiscordAdapter(api_url={self.api_url!r}, guild_ids={sorted(self.guild_ids)!r})"

    @property
    def rate_limit_answers(self) -> int:
        """How many answers of 429 Discord gave this adapter (for ``/metrics``)."""
        return self.pacer.answers_429

    @property
    def publisher(self) -> DiscordPublisher:
        """The Discord publisher the dispatcher delivers through."""
        return self._publisher

    @property
    def client(self) -> NewsClient | None:
        """The running discord.py client, if started."""
        return self._client

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in, connect the gateway, wait until ready and sync the slash commands.

        Raises:
            ConfigError: Discord rejected the token.
            NewsBotError: Discord cannot be reached, or the gateway did not become ready
                within ``ready_timeout``.
        """
        self._saved_urls = (
            discord.http.Route.BASE,
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
        )
        # discord.py builds every REST URL from Route.BASE and connects a plain Client to
        # DEFAULT_GATEWAY: the two settings it offers no option for.
        discord.http.Route.BASE = self.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        guard_discord_loggers()
        self._ready.clear()
        try:
            await self._connect()
        except BaseException:
            await self.stop()
            raise
        await self._sync_commands()
        assert self._client is not None
        log.info(
            "discord ready",
            extra={"guilds": len(self._client.guilds), "message_content": self.message_content},
        )
        self._report_servers(self._client)

    def _report_servers(self, client: NewsClient) -> None:
        """Say which servers' permissions count, and which servers the bot is in unnamed."""
        if not self.guild_ids:
            log.warning(
                "no Discord server is named in NEWSBOT_DISCORD_GUILDS: Manage Server and Manage "
                "Channels grant nothing anywhere, only NEWSBOT_DISCORD_ADMINS may publish, "
                "moderate and subscribe; name your server's id there (Developer Mode, right "
                "click the server, Copy Server ID)",
                extra={"guilds": len(client.guilds)},
            )
            return
        for guild in client.guilds:
            if guild.id not in self.guild_ids:
                log.warning(
                    "the bot is in a Discord server not named in NEWSBOT_DISCORD_GUILDS; its "
                    "members' commands and comments are refused (turn Public Bot off in the "
                    "developer portal to keep the bot out of servers you do not run)",
                    extra={"guild_id": guild.id, "guild": guild.name},
                )

    async def _connect(self) -> None:
        self._client = await self._login(self._make_client())
        runner = self._runner = asyncio.create_task(self._run(), name="discord-gateway")
        ready = asyncio.create_task(self._ready.wait())
        try:
            done, _ = await asyncio.wait(
                {ready, runner}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if runner in done:
            error = runner.exception()
            if isinstance(error, NewsBotError):
                raise error
            raise NewsBotError(f"Discord gateway connection failed: {error!r}") from error
        if not done:
            raise NewsBotError(
                f"Discord gateway did not become ready within {self.ready_timeout:g} s"
            )
        runner.add_done_callback(self._gateway_ended)

    @staticmethod
    def _gateway_ended(task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # discord.py reconnects by itself; it gives up only on states it cannot fix (a reset
        # token, refused intents). Say so: the rest of newsbot keeps running without Discord.
        log.error("discord gateway stopped for good", extra={"error": repr(task.exception())})

    async def stop(self) -> None:
        """Stop the backfill, close the client and restore discord.py's URLs."""
        if self._backfill is not None:
            self._backfill.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._backfill
            self._backfill = None
        for task in list(self._catch_ups):
            task.cancel()
        await asyncio.gather(*self._catch_ups, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
            self._runner = None
        if self._saved_urls is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = (
                self._saved_urls
            )
            self._saved_urls = None

    def _make_client(self) -> NewsClient:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.message_content = self.message_content
        client = NewsClient(
            self.service,
            self._publisher,
            self,
            intents=intents,
            allowed_mentions=NO_MENTIONS,
            guild_ready_timeout=self.guild_ready_timeout,
            guild_ids=self.guild_ids,
            http_trace=self.pacer.trace_config(),
            max_ratelimit_timeout=30.0,
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
            max_messages=200,
        )
        install_commands(client.tree)
        return client

    async def _login(self, client: NewsClient) -> NewsClient:
        try:
            await client.login(self._token)
        except discord.LoginFailure as exc:
            await client.close()
            raise ConfigError("NEWSBOT_DISCORD_TOKEN was rejected by Discord") from exc
        except (discord.HTTPException, OSError) as exc:
            await client.close()
            raise NewsBotError(f"cannot reach Discord at {self.api_url}: {exc}") from exc
        return client

    async def _run(self) -> None:
        """Run the gateway; reconnect once without the message content intent on 4014."""
        while True:
            client = self._client
            assert client is not None
            refused = False
            try:
                await client.connect(reconnect=True)
            except discord.PrivilegedIntentsRequired:
                if not self.message_content:
                    raise
                refused = True
            if not refused:
                return
            log.error(INTENT_HELP)
            self.message_content = False
            await client.close()
            self._client = await self._login(self._make_client())

    async def _sync_commands(self) -> None:
        """Sync the commands to each named server and clear the global ones (stale commands
        from an earlier global sync would otherwise show in every server); with no server
        named, sync them globally.

        Skipped when the same commands were synced to the same servers before (a fingerprint
        in the store): with several workers every takeover starts the adapter, and syncing
        costs a request per server (Discord also limits command creations per day).
        """
        client = self._client
        assert client is not None
        tree = client.tree
        fingerprint = self._commands_fingerprint(client)
        try:
            if await self.service.last_state(COMMANDS_KEY) == fingerprint:
                log.info("slash commands unchanged since the last sync")
                return
        except StorageError:
            fingerprint = ""
        if not self.guild_ids:
            synced = await self._sync(tree, None)
        else:
            synced = await self._sync_to_guilds(tree)
        if synced and fingerprint:
            with contextlib.suppress(StorageError):
                await self.service.save_state(COMMANDS_KEY, fingerprint)

    def _commands_fingerprint(self, client: NewsClient) -> str:
        payload = {
            "application": client.application_id,
            "guilds": sorted(self.guild_ids),
            "commands": [c.to_dict(client.tree) for c in client.tree.get_commands()],
        }
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    async def _sync_to_guilds(self, tree: Any) -> bool:
        for guild_id in sorted(self.guild_ids):
            tree.copy_global_to(guild=discord.Object(id=guild_id))
        known = tree.get_commands()
        tree.clear_commands(guild=None)
        synced = True
        for guild_id in sorted(self.guild_ids):
            synced &= await self._sync(tree, guild_id)
        synced &= await self._sync(tree, None)
        # Still answered where Discord shows them anyway (a global command left by an earlier
        # run): admission refuses strangers, NEWSBOT_DISCORD_ADMINS may use them.
        for command in known:
            tree.add_command(command)
        return synced

    @staticmethod
    async def _sync(tree: Any, guild_id: int | None) -> bool:
        guild = discord.Object(id=guild_id) if guild_id is not None else None
        try:
            synced = await tree.sync(guild=guild)
        except (TimeoutError, discord.HTTPException, OSError) as exc:
            failure: BaseException = exc
        else:
            log.info(
                "slash commands synced",
                extra={"count": len(synced), "guild_id": guild_id or "global"},
            )
            return True
        hint = ""
        if isinstance(failure, discord.Forbidden):
            hint = (
                ": invite the bot to that server with the applications.commands scope "
                "(see docs/discord.md)"
            )
        log.error(
            "cannot sync slash commands" + hint,
            extra={"guild_id": guild_id or "global", "error": str(failure)},
        )
        return False

    # -- gateway events -------------------------------------------------------------------

    async def ready(self, client: NewsClient) -> None:
        if client is not self._client:
            return
        self._ready.set()
        # A fresh session (not a resume) may have missed messages: catch up in the background.
        self._first_backfill = asyncio.get_running_loop().create_future()
        if self._backfill is None or self._backfill.done():
            self._backfill = asyncio.create_task(self._backfill_safely(), name="discord-backfill")
        else:
            self._backfill_again.set()

    def _lock(self, channel_id: int) -> asyncio.Lock:
        lock = self._channel_locks.get(channel_id)
        if lock is None:
            lock = self._channel_locks[channel_id] = asyncio.Lock()
        return lock

    async def message(self, message: discord.Message) -> None:
        try:
            async with self._lock(message.channel.id):
                await self.ingest(message)
        except StorageError:
            # The backfill's watermark has not passed this message: the next backfill, which
            # this asks for, reads it again once the store works.
            log.exception(
                "cannot store a discord message; the backfill will fetch it again",
                extra={"channel_id": message.channel.id, "message_id": message.id},
            )
            self._backfill_again.set()
        except Exception:
            log.exception(
                "cannot store a discord message",
                extra={"channel_id": message.channel.id, "message_id": message.id},
            )

    async def message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        if message.author.bot or "content" not in payload.data:
            return
        source = MessageRef(Platform.DISCORD, str(payload.channel_id), str(payload.message_id))
        try:
            text = message_text(message)
            if text:
                async with self._lock(payload.channel_id):
                    await self.service.edit_comment(source, text)
        except Exception:
            log.exception("cannot apply a discord edit", extra={"source": str(source)})

    async def message_delete(self, channel_id: int, message_id: int) -> None:
        source = MessageRef(Platform.DISCORD, str(channel_id), str(message_id))
        try:
            async with self._lock(channel_id):
                await self.service.delete_comment_by_source(source)
        except Exception:
            log.exception("cannot apply a discord deletion", extra={"source": str(source)})

    # -- comments -------------------------------------------------------------------------

    async def ingest(self, message: discord.Message) -> Comment | None:
        """Store a chat message as a comment if it answers an article or a comment.

        A message counts when it is in an article's thread or forum post, or replies to an
        article post or to a comment, and (when any server is named) is written in a named
        server: a reply elsewhere may name one of our posts in its ``message_reference``. Bots
        (this one included) and system messages are ignored. Storing is idempotent on the
        message, so live events and the backfill may both see it.
        """
        if message.author.bot or message.webhook_id is not None:
            return None
        if message.type not in _COMMENT_TYPES:
            return None
        channel = message.channel
        channel_id = str(channel.id)
        targets: list[MessageRef] = []
        reference = message.reference
        if (
            reference is not None
            and reference.message_id is not None
            and reference.type is discord.MessageReferenceType.reply
        ):
            parent_channel = str(reference.channel_id or channel.id)
            targets.append(MessageRef(Platform.DISCORD, parent_channel, str(reference.message_id)))
        # Threads the bot started are linked under (thread id, thread id); a channel the cache
        # does not know yet may be one of them.
        in_thread = not isinstance(channel, discord.TextChannel | discord.DMChannel)
        if in_thread:
            targets.append(MessageRef(Platform.DISCORD, channel_id, channel_id))
        if not targets:
            return None
        if self.guild_ids and (message.guild is None or message.guild.id not in self.guild_ids):
            log.debug(
                "discord message not stored: not from a named server",
                extra={"guild_id": message.guild and message.guild.id, "message_id": message.id},
            )
            return None
        text = message_text(message)
        if not text:
            return None
        source = MessageRef(Platform.DISCORD, channel_id, str(message.id))
        author = Author(message.author.display_name, Platform.DISCORD, str(message.author.id))
        for target in targets:
            try:
                comment = await self.service.record_reply(
                    reply_to=target,
                    source=source,
                    author=author,
                    text=text,
                    sent_at=_utc(message.created_at),
                )
            except DomainError as exc:
                log.info("message not stored", extra={"source": str(source), "why": str(exc)})
                return None
            if comment is not None:
                if in_thread:
                    await self._link_in_thread(source, channel_id)
                return comment
        return None

    async def _link_in_thread(self, source: MessageRef, channel_id: str) -> None:
        """Tie a comment written in an article's thread to that thread's destination, so
        replies to it are not mirrored back into the very channel they were written in."""
        thread = await self.service.resolve(MessageRef(Platform.DISCORD, channel_id, channel_id))
        if thread is not None and thread.destination_id is not None:
            await self.service.link_copy(source, source, thread.destination_id)

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
                for status in await self.service.deliveries(article.id):
                    delivery, destination = status.delivery, status.destination
                    if destination.platform is not Platform.DISCORD or not destination.active:
                        continue
                    thread = snowflake(delivery.thread_id)
                    if thread is not None:
                        places[str(thread)] = thread
                    post = snowflake(delivery.message_id)
                    if post is not None:
                        channel = destination.thread_id or destination.chat_id
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
                if stored and stored % 100 == 0:
                    await self.service.save_state(key, str(last))
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info("channel not backfilled", extra={"channel_id": channel_id, "error": str(exc)})
        except (TimeoutError, discord.HTTPException, OSError) as exc:
            log.warning(
                "channel backfill interrupted", extra={"channel_id": channel_id, "error": str(exc)}
            )
        finally:
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


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
