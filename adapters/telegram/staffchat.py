"""The staff chat on Telegram: notices with Approve / Hide / Delete / Ban buttons, and what
a press does (the desk acts as the presser; the message then says who did what)."""

from __future__ import annotations

import asyncio
import html
import logging
from dataclasses import replace
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ExtBot

from adapters.telegram.publisher import FANOUT_ARGS, NO_PREVIEW, chat_key, translate
from newsbot.errors import PermissionDenied, RateLimited
from newsbot.i18n import ENGLISH, Translator
from newsbot.models import Actor, CommentId, Platform
from newsbot.service import NewsService
from newsbot.staffchat import (
    BUTTONS,
    LABELS,
    REFUSAL,
    NoticeText,
    button_data,
    more_line,
    notice_lines,
)

log = logging.getLogger("newsbot.telegram")

TITLE_MAX = 300
"""The most characters of an article's title a notice shows."""


def notice_html(text: NoticeText) -> str:
    """A notice as Telegram HTML, every field escaped."""
    title = text.article if len(text.article) <= TITLE_MAX else text.article[:TITLE_MAX] + "…"
    heading, *fields = notice_lines(replace(text, article=title), html.escape)
    lines = [f"<b>{heading}</b>", *fields, "", html.escape(text.text)]
    if text.more:
        lines += ["", f"<i>{more_line(text, html.escape)}</i>"]
    if text.decided:
        lines += ["", f"<b>{html.escape(text.decided)}</b>"]
    return "\n".join(lines)


def keyboard(comment_id: CommentId, tr: Translator = ENGLISH) -> InlineKeyboardMarkup:
    """The four buttons under a notice."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    tr.gettext(LABELS[a]), callback_data=button_data(comment_id, a)
                )
                for a in BUTTONS
            ]
        ]
    )


class TelegramStaffPoster:
    """Posts staff notices (``newsbot.ports.staffchat.StaffPoster``) through the bot, paced
    as the fan-out is: a staff chat over its budget answers ``RateLimited``."""

    def __init__(self, bot: ExtBot[Any], ready: asyncio.Event, token: str = "") -> None:
        self.bot = bot
        self.ready = ready
        self.token = token

    @property
    def platform(self) -> Platform:
        """Always ``Platform.TELEGRAM``."""
        return Platform.TELEGRAM

    async def post_notice(self, chat_id: str, comment_id: CommentId, text: NoticeText) -> str:
        """Send the notice with its buttons (none once decided); the message id."""
        if not self.ready.is_set():
            raise RateLimited(5.0, scope="global", message="telegram is not connected yet")
        try:
            message = await self.bot.send_message(
                chat_key(chat_id),
                notice_html(text),
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_markup=None if text.decided else keyboard(comment_id, text.tr),
                rate_limit_args=FANOUT_ARGS,
            )
        except TelegramError as error:
            raise translate(error, token=self.token) from None
        return str(message.message_id)


async def staff_press(service: NewsService, update: Update, actor: Actor) -> None:
    """A press on a notice's button: the desk acts as ``actor``; anybody but a newsbot admin
    is refused with an answer only they see."""
    query = update.callback_query
    assert query is not None
    try:
        done = await service.staffchat.press(actor, query.data or "")
    except PermissionDenied:
        await query.answer(service.staffchat.tr.gettext(REFUSAL), show_alert=True)
        return
    if done is None:
        await query.answer()
        return
    _outcome, line = done
    await query.answer(line[:200])
    message = query.message
    if not isinstance(message, Message):
        return
    body = message.text_html if message.text else ""
    try:
        await message.edit_text(
            f"{body}\n\n<b>{html.escape(line)}</b>",
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_markup=None,
        )
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            raise
