"""Reactions in the fake: a group member's reaction (``message_reaction``) and a channel
post's anonymous counts (``message_reaction_count``).

As in Telegram, both updates exist only for chats where the bot is an administrator, and
getUpdates delivers them only when ``allowed_updates`` names them (``updates.py``). Telegram
sends the counts with a delay; the fake sends them at once. A user holds at most three
reactions on a message (the limit without Premium) and only emoji reactions are modelled.
"""

from __future__ import annotations

import copy
from typing import Any

from .wire import JSONDict
from .world import World, _now

REACTIONS_PER_USER = 3


class Reactions(World):
    """``user_reacts``: a user sets their reactions on a message."""

    @property
    def _reactions(self) -> dict[tuple[int, int], dict[int, list[str]]]:
        found: Any = self.__dict__.setdefault("_reaction_state", {})
        return found  # type: ignore[no-any-return]

    def reactions_on(self, chat_id: int, message_id: int) -> dict[str, int]:
        """Every reaction on a message, counted, as a user would see them."""
        counts: dict[str, int] = {}
        for emojis in self._reactions.get((chat_id, message_id), {}).values():
            for emoji in emojis:
                counts[emoji] = counts.get(emoji, 0) + 1
        return counts

    def user_reacts(self, chat_id: int, message_id: int, user_id: int, *emojis: str) -> None:
        """A user's reactions on a message are now ``emojis`` (none: taken back).

        In a group: a ``message_reaction`` update naming the user. On a channel post the
        reaction is anonymous: a ``message_reaction_count`` update with the new totals.
        Either only if the bot is an administrator of the chat.
        """
        chat = self._chat_or_raise(chat_id)
        if chat.type == "private":
            raise ValueError("reactions in private chats are not modelled")
        if message_id not in chat.messages:
            raise ValueError(f"message {message_id} not found in chat {chat_id}")
        if len(set(emojis)) > REACTIONS_PER_USER:
            raise ValueError(f"REACTIONS_TOO_MANY: at most {REACTIONS_PER_USER} reactions")
        user = self._users.get(user_id) or self.add_user(user_id, f"User {user_id}")
        on_message = self._reactions.setdefault((chat_id, message_id), {})
        old = on_message.get(user_id, [])
        new = list(dict.fromkeys(emojis))
        if new:
            on_message[user_id] = new
        else:
            on_message.pop(user_id, None)
        if chat.bot_status != "administrator" or old == new:
            return
        if chat.type == "channel":
            counts = self.reactions_on(chat_id, message_id)
            self._enqueue(
                "message_reaction_count",
                {
                    "chat": chat.public(),
                    "message_id": message_id,
                    "date": _now(),
                    "reactions": [
                        {"type": _emoji(e), "total_count": n} for e, n in sorted(counts.items())
                    ],
                },
            )
            return
        update: JSONDict = {
            "chat": chat.public(),
            "message_id": message_id,
            "user": copy.deepcopy(user),
            "date": _now(),
            "old_reaction": [_emoji(e) for e in old],
            "new_reaction": [_emoji(e) for e in new],
        }
        self._enqueue("message_reaction", update)


def _emoji(emoji: str) -> JSONDict:
    return {"type": "emoji", "emoji": emoji}
