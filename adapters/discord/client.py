"""The discord.py client newsbot runs: it forwards gateway events to the adapter's handlers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

import discord
from discord import app_commands

from newsbot.service import NewsService

if TYPE_CHECKING:
    from adapters.discord.publisher import DiscordPublisher

log = logging.getLogger("newsbot.discord")


class Events(Protocol):
    """What the client forwards gateway events to (the adapter)."""

    async def ready(self, client: NewsClient) -> None:
        """The gateway session is ready (after IDENTIFY, not after RESUME)."""
        ...

    async def message(self, message: discord.Message) -> None:
        """A message was created."""
        ...

    async def message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """A message was edited, cached or not."""
        ...

    async def message_delete(self, channel_id: int, message_id: int) -> None:
        """A message was deleted, cached or not."""
        ...


class NewsClient(discord.Client):
    """A ``discord.Client`` with newsbot's command tree and the service commands run against.

    Args:
        service: the service commands and events call.
        publisher: the publisher, for rendering and for moderation deletes.
        events: the receiver of gateway events.
        options: passed on to ``discord.Client``.
    """

    def __init__(
        self,
        service: NewsService,
        publisher: DiscordPublisher,
        events: Events,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.service = service
        self.publisher = publisher
        self.events = events
        self.tree: app_commands.CommandTree[NewsClient] = app_commands.CommandTree(self)

    async def on_ready(self) -> None:
        await self.events.ready(self)

    async def on_message(self, message: discord.Message) -> None:
        await self.events.message(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self.events.message_edit(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self.events.message_delete(payload.channel_id, payload.message_id)

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        for message_id in sorted(payload.message_ids):
            await self.events.message_delete(payload.channel_id, message_id)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        # The handlers catch their own errors; this is the net under anything that slips by,
        # so that no event ever takes the client down.
        log.exception("discord event handler failed", extra={"event": event_method})
