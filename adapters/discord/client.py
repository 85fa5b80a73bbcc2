"""The discord.py client newsbot runs: it forwards gateway events to the adapter's handlers."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
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

    async def reaction(
        self,
        payload: discord.RawReactionActionEvent
        | discord.RawReactionClearEvent
        | discord.RawReactionClearEmojiEvent,
    ) -> None:
        """A reaction was added or removed, or a message's reactions were cleared."""
        ...


SEEN_INTERACTIONS = 4096
"""How many interaction ids a client remembers to drop a second delivery of one."""

Admission = Callable[[discord.Interaction], Awaitable[bool]]


class NewsTree(app_commands.CommandTree["NewsClient"]):
    """The command tree; ``admission`` decides, before any command is looked up, whether an
    interaction is carried out (it answers the ones it refuses)."""

    admission: Admission | None = None

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return self.admission is None or await self.admission(interaction)


class NewsClient(discord.Client):
    """A ``discord.Client`` with newsbot's command tree and the service commands run against.

    Args:
        service: the service commands and events call.
        publisher: the publisher, for rendering and for moderation deletes.
        events: the receiver of gateway events.
        guild_ids: the servers whose Discord permissions count as newsbot rights.
        options: passed on to ``discord.Client``.
    """

    def __init__(
        self,
        service: NewsService,
        publisher: DiscordPublisher,
        events: Events,
        *,
        guild_ids: Collection[int] = (),
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.service = service
        self.publisher = publisher
        self.events = events
        self.guild_ids = frozenset(guild_ids)
        self.tree: NewsTree = NewsTree(self)
        self._seen: OrderedDict[int, None] = OrderedDict()
        self.interaction_hooks: list[Callable[[discord.Interaction], Awaitable[None]]] = []

    def first_delivery(self, interaction_id: int) -> bool:
        """Whether this client sees ``interaction_id`` for the first time (a gateway replay
        or a duplicate delivery brings one again)."""
        if interaction_id in self._seen:
            return False
        self._seen[interaction_id] = None
        if len(self._seen) > SEEN_INTERACTIONS:
            self._seen.popitem(last=False)
        return True

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

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.events.reaction(payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.events.reaction(payload)

    async def on_raw_reaction_clear(self, payload: discord.RawReactionClearEvent) -> None:
        await self.events.reaction(payload)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Raw interactions the command tree does not take: staff notices' buttons, by
        # custom_id, so they work after a restart too (adapters/discord/staffchat.py).
        for hook in self.interaction_hooks:
            await hook(interaction)

    async def on_raw_reaction_clear_emoji(
        self, payload: discord.RawReactionClearEmojiEvent
    ) -> None:
        await self.events.reaction(payload)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        # The handlers catch their own errors; this is the net under anything that slips by,
        # so that no event ever takes the client down.
        log.exception("discord event handler failed", extra={"event": event_method})
