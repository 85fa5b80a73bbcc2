"""Chat membership: the bot added, restricted or removed, and groups that became supergroups."""

from __future__ import annotations

import logging

from telegram import (
    ChatMemberAdministrator,
    ChatMemberRestricted,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType

from adapters.telegram.handlers.base import (
    GONE_STATUSES,
    Context,
    HandlerGroup,
    guarded,
)
from newsbot.models import (
    Platform,
)

log = logging.getLogger("newsbot.telegram")


class Membership(HandlerGroup):
    """What happens to the chats the bot is in."""

    @guarded("membership", answer_errors=False)
    async def membership(self, update: Update, context: Context) -> None:
        """The bot was added, promoted, restricted or removed somewhere."""
        change = update.my_chat_member
        assert change is not None
        chat = change.chat
        member = change.new_chat_member
        reason = ""
        if member.status in GONE_STATUSES:
            reason = f"the bot was removed ({member.status})"
        elif chat.type == ChatType.CHANNEL and not (
            isinstance(member, ChatMemberAdministrator) and member.can_post_messages
        ):
            reason = "the bot may no longer post in the channel"
        elif isinstance(member, ChatMemberRestricted) and not member.can_send_messages:
            reason = "the bot may no longer send messages"
        if reason:
            count = await self.service.destination_gone(Platform.TELEGRAM, str(chat.id), reason)
            log.warning(
                "removed from a chat",
                extra={"chat_id": chat.id, "status": member.status, "deactivated": count},
            )
            return
        log.info(
            "membership changed",
            extra={"chat_id": chat.id, "chat_type": chat.type, "status": member.status},
        )
        unseen = self.shared.reactions_unseen
        if chat.type != ChatType.PRIVATE and member.status != ChatMemberStatus.ADMINISTRATOR:
            if chat.id not in unseen:
                unseen.add(chat.id)
                log.warning(
                    "reactions in this chat cannot be seen: Telegram sends them only to an "
                    "administrator",
                    extra={"chat_id": chat.id},
                )
        else:
            unseen.discard(chat.id)
        if (
            chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
            and member.status == ChatMemberStatus.MEMBER
            and not self.sees_all
        ):
            log.warning(
                "privacy mode: only commands and direct replies to the bot's posts will be "
                "seen in this group; make the bot an administrator to see every reply",
                extra={"chat_id": chat.id},
            )

    @guarded("migration", answer_errors=False)
    async def migrated(self, update: Update, context: Context) -> None:
        """A group became a supergroup: its subscriptions move to the new chat id."""
        message = update.effective_message
        assert message is not None
        if message.migrate_to_chat_id is None:
            return
        old, new = str(message.chat.id), str(message.migrate_to_chat_id)
        moved = await self.service.chat_migrated(Platform.TELEGRAM, old, new)
        log.info("group became a supergroup", extra={"chat_id": old, "to": new, "moved": moved})
