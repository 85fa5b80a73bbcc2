"""Scheduling in Telegram: the ``key=value`` options of ``/publish`` and ``/scheduled``
(list, move and cancel the articles waiting for their time)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from telegram import MessageEntity, Update

from adapters.telegram.handlers.base import Context, HandlerGroup, guarded
from adapters.telegram.render import split_command, tail
from newsbot import slowmode
from newsbot.errors import InvalidInput
from newsbot.i18n import N_, Message
from newsbot.models import ArticleId, Platform
from newsbot.policy import CommentPolicy, choose
from newsbot.scheduling import (
    CANCELLED_SCHEDULED,
    GOES_OUT_NOW,
    NOTHING_SCHEDULED,
    RESCHEDULED,
    Priority,
    Schedule,
    describe,
    parse_priority,
    plan,
)
from newsbot.service import NewsService

_OPTION = re.compile(
    r"(?:(at|in|telegram_at|discord_at|priority|comments|slow)=|--(comments|slow)[ \t]+)"
    r"(\S+)[ \t]*",
    re.ASCII,
)
USAGE = N_(
    "Options go before the title: /publish at=2026-12-24T06:00+01:00 (or in=2h) "
    "[telegram_at=...] [discord_at=...] [priority=breaking] "
    "[comments=open|premoderated|closed] [slow=SECONDS] Title, the body below."
)


def take_options(
    text: str, entities: Sequence[MessageEntity]
) -> tuple[dict[str, str], str, list[MessageEntity]]:
    """The leading ``key=value`` options of a command's text, and the text after them."""
    options: dict[str, str] = {}
    start = len(text) - len(text.lstrip(" \t"))
    while match := _OPTION.match(text, start):
        name = match.group(1) or match.group(2)  # comments=X or --comments X (slow too)
        if name in options:
            raise InvalidInput(
                N_("%(option)s= is given twice. %(usage)s"),
                option=name,
                usage=Message(USAGE),
            )
        options[name] = match.group(3)
        start = match.end()
    rest, moved = tail(text, entities, start)
    return options, rest, moved


def when_of(service: NewsService, options: Mapping[str, str]) -> tuple[Schedule | None, Priority]:
    """The schedule and the priority the options ask for (``scheduling.plan``)."""
    schedule = plan(
        service.clock.now(),
        at=options.get("at"),
        after=options.get("in"),
        platforms={
            Platform.TELEGRAM: options.get("telegram_at"),
            Platform.DISCORD: options.get("discord_at"),
        },
    )
    return schedule, parse_priority(options.get("priority"))


def comments_of(options: Mapping[str, str]) -> CommentPolicy | None:
    """The story's own comment policy the options ask for (``comments=``), if any.

    Raises:
        InvalidInput: not open, premoderated or closed.
    """
    value = options.get("comments")
    return None if value is None else choose(value)


def slow_of(options: Mapping[str, str]) -> int | None:
    """The story's slow mode the options ask for (``slow=SECONDS``, ``slow=off``), if any.

    Raises:
        InvalidInput: not 0 to ``slowmode.SLOW_MAX`` seconds.
    """
    value = options.get("slow")
    return None if value is None else slowmode.choose(value)


class Scheduling(HandlerGroup):
    """``/scheduled``: what waits, ``/scheduled move ID at=... | in=...``,
    ``/scheduled cancel ID``."""

    @guarded("scheduled")
    async def scheduled(self, update: Update, context: Context) -> None:
        """List, move or cancel the scheduled articles (newsbot admins, private chat)."""
        if not await self.private_only(update, "/scheduled"):
            return
        actor = self.actor(update)
        message = update.effective_message
        assert message is not None
        rest, _ = split_command(message.text or "", message.entities)
        words = rest.split(maxsplit=2)
        if not words:
            items = await self.service.scheduled(actor)
            lines = [describe(i) for i in items] or [await self.words(update, NOTHING_SCHEDULED)]
            await self.send(update, "\n".join(lines))
            return
        if len(words) < 2 or words[0] not in ("move", "cancel") or not words[1].isdecimal():
            raise InvalidInput(
                N_(
                    "Use /scheduled to list, /scheduled move ID at=... (or in=...), "
                    "or /scheduled cancel ID."
                )
            )
        article_id = ArticleId(int(words[1]))
        if words[0] == "cancel":
            await self.service.cancel_scheduled(actor, article_id)
            await self.say(update, CANCELLED_SCHEDULED, id=article_id)
            return
        options, _rest, _ = take_options(words[2] if len(words) > 2 else "", [])
        schedule, _priority = when_of(self.service, options)
        item = await self.service.reschedule(actor, article_id, schedule)
        if item:
            await self.say(update, RESCHEDULED, line=describe(item))
        else:
            await self.say(update, GOES_OUT_NOW, id=article_id)
