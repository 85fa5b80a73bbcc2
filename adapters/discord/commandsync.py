"""Slash command sync: to each named server (and clearing the global ones), or globally."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from typing import Any

import discord

from adapters.discord.client import NewsClient
from adapters.discord.locales import CatalogTranslator, catalogs_fingerprint
from newsbot.errors import StorageError
from newsbot.service import NewsService

log = logging.getLogger("newsbot.discord")
COMMANDS_KEY = "discord.commands_synced"  # the fingerprint of the last successful sync


class CommandSync:
    """The adapter's slash command sync (a part of ``DiscordAdapter``)."""

    service: NewsService
    guild_ids: frozenset[int]
    _client: NewsClient | None

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
        if tree.translator is None:
            await tree.set_translator(CatalogTranslator())
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
            "translations": catalogs_fingerprint(),
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
