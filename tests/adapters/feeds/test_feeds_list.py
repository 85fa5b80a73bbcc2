"""``/feed list`` with many feeds (issue 23): it says how many there are and pages with
buttons on Telegram and Discord, every feed shown once, every page within the platform's
limit. The real clients against their fakes; the feeds are stored directly (no fetching)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

from adapters.telegram.handlers import STALE_BUTTON
from newsbot import NewsService
from newsbot.feeds import FeedPage, feed_page
from newsbot.models import Feed, FeedId, NewFeed
from newsbot.text import utf16_len
from tests.adapters.discord.test_discord_e2e import (  # noqa: F401  # the fixtures
    fake,
    make_world,
)
from tests.adapters.feeds.test_feeds_e2e import attach_feeds
from tests.discord_helpers import LISTED_ADMIN, WorldFactory, ephemeral
from tests.fakes.wait import wait_for
from tests.telegram_helpers import (
    ADMIN,
    READER,
    World,
    world,  # noqa: F401  # the fixture
)

T0 = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
COUNT = 30
_HEADING = re.compile(r"^(?:Feeds (\d+)–(\d+) of (\d+)|Feed (\d+) of (\d+)):")


def url(n: int) -> str:
    return f"https://feed{n:02d}.example/{'section/' * (n % 4)}rss"


async def many_feeds(service: NewsService, count: int = COUNT) -> list[str]:
    """``count`` feeds with titles and errors of uneven lengths (feeds 10 to 16 with errors of
    500 characters), so that pages hold different numbers of feeds."""
    urls = []
    for n in range(count):
        feed, _ = await service.store.add_feed(NewFeed(url(n)), T0)
        error = "HTTP 503 <Service Unavailable> & retry " * (14 if 10 <= n < 17 else n % 3)
        await service.store.save_feed(
            dataclasses.replace(feed, title=f"Site *{n}* @everyone", last_error=error[:500])
        )
        urls.append(url(n))
    return urls


def shown(text: str) -> list[str]:
    return [u for u in (url(n) for n in range(COUNT)) if f"{u} (" in text]


def heading(text: str) -> tuple[int, int, int]:
    match = _HEADING.match(text)
    assert match is not None, text[:80]
    first, last, total, one, of = match.groups()
    return (int(first), int(last), int(total)) if first else (int(one), int(one), int(of))


def test_pages_by_id_fit_the_budget_and_say_where_they_are() -> None:
    now = T0
    feeds = [
        Feed(FeedId(i), f"https://f{i}.example/" + "x" * (3000 if i == 4 else 0), "", (),
             600.0, 0, True, now, now)
        for i in (1, 2, 3, 4, 5)
    ]  # fmt: skip
    page = feed_page(feeds, budget=400, per_page=2)
    assert (page.first, page.total, page.next_after, page.heading) == (1, 5, 2, "Feeds 1–2 of 5")
    page = feed_page(feeds, 3, budget=400)  # the 3,000-character line alone, cut
    assert (page.first, len(page.lines), page.next_after) == (4, 1, 4)
    assert utf16_len(page.lines[0]) <= 400 and page.lines[0].endswith("…")
    assert page.heading == "Feed 4 of 5"
    page = feed_page(feeds, 4, budget=400)
    assert (page.first, len(page.lines), page.next_after) == (5, 1, None)
    assert feed_page(feeds[:3], budget=4000).heading == "3 feeds"
    assert feed_page(feeds, 99, budget=400) == FeedPage((), 0, 5, None)
    assert feed_page([], budget=400).heading == "No feeds yet."


async def test_telegram_feed_list_says_how_many_and_pages_with_buttons(
    world: World,  # noqa: F811
) -> None:
    attach_feeds(world.service)
    await world.start()
    urls = await many_feeds(world.service)
    answer = await world.say(ADMIN, ADMIN, "/feed list")
    message_id = answer["message_id"]
    seen: list[str] = []
    pages = 0
    text = answer["text"]
    while True:
        pages += 1
        first, last, total = heading(text)
        assert total == COUNT and first == len(seen) + 1
        on_page = shown(text)
        assert len(on_page) == last - first + 1
        assert utf16_len(text) <= 4096 and "@everyone" in text  # plain text: sent as written
        seen += on_page
        buttons = {
            b["text"]: b["callback_data"]
            for b in (world.tg.message(ADMIN, message_id) or {})["reply_markup"][
                "inline_keyboard"
            ][0]
        }
        assert ("« First" in buttons) == (pages > 1)
        if last == COUNT:
            assert "Next ›" not in buttons
            break
        world.tg.callback_press(ADMIN, message_id, ADMIN, buttons["Next ›"])
        before = text

        def turned(before: str = before) -> bool:
            message = world.tg.message(ADMIN, message_id)
            return message is not None and message["text"] != before

        await wait_for(turned, 10, f"page {pages + 1}")
        text = (world.tg.message(ADMIN, message_id) or {})["text"]
    assert seen == urls and pages >= 3

    world.tg.callback_press(ADMIN, message_id, ADMIN, "fl:0")
    await wait_for(
        lambda: (world.tg.message(ADMIN, message_id) or {})["text"] == answer["text"],
        10,
        "the first page again",
    )


async def test_telegram_feed_list_buttons_are_for_admins_in_private_chats(
    world: World,  # noqa: F811
) -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    attach_feeds(world.service)
    adapter = await world.start()
    await many_feeds(world.service, 3)
    refused = await world.say(READER, READER, "/feed list")
    assert "Only newsbot admins can manage feeds" in refused["text"]
    assert "reply_markup" not in refused
    # A reader holding a page's button (forwarded, or data made up by a client) gets nothing.
    forged = InlineKeyboardMarkup([[InlineKeyboardButton("Next ›", callback_data="fl:0")]])
    page = await adapter.application.bot.send_message(READER, "a page", reply_markup=forged)
    world.tg.callback_press(READER, page.message_id, READER, "fl:0")
    await wait_for(lambda: bool(world.tg.callback_answers), 10, "the answer")
    assert "Only newsbot admins can manage feeds" in world.tg.callback_answers[-1]["text"]
    assert (world.tg.message(READER, page.message_id) or {})["text"] == "a page"
    # An admin's button on a message in a group shows no feed list there.
    group = -1001234567890
    world.tg.add_chat(group, "supergroup", "Readers", bot_is_admin=True)
    post = await adapter.application.bot.send_message(group, "a page", reply_markup=forged)
    answers = len(world.tg.callback_answers)
    world.tg.callback_press(group, post.message_id, ADMIN, "fl:0")
    await wait_for(lambda: len(world.tg.callback_answers) > answers, 10, "the answer")
    assert world.tg.callback_answers[-1]["text"] == STALE_BUTTON
    assert (world.tg.message(group, post.message_id) or {})["text"] == "a page"


async def test_discord_feed_list_says_how_many_and_pages_with_buttons(
    make_world: WorldFactory,  # noqa: F811
) -> None:
    world = await make_world()  # noqa: F811  # the Telegram fixture's name, not used here
    attach_feeds(world.service)
    urls = await many_feeds(world.service)

    async def listed(payload: dict[str, Any], *, update: bool) -> str:
        response = await world.fake.wait_for_response(payload["id"])
        assert response["type"] == (7 if update else 4) and (update or ephemeral(response))
        return str(response["data"]["content"])

    payload = await world.fake.slash_command(
        world.guild, world.text, LISTED_ADMIN, "feed", {"list": {}}
    )
    text = await listed(payload, update=False)
    message_id = world.fake.interactions[int(payload["id"])].original_message_id
    assert message_id is not None
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        first, last, total = heading(text)
        assert total == COUNT and first == len(seen) + 1
        assert len(text) <= 2000 and "\\*" in text and "@\u200beveryone" in text
        on_page = shown(text)
        assert len(on_page) == last - first + 1
        seen += on_page
        if last == COUNT:
            break
        pressed = await world.fake.press_button(
            world.guild, world.text, LISTED_ADMIN, message_id, "newsbot:feeds:next"
        )
        text = await listed(pressed, update=True)
    assert seen == urls and pages >= 3
    pressed = await world.fake.press_button(
        world.guild, world.text, LISTED_ADMIN, message_id, "newsbot:feeds:previous"
    )
    assert heading(await listed(pressed, update=True))[1] < COUNT
