"""Helpers shared by the Telegram end-to-end tests (test_telegram_e2e*.py)."""

from __future__ import annotations

from typing import Any

from newsbot import (
    MessageRef,
    Platform,
)
from tests.telegram_helpers import (
    ADMIN,
    CHANNEL_B,
    GROUP,
    World,
)

JSON = dict[str, Any]


async def subscribe_all(w: World) -> None:
    """Subscribe both channels (from the admin's private chat) and the group (in it)."""
    assert "Subscribed" in (await w.say(ADMIN, ADMIN, "/subscribe @channel_a"))["text"]
    assert "Subscribed" in (await w.say(ADMIN, ADMIN, f"/subscribe {CHANNEL_B}"))["text"]
    assert "Subscribed" in (await w.say(GROUP, ADMIN, "/subscribe"))["text"]


async def publish(w: World, text: str) -> JSON:
    answer = await w.say(ADMIN, ADMIN, f"/publish {text}")
    assert "Published article" in answer["text"], answer["text"]
    await w.drain()
    return answer


def posts_in(w: World, chat_id: int) -> list[JSON]:
    """The bot's article posts in a chat (answers to commands left out)."""
    return [
        m for m in w.bot_messages(chat_id) if "💬" in (m.get("text") or m.get("caption") or "")
    ]


def post_in(w: World, chat_id: int) -> JSON:
    posts = posts_in(w, chat_id)
    assert len(posts) == 1, posts
    return posts[0]


def world_ref(chat: int, message: int) -> MessageRef:
    return MessageRef(Platform.TELEGRAM, str(chat), str(message))
