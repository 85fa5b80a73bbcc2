"""``DiscordAdapter``: connects discord.py, turns chat messages into comments, and publishes.

The adapter owns the client's life: it points discord.py at the configured REST and gateway
URLs, logs in, runs the gateway in a task of its own (never ``Client.run``, which takes the
event loop over), syncs the slash commands, and backfills what it missed while it was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Iterable
from datetime import timedelta

import discord
import discord.gateway
import discord.http
import yarl

from adapters.discord._sdk import guard_discord_loggers
from adapters.discord.backfill import Backfill
from adapters.discord.client import NewsClient
from adapters.discord.commands import install_commands
from adapters.discord.commandsync import COMMANDS_KEY, CommandSync
from adapters.discord.intake import message_text
from adapters.discord.pacing import ChannelPacer, RequestPacer
from adapters.discord.publisher import NO_MENTIONS, DiscordPublisher
from adapters.discord.reactions import ReactionIntake
from adapters.discord.staffchat import DiscordStaffPoster, staff_press
from adapters.i18n import Speech
from newsbot.errors import ConfigError, NewsBotError
from newsbot.models import Platform
from newsbot.service import NewsService

log = logging.getLogger("newsbot.discord")
__all__ = ["COMMANDS_KEY", "INTENT_HELP", "DiscordAdapter", "message_text"]

INTENT_HELP = (
    "Discord refused the privileged Message Content intent (gateway close code 4014); "
    "enable it in the Discord Developer Portal under Applications > your app > Bot > "
    "Privileged Gateway Intents > Message Content Intent, then restart newsbot. Running "
    "without it: slash commands work, but chat messages arrive without text, so replies "
    "become comments only as attachment placeholders."
)


class DiscordAdapter(Backfill, ReactionIntake, CommandSync):
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
        reaction_days: posts of articles published within this many days have their reaction
            counts read back at each ready (reactions made or removed while the bot was away);
            0 reads none back.
        reaction_reads: posts read back per second (a tenth of Discord's global 50 by default,
            so a read-back of thousands of posts never starves a fan-out).
        speech: the language of posts' count lines (English by default); a command's answer
            is in the language of the member's Discord client where newsbot speaks it.
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
        reaction_days: float = 7.0,
        reaction_reads: float = 5.0,
        speech: Speech | None = None,
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
        self.reaction_window = timedelta(days=reaction_days)
        self.reaction_reads = reaction_reads
        self._read_back: asyncio.Task[int] | None = None
        self.pacer = RequestPacer(self.api_url, limit=global_rate, period=global_period)
        self._publisher = DiscordPublisher(
            lambda: self._client,
            service,
            channel_pacer=ChannelPacer(channel_rate, channel_period),
            speech=speech,
        )
        service.staffchat.posters[Platform.DISCORD] = DiscordStaffPoster(
            lambda: self._client, self._publisher
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
        """Stop the backfill and the read-back, close the client and restore discord.py's
        URLs."""
        await self._stop_read_back()
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
        intents.guild_reactions = True  # reactions on posts, copies and comments
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
        client.interaction_hooks.append(staff_press)
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
