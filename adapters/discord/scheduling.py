"""Scheduling in Discord: the time options of ``/publish`` and its form, and ``/scheduled``
(list, move and cancel the articles waiting for their time), for newsbot admins."""

from __future__ import annotations

import dataclasses
from typing import Literal

import discord
from discord import app_commands

from adapters.discord.groups import CommandGroup
from adapters.discord.interactions import acknowledge, actor_of, reply, say, service_of, words
from adapters.discord.render import escape_name
from newsbot.errors import InvalidInput
from newsbot.i18n import N_
from newsbot.models import ArticleId, Platform
from newsbot.scheduling import (
    CANCELLED_SCHEDULED,
    GOES_OUT_NOW,
    NOTHING_SCHEDULED,
    RESCHEDULED,
    Priority,
    Schedule,
    ScheduledArticle,
    describe,
    parse_priority,
    plan,
)
from newsbot.service import NewsService

WHEN_HINT = "2026-12-24T06:00+01:00 or a delay: 2h, 90m"


def schedule_of(
    service: NewsService,
    at: str | None,
    after: str | None,
    telegram_at: str | None = None,
    discord_at: str | None = None,
) -> Schedule | None:
    """The schedule the options (or the form's When field) ask for (``scheduling.plan``).

    A form has one field for both: a value that reads as a delay is one.
    """
    return plan(
        service.clock.now(),
        at=at,
        after=after,
        platforms={Platform.TELEGRAM: telegram_at, Platform.DISCORD: discord_at},
    )


def when_field(value: str) -> tuple[str | None, str | None]:
    """The form's When field as (``at``, ``in``): blank is now; a leading digit and a
    unit letter at the end is a delay."""
    value = value.strip()
    if not value:
        return None, None
    return (None, value) if value[-1:].lower() in "dhms" and value[:1].isdigit() else (value, None)


NAME_THE_ARTICLE = {
    "move": N_("Name the article to move with the article option."),
    "cancel": N_("Name the article to cancel with the article option."),
}


def priority_of(value: str | None) -> Priority:
    """The ``priority`` option."""
    return parse_priority(value)


def _line(item: ScheduledArticle) -> str:
    title = escape_name(item.article.title)
    return describe(
        dataclasses.replace(item, article=dataclasses.replace(item.article, title=title))
    )


class ScheduleCommands(CommandGroup, name="schedule", description="Scheduled articles"):
    """``/scheduled``: newsbot admins only, checked before anything is read."""

    async def check(self, interaction: discord.Interaction) -> None:
        service_of(interaction).require_admin(actor_of(interaction), N_("see scheduled articles"))

    @app_commands.command()
    @app_commands.describe(
        action="list (the default), move or cancel",
        article="The article's number (to move or cancel)",
        at=f"The new time: {WHEN_HINT}",
        delay="The new time as a delay from now: 2h, 90m",
    )
    @app_commands.rename(delay="in")
    async def scheduled(
        self,
        interaction: discord.Interaction,
        action: Literal["list", "move", "cancel"] = "list",
        article: app_commands.Range[int, 1] | None = None,
        at: str | None = None,
        delay: str | None = None,
    ) -> None:
        """The articles waiting for their time; move or cancel one before it goes out."""
        service = service_of(interaction)
        if not await acknowledge(interaction):
            return
        actor = actor_of(interaction)
        if action == "list":
            items = await service.scheduled(actor)
            lines = "\n".join(map(_line, items))
            await reply(interaction, lines or await words(interaction, NOTHING_SCHEDULED))
            return
        if article is None:
            raise InvalidInput(NAME_THE_ARTICLE[action])
        article_id = ArticleId(article)
        if action == "cancel":
            await service.cancel_scheduled(actor, article_id)
            await say(interaction, CANCELLED_SCHEDULED, id=article_id)
            return
        item = await service.reschedule(actor, article_id, schedule_of(service, at, delay))
        if item:
            await say(interaction, RESCHEDULED, line=_line(item))
        else:
            await say(interaction, GOES_OUT_NOW, id=article_id)
