"""Feeds for newsbot admins: /feed add, list (with its pager), remove and poll."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from adapters.discord.groups import CommandGroup, answer_failure
from adapters.discord.interactions import (
    actor_of,
    admit,
    parse_tags,
    reply,
    say,
    service_of,
    speech_of,
)
from adapters.discord.publisher import NO_MENTIONS
from adapters.discord.render import NEXT, PREVIOUS, neutralise_mentions
from newsbot.errors import InvalidInput
from newsbot.feed_reports import ALREADY_FOLLOWED, NO_FEEDS, UNFOLLOWED
from newsbot.feeds import DEFAULT_INTERVAL, FeedService, feed_page, parse_interval, poll_summary
from newsbot.i18n import ENGLISH, N_, Message, Translator
from newsbot.models import NewFeed
from newsbot.text import cut_chars

FEED_LIST_BUDGET = 1800  # of a message's 2000 characters, the rest for the heading and mentions


def _feeds(interaction: discord.Interaction) -> FeedService:
    service = service_of(interaction)
    service.require_admin(actor_of(interaction), N_("manage feeds"))
    if service.feeds is None:
        raise InvalidInput(NO_FEEDS)
    return service.feeds


def _quote(text: str) -> str:
    return discord.utils.escape_markdown(text)


class FeedsView(discord.ui.View):
    """Previous / Next buttons over ``/feed list``, as many feeds a page as fit a message.

    Args:
        starts: the id each page shown so far starts after (0 for the first page).
        next_after: the id the page after the current one starts after, if any.
    """

    def __init__(
        self, starts: list[int], next_after: int | None, tr: Translator = ENGLISH
    ) -> None:
        super().__init__(timeout=15 * 60)
        self.starts = starts
        self.next_after = next_after
        self.previous_page.label = tr.gettext(PREVIOUS)
        self.next_page.label = tr.gettext(NEXT)
        self.previous_page.disabled = len(starts) <= 1
        self.next_page.disabled = next_after is None

    @classmethod
    async def page(
        cls, interaction: discord.Interaction, starts: list[int]
    ) -> tuple[str, FeedsView | None]:
        """The page after ``starts[-1]`` as its text, and a view to page on (``None`` when
        every feed fits one page). Each page asks again: the asker must still be an admin."""
        tr = (await speech_of(interaction)).tr
        page = feed_page(
            await _feeds(interaction).feeds(),
            starts[-1],
            budget=FEED_LIST_BUDGET,
            quote=_quote,
            separator=3,
            tr=tr,
        )
        if not page.total:
            return tr.gettext(N_("No feeds yet: /feed add")), None
        text = "\n".join((f"{page.heading_in(tr)}:", *(f"- {line}" for line in page.lines)))
        if len(starts) == 1 and page.next_after is None:
            return text, None
        return text, cls(starts, page.next_after, tr)

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return await admit(interaction)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, _item: discord.ui.Item[Any], /
    ) -> None:
        await answer_failure(interaction, "feed list page", error)

    async def _show(self, interaction: discord.Interaction, starts: list[int]) -> None:
        text, view = await self.page(interaction, starts)
        self.stop()
        await interaction.response.edit_message(
            content=cut_chars(neutralise_mentions(text), 2000),
            view=view,
            allowed_mentions=NO_MENTIONS,
        )

    @discord.ui.button(label=PREVIOUS, custom_id="newsbot:feeds:previous")
    async def previous_page(
        self, interaction: discord.Interaction, _button: discord.ui.Button[FeedsView]
    ) -> None:
        """Show the page before."""
        await self._show(interaction, self.starts[:-1] or [0])

    @discord.ui.button(label=NEXT, custom_id="newsbot:feeds:next")
    async def next_page(
        self, interaction: discord.Interaction, _button: discord.ui.Button[FeedsView]
    ) -> None:
        """Show the page after."""
        await self._show(interaction, [*self.starts, self.next_after or 0])


class FeedCommands(CommandGroup, name="feed", description=N_("Publish a site's RSS or Atom feed")):
    """``/feed``: newsbot admins only, in a newsbot that has feeds."""

    async def check(self, interaction: discord.Interaction) -> None:
        _feeds(interaction)

    @app_commands.command(
        name="add", description=N_("Follow a feed: its new items become articles")
    )
    @app_commands.describe(
        url=N_("The feed's address (http or https)"),
        tags=N_("Tags added to its articles (spaces or commas)"),
        every=N_("How often to poll: 10m (default), 1h; at least 1m"),
        backfill=N_("Publish the newest N items already in the feed (default 0)"),
    )
    async def feed_add(
        self,
        interaction: discord.Interaction,
        url: str,
        tags: str | None = None,
        every: str | None = None,
        backfill: app_commands.Range[int, 0, 50] = 0,
    ) -> None:
        """``/feed add``: read the feed once, record what is there, publish what comes next."""

        feeds = _feeds(interaction)
        interval = parse_interval(every) if every else DEFAULT_INTERVAL
        await interaction.response.defer(ephemeral=True, thinking=True)  # the fetch takes time
        feed, result = await feeds.add(
            actor_of(interaction), NewFeed(url, parse_tags(tags), interval, backfill)
        )
        if result is None:
            await say(interaction, ALREADY_FOLLOWED, url=f"<{feed.url}>")
            return
        await say(
            interaction,
            N_(
                "Following %(url)s (%(title)s): %(published)s published now, "
                "%(recorded)s recorded as seen."
            ),
            url=f"<{feed.url}>",
            title=_quote(feed.title) if feed.title else Message(N_("untitled")),
            published=result.published,
            recorded=result.recorded,
        )

    @app_commands.command(
        name="list", description=N_("The feeds newsbot follows and how they fare")
    )
    async def feed_list(self, interaction: discord.Interaction) -> None:
        """``/feed list``: how many feeds there are, and each with its last poll, status, next
        poll, items and error, a page at a time."""

        text, view = await FeedsView.page(interaction, [0])
        await reply(interaction, text, view=view)

    @app_commands.command(
        name="remove", description=N_("Stop following a feed (its articles stay)")
    )
    @app_commands.describe(url=N_("The feed's address, as /feed list shows it"))
    async def feed_remove(self, interaction: discord.Interaction, url: str) -> None:
        """``/feed remove``."""

        feed = await _feeds(interaction).remove(actor_of(interaction), url)
        await say(interaction, UNFOLLOWED, url=f"<{feed.url}>")

    @app_commands.command(name="poll", description=N_("Poll a feed now"))
    @app_commands.describe(url=N_("The feed's address, as /feed list shows it"))
    async def feed_poll(self, interaction: discord.Interaction, url: str) -> None:
        """``/feed poll``: now, whatever its schedule."""

        feeds = _feeds(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await feeds.poll_now(actor_of(interaction), url)
        await reply(interaction, poll_summary(result, _quote, (await speech_of(interaction)).tr))
