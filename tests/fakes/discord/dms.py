"""Direct messages: ``POST /users/@me/channels`` opens (or finds) the DM channel with a user,
and the bot's messages there are refused as Discord refuses them: a user who shares no guild
with the bot, or who closed their DMs (``close_dms``), gets 403 50007 "Cannot send messages to
this user". DMs the bot sent are kept per user (``dms``)."""

from __future__ import annotations

import re
from typing import Any

from .rest import Rest
from .wire import JSON, ApiError, _now_iso, _Request, _Route


class DirectMessages(Rest):
    """DM channels and the bot's messages in them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dm_channels: dict[int, int] = {}  # channel id -> user id
        self.dms: dict[int, list[JSON]] = {}  # user id -> the bot's DMs, oldest first
        self.closed_dms: set[int] = set()

    def close_dms(self, user_id: int) -> None:
        """The user turned off DMs from server members: the bot may no longer write."""
        self.closed_dms.add(user_id)

    def _build_routes(self) -> list[_Route]:
        routes = super()._build_routes()
        opened = _Route("POST", re.compile(r"^/users/@me/channels$"), self._r_open_dm, "dm open")
        return [opened, *routes]

    def _dm_channel(self, channel_id: int, user_id: int) -> JSON:
        return {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self.users[user_id]],
        }

    async def _r_open_dm(self, req: _Request) -> JSON:
        body = self._json_body(req)
        raw = body.get("recipient_id")
        user_id = int(raw) if isinstance(raw, int | str) and str(raw).isdigit() else 0
        if user_id not in self.users or user_id == self.bot_id:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        for channel_id, holder in self.dm_channels.items():
            if holder == user_id:
                return self._dm_channel(channel_id, user_id)
        channel_id = self.new_id()
        self.dm_channels[channel_id] = user_id
        return self._dm_channel(channel_id, user_id)

    def _shares_guild(self, user_id: int) -> bool:
        return any(
            user_id in guild.members and self.bot_id in guild.members
            for guild in self.guilds.values()
        )

    async def _r_create_message(self, req: _Request) -> Any:
        channel_id = int(req.params["channel_id"])
        user_id = self.dm_channels.get(channel_id)
        if user_id is None:
            return await super()._r_create_message(req)
        body = self._json_body(req)
        self._validate_message(body, creating=True)
        if user_id in self.closed_dms or not self._shares_guild(user_id):
            raise ApiError(403, 50007, "Cannot send messages to this user")
        if not (body.get("content") or body.get("embeds")):
            raise ApiError(400, 50006, "Cannot send an empty message")
        msg: JSON = {
            "id": str(self.new_id()),
            "channel_id": str(channel_id),
            "author": self.users[self.bot_id],
            "content": body.get("content") or "",
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": list(body.get("embeds") or []),
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": [],
        }
        self.dms.setdefault(user_id, []).append(
            {**msg, "_allowed_mentions": body.get("allowed_mentions")}
        )
        self._notify()
        return msg
