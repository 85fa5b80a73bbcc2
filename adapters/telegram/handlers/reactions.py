"""Reactions: a group member's (``message_reaction``) and a channel post's anonymous counts
(``message_reaction_count``). Telegram sends either only to a bot that administers the chat
and asks for them in ``allowed_updates``."""

from __future__ import annotations

import logging

from telegram import ReactionType, ReactionTypeCustomEmoji, ReactionTypeEmoji, Update

from adapters.telegram.handlers.base import Context, HandlerGroup, guarded
from newsbot.models import MessageRef, Platform
from newsbot.reactions import ReactionEvent, ReactionOp

log = logging.getLogger("newsbot.telegram")

PAID = "⭐"  # a paid reaction (Telegram Stars) counts as this emoji


def reaction_key(reaction: ReactionType) -> str:
    """How a Telegram reaction is stored: its emoji, ``custom:ID`` for a custom emoji."""
    if isinstance(reaction, ReactionTypeEmoji):
        return reaction.emoji
    if isinstance(reaction, ReactionTypeCustomEmoji):
        return f"custom:{reaction.custom_emoji_id}"
    return PAID


class Reactions(HandlerGroup):
    """Reactions on the bot's posts, their copies and comments."""

    @guarded("reaction", answer_errors=False)
    async def reaction(self, update: Update, context: Context) -> None:
        """A member's reactions on a group message changed (old and new sets given)."""
        change = update.message_reaction
        assert change is not None
        who = change.user or change.actor_chat
        if who is None:
            return
        ref = MessageRef(Platform.TELEGRAM, str(change.chat.id), str(change.message_id))
        emojis = [reaction_key(r) for r in change.new_reaction]
        await self.service.reactions.set_reader(ref, str(who.id), emojis, at=change.date)

    @guarded("reaction count", answer_errors=False)
    async def reaction_count(self, update: Update, context: Context) -> None:
        """A message's anonymous reaction counts changed (a channel post): absolute counts."""
        counted = update.message_reaction_count
        assert counted is not None
        ref = MessageRef(Platform.TELEGRAM, str(counted.chat.id), str(counted.message_id))
        counts = tuple((reaction_key(r.type), r.total_count) for r in counted.reactions or ())
        event = ReactionEvent(ref, ReactionOp.COUNTS, counted.date, counts=counts)
        await self.service.reactions.record([event])
