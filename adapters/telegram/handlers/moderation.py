"""Moderation: /delete and /ban, sent as a reply to a comment; /report, a reader asking a
moderator to look at one; /policy, a story's comment policy."""

from __future__ import annotations

import logging

from telegram import (
    Update,
)
from telegram.error import TelegramError

from adapters.telegram.handlers.base import (
    Context,
    HandlerGroup,
    chat_names,
    guarded,
)
from adapters.telegram.handlers.parsing import parse_id
from adapters.telegram.render import (
    shown_name,
)
from newsbot import slowmode
from newsbot.answers import ALREADY_DELETED, POLICY_IS, REPORTED, banned, report_wait
from newsbot.errors import (
    InvalidInput,
    NotFound,
)
from newsbot.i18n import N_, Message
from newsbot.models import (
    ArticleId,
    CommentId,
    CommentStatus,
    MessageRef,
    Platform,
)
from newsbot.policy import CommentPolicy, parse

log = logging.getLogger("newsbot.telegram")

POLICY_USAGE = N_("Usage: /policy ID [open|premoderated|closed|default] [slow SECONDS|off]")
_POLICY_WORDS = (*(str(c) for c in CommentPolicy), "default")

REPORTS_PER_WINDOW = 5
REPORT_WINDOW = 600.0


class Moderation(HandlerGroup):
    """Comments removed and authors banned by newsbot admins."""

    async def replied_comment(self, update: Update, command: str) -> CommentId:
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None or message.reply_to_message is None:
            raise InvalidInput(N_("Send %(command)s as a reply to the comment."), command=command)
        link = None
        for name in chat_names(chat):
            ref = MessageRef(Platform.TELEGRAM, name, str(message.reply_to_message.message_id))
            link = await self.service.resolve(ref)
            if link is not None:
                break
        if link is None:
            raise NotFound(N_("That message is not a comment I know."))
        if link.comment_id is None:
            raise InvalidInput(N_("That is an article; retract it with /retract ID in private."))
        return link.comment_id

    @guarded("delete comment")
    async def delete(self, update: Update, context: Context) -> None:
        """``/delete`` as a reply to a comment: remove it from the thread, everywhere."""
        comment_id = await self.replied_comment(update, "/delete")
        actor = self.actor(update)
        self.service.require_admin(actor, N_("delete comments"))
        if (await self.service.comment(comment_id)).status is CommentStatus.DELETED:
            # Done before (this very command, fetched again after a restart, say): the
            # reader's message is gone too, or could not be deleted then either.
            await self.say(update, ALREADY_DELETED, id=comment_id)
            return
        comment = await self.service.delete_comment(actor, comment_id)
        message = update.effective_message
        assert message is not None
        assert message.reply_to_message is not None
        replied = message.reply_to_message
        if comment.source == MessageRef(
            Platform.TELEGRAM, str(replied.chat.id), str(replied.message_id)
        ):
            try:
                await replied.delete()  # needs the right to delete messages; best effort
            except TelegramError as error:
                log.info("could not delete the comment's message", extra={"error": str(error)})
        await self.say(update, N_("Deleted comment %(id)s."), id=comment.id)

    @guarded("ban")
    async def ban(self, update: Update, context: Context) -> None:
        """``/ban`` as a reply to a comment: stop storing its author's comments."""
        comment_id = await self.replied_comment(update, "/ban")
        comment = await self.service.comment(comment_id)
        author = comment.author
        count = await self.service.ban(self.actor(update), author.platform, author.user_id)
        name = shown_name(author.name) or author.user_id
        await self.say(update, banned(name, count))

    @guarded("report")
    async def report(self, update: Update, context: Context) -> None:
        """``/report [reason]`` as a reply to a comment: ask a moderator to look at it (each
        reader counts once; five reports per reader per ten minutes)."""
        comment_id = await self.replied_comment(update, "/report")
        reader = self.actor(update)
        wait = await self.service.rate_slot(
            f"telegram-report:{reader.user_id}", REPORTS_PER_WINDOW, REPORT_WINDOW
        )
        if wait:
            await self.say(update, report_wait(wait))
            return
        message = update.effective_message
        assert message is not None
        reason = (message.text or "").partition(" ")[2]
        await self.service.desk.report(comment_id, reader, reason)
        await self.say(update, REPORTED)

    @guarded("policy")
    async def policy(self, update: Update, context: Context) -> None:
        """``/policy ID [open|premoderated|closed|default] [slow SECONDS|off]``: show or set a
        story's comment policy and slow mode (newsbot admins)."""
        args = context.args or []
        article_id = ArticleId(parse_id(args, POLICY_USAGE))
        actor = self.actor(update)
        self.service.require_admin(actor, N_("set comment policies"))
        wanted, slow = policy_args(args[1:])
        desk = self.service.desk
        if wanted is None:
            await self.service.article(article_id)
            meets = await desk.policy(article_id)
        else:
            chosen = None if wanted == "default" else parse(wanted)
            meets = await desk.set_policy(actor, article_id, chosen)
        if slow is None:
            slow = await desk.slow_mode(article_id)
        else:
            slow = await desk.set_slow_mode(actor, article_id, slow)
        tr = (await self.speech(update)).tr
        said = Message(POLICY_IS[str(meets)], values={"id": article_id}).render(tr)
        pace = slowmode.described(slow)
        await self.send(update, f"{said} {pace.render(tr)}" if pace else said)


def policy_args(args: list[str]) -> tuple[str | None, int | None]:
    """What ``/policy ID ...`` asks after the id: a policy (or ``default``) and slow-mode
    seconds (``slow 60``, ``slow off``), each ``None`` when not given.

    Raises:
        InvalidInput: anything else (the usage).
    """
    words = [a.strip().lower() for a in args]
    slow = None
    if "slow" in words:
        at = words.index("slow")
        try:
            slow = slowmode.parse(words[at + 1])
        except (IndexError, ValueError):
            raise InvalidInput(POLICY_USAGE) from None
        del words[at : at + 2]
    if len(words) > 1 or (words and words[0] not in _POLICY_WORDS):
        raise InvalidInput(POLICY_USAGE)
    return (words[0] if words else None), slow
