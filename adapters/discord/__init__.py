"""The Discord adapter: slash-command publishing, an embed and a thread per article, and chat
replies stored as comments.

``DiscordAdapter`` is what the composition root starts and stops; ``DiscordPublisher`` is the
``Publisher`` the dispatcher delivers through.
"""

from adapters.discord._sdk import discord  # noqa: F401  (first: quiets discord.py's import)
from adapters.discord.adapter import DiscordAdapter
from adapters.discord.pacing import ChannelPacer, RequestPacer, SlidingWindow
from adapters.discord.publisher import DiscordPublisher

__all__ = [
    "ChannelPacer",
    "DiscordAdapter",
    "DiscordPublisher",
    "RequestPacer",
    "SlidingWindow",
]
