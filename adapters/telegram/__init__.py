"""The Telegram adapter: python-telegram-bot receiving updates and publishing to chats.

``TelegramAdapter`` is what ``bot.py`` starts; ``TelegramPublisher`` is the ``Publisher`` the
dispatcher uses for Telegram destinations. Rendering lives in ``render`` (pure functions) and
send pacing in ``limiter``.
"""

from adapters.telegram.adapter import TelegramAdapter
from adapters.telegram.limiter import SendLimiter
from adapters.telegram.publisher import TelegramPublisher

__all__ = ["SendLimiter", "TelegramAdapter", "TelegramPublisher"]
