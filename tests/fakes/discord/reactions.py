"""Reactions in the fake: people react, take reactions back, moderators clear them.

As on Discord: a reaction needs VIEW_CHANNEL and READ_MESSAGE_HISTORY, and ADD_REACTIONS to
be the first of its emoji on the message; a message holds at most 20 distinct emoji (30010);
clearing needs MANAGE_MESSAGES. MESSAGE_REACTION_ADD/REMOVE/REMOVE_ALL/REMOVE_EMOJI go only
to sessions with the GUILD_MESSAGE_REACTIONS intent, and a message carries its ``reactions``
counts in REST answers (``me`` for the bot's own). Only Unicode emoji are modelled.
"""

from __future__ import annotations

from .users import Users
from .wire import (
    ADD_REACTIONS,
    INTENT_GUILD_MESSAGE_REACTIONS,
    JSON,
    MANAGE_MESSAGES,
    READ_MESSAGE_HISTORY,
    ApiError,
)

MAX_EMOJIS = 20


class Reactions(Users):
    """``user_reacts``, ``user_unreacts`` and ``moderator_clears``."""

    def _reacted(self, channel_id: int, message_id: int) -> tuple[JSON, dict[str, list[int]]]:
        msg = self._message_or_404(channel_id, message_id)
        found: dict[str, list[int]] = msg.setdefault("_reactions", {})
        return msg, found

    def _event(self, msg: JSON, **fields: object) -> JSON:
        return {
            "channel_id": msg["channel_id"],
            "message_id": msg["id"],
            "guild_id": msg.get("guild_id"),
            **fields,
        }

    async def user_reacts(
        self, channel_id: int, message_id: int, user_id: int, emoji: str
    ) -> None:
        """A member reacts (MESSAGE_REACTION_ADD); reacting twice changes nothing."""
        msg, reactions = self._reacted(channel_id, message_id)
        guild = self._guild_of_channel(self._channel_or_404(channel_id))
        if user_id not in guild.members:
            raise ValueError(f"user {user_id} is not a member of guild {guild.id}")
        needed = READ_MESSAGE_HISTORY | (0 if emoji in reactions else ADD_REACTIONS)
        self._require(user_id, channel_id, needed)
        if emoji not in reactions and len(reactions) >= MAX_EMOJIS:
            raise ApiError(400, 30010, "Maximum number of reactions reached (20)")
        users = reactions.setdefault(emoji, [])
        if user_id in users:
            return
        users.append(user_id)
        self._notify()
        event = self._event(
            msg,
            user_id=str(user_id),
            member=self._member_payload(guild, user_id),
            emoji={"id": None, "name": emoji},
            message_author_id=str(msg["_author_id"]),
            burst=False,
            burst_colors=[],
            type=0,
        )
        await self._dispatch("MESSAGE_REACTION_ADD", event, INTENT_GUILD_MESSAGE_REACTIONS)

    async def user_unreacts(
        self, channel_id: int, message_id: int, user_id: int, emoji: str
    ) -> None:
        """A member takes their reaction back (MESSAGE_REACTION_REMOVE), if they had it."""
        msg, reactions = self._reacted(channel_id, message_id)
        users = reactions.get(emoji, [])
        if user_id not in users:
            return
        users.remove(user_id)
        if not users:
            del reactions[emoji]
        self._notify()
        event = self._event(
            msg, user_id=str(user_id), emoji={"id": None, "name": emoji}, burst=False, type=0
        )
        await self._dispatch("MESSAGE_REACTION_REMOVE", event, INTENT_GUILD_MESSAGE_REACTIONS)

    async def moderator_clears(
        self, channel_id: int, message_id: int, by_user_id: int, emoji: str | None = None
    ) -> None:
        """A moderator removes every reaction (REMOVE_ALL) or every one of an emoji
        (REMOVE_EMOJI)."""
        msg, reactions = self._reacted(channel_id, message_id)
        self._require(by_user_id, channel_id, MANAGE_MESSAGES)
        if emoji is None:
            reactions.clear()
            kind, event = "MESSAGE_REACTION_REMOVE_ALL", self._event(msg)
        else:
            reactions.pop(emoji, None)
            kind = "MESSAGE_REACTION_REMOVE_EMOJI"
            event = self._event(msg, emoji={"id": None, "name": emoji})
        self._notify()
        await self._dispatch(kind, event, INTENT_GUILD_MESSAGE_REACTIONS)
