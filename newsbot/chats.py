"""Chat ids as each platform spells them: what may name a chat that can receive articles."""

from __future__ import annotations

import re

from newsbot.errors import InvalidInput
from newsbot.i18n import N_
from newsbot.models import Platform

CHAT_ID_MAX = 128

# Ids as each platform spells them, in ASCII digits (int() takes any script's digits): a
# Telegram chat is a (negative) number or an @username, a Discord channel a snowflake.
_TELEGRAM_CHAT = re.compile(r"-?[0-9]{1,19}|@[A-Za-z][A-Za-z0-9_]{2,31}")
_NUMBER = re.compile(r"[0-9]{1,20}")


def check_chat_id(platform: Platform, chat_id: str, thread_id: str | None = None) -> None:
    """Refuse a chat (and thread or topic) id that cannot name a chat on ``platform``: it
    could never receive anything.

    Raises:
        InvalidInput: the id is not one the platform uses.
    """
    shown = repr(chat_id[:40])
    if platform is Platform.DISCORD and not (_NUMBER.fullmatch(chat_id) and int(chat_id) < 2**64):
        raise InvalidInput(
            N_(
                "A Discord channel id is a number (in Developer Mode, right click the channel, "
                "Copy Channel ID), not %(given)s."
            ),
            field="chat_id",
            given=shown,
        )
    if platform is Platform.TELEGRAM and not _TELEGRAM_CHAT.fullmatch(chat_id):
        raise InvalidInput(
            N_(
                "A Telegram chat id is a number (-100… for a channel or supergroup) or an "
                "@username, not %(given)s."
            ),
            field="chat_id",
            given=shown,
        )
    if (
        thread_id is not None
        and platform in (Platform.DISCORD, Platform.TELEGRAM)
        and not (_NUMBER.fullmatch(thread_id) and int(thread_id) < 2**64)
    ):
        raise InvalidInput(
            N_("A thread or topic id is a number, not %(given)s."),
            field="thread_id",
            given=repr(thread_id[:40]),
        )
