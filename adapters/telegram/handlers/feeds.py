"""Feeds: /feed add, list (with its page buttons), remove and poll, for newsbot admins."""

from __future__ import annotations

import logging

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest

from adapters.telegram.handlers.base import (
    STALE_BUTTON,
    Context,
    HandlerGroup,
    guarded,
)
from adapters.telegram.handlers.parsing import (
    parse_tags,
)
from adapters.telegram.publisher import NO_PREVIEW
from adapters.telegram.render import (
    plain,
)
from newsbot.errors import (
    InvalidInput,
)
from newsbot.feed_reports import ALREADY_FOLLOWED, NO_FEEDS, UNFOLLOWED, following
from newsbot.feeds import FeedService, feed_page, poll_summary
from newsbot.i18n import N_, Translator
from newsbot.models import (
    NewFeed,
)

log = logging.getLogger("newsbot.telegram")

FEED_LIST_BUDGET = 3900  # of a message's 4096 UTF-16 units, the rest for the heading


class Feeds(HandlerGroup):
    """The feeds newsbot follows."""

    @guarded("feed")
    async def feed(self, update: Update, context: Context) -> None:
        """``/feed add URL [tags]``, ``/feed list``, ``/feed remove URL``, ``/feed poll URL``."""
        if not await self.private_only(update, "/feed"):
            return
        actor = self.actor(update)
        self.service.require_admin(actor, N_("manage feeds"))
        feeds = self.service.feeds
        if feeds is None:
            raise InvalidInput(NO_FEEDS)
        args = list(context.args or [])
        action = args.pop(0).lower() if args else ""
        if action == "list":
            text, markup = await self.feed_list_page(feeds, 0, (await self.speech(update)).tr)
            await self.send(update, text, markup=markup)
        elif action == "add" and args:
            feed, result = await feeds.add(actor, NewFeed(args[0], parse_tags(args[1:])))
            if result is None:
                await self.say(update, ALREADY_FOLLOWED, url=feed.url)
            else:
                await self.say(update, following(feed, result))
        elif action == "remove" and args:
            feed = await feeds.remove(actor, args[0])
            await self.say(update, UNFOLLOWED, url=feed.url)
        elif action == "poll" and args:
            result = await feeds.poll_now(actor, args[0])
            await self.send(update, poll_summary(result, tr=(await self.speech(update)).tr))
        else:
            raise InvalidInput(
                N_("Usage: /feed add URL [tags], /feed list, /feed remove URL, /feed poll URL")
            )

    async def feed_list_page(
        self, feeds: FeedService, after: int, tr: Translator
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """A page of ``/feed list``, saying how many feeds there are, and its buttons."""
        page = feed_page(await feeds.feeds(), after, budget=FEED_LIST_BUDGET, tr=tr)
        if not page.total:
            return tr.gettext(N_("No feeds yet: /feed add URL")), None
        text = "\n\n".join((f"{page.heading_in(tr)}:", *page.lines))
        buttons = []
        if after:
            buttons.append(InlineKeyboardButton(tr.gettext(N_("« First")), callback_data="fl:0"))
        if page.next_after is not None:
            following = f"fl:{page.next_after}"
            buttons.append(InlineKeyboardButton(tr.gettext(N_("Next ›")), callback_data=following))
        return text, InlineKeyboardMarkup([buttons]) if buttons else None

    async def feed_list_button(self, update: Update, after: int) -> None:
        """A ``/feed list`` button: the page it asks for, in place of the one shown."""
        query = update.callback_query
        assert query is not None
        message = query.message
        if not isinstance(message, Message) or message.chat.type != ChatType.PRIVATE:
            await query.answer((await self.speech(update)).gettext(STALE_BUTTON))
            return
        self.service.require_admin(self.actor(update), N_("manage feeds"))
        feeds = self.service.feeds
        if feeds is None:
            raise InvalidInput(NO_FEEDS)
        text, markup = await self.feed_list_page(feeds, after, (await self.speech(update)).tr)
        await query.answer()
        rendered = plain(text)
        try:
            await message.edit_text(
                rendered.text,
                entities=rendered.entities,
                link_preview_options=NO_PREVIEW,
                reply_markup=markup,
            )
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                raise
