"""Feeds end to end: a local site's feed, the real HTTP source and poller, the real Telegram
and Discord clients against their fakes. A new item reaches every subscribed chat once, an
edited item edits the posts, /feed works for admins only, and a process killed in the middle
of a poll publishes nothing twice."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.feeds import HttpFeedSource
from newsbot import Actor, DestinationKind, NewDestination, NewsService, Platform
from newsbot.feeds import FeedPoller, FeedService
from newsbot.models import NewFeed
from tests.adapters.cli.test_cli import BOT, clean_env
from tests.adapters.discord.test_discord_e2e import (  # noqa: F401  # the fixtures
    fake,
    make_world,
)
from tests.discord_helpers import LISTED_ADMIN, WorldFactory
from tests.discord_helpers import World as DiscordWorld
from tests.fakes.feeds import FeedSite, Item, items
from tests.fakes.wait import wait_for
from tests.telegram_helpers import (
    ADMIN,
    CHANNEL_A,
    CHANNEL_B,
    READER,
    World,
    world,  # noqa: F401  # the fixture
)

PRIVATE_ADMIN = ADMIN  # a private chat's id is its user's id


@pytest.fixture
async def site() -> AsyncIterator[FeedSite]:
    async with FeedSite() as s:
        yield s


def attach_feeds(service: NewsService, **options: Any) -> FeedService:
    options.setdefault("min_interval", 0.2)
    options.setdefault("edit_pace", 0.0)
    feeds = FeedService(service, HttpFeedSource(allow_private=True, timeout=5.0), **options)
    service.feeds = feeds
    return feeds


def posts(tg: World, chat: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in tg.bot_messages(chat)]


# -- Telegram -----------------------------------------------------------------------------


async def test_telegram_admin_follows_a_feed_and_every_channel_gets_each_item_once(
    world: World,  # noqa: F811
    site: FeedSite,
) -> None:
    feeds = attach_feeds(world.service)
    await world.start()
    for channel in (CHANNEL_A, CHANNEL_B):
        await world.service.subscribe(
            Actor.operator(),
            NewDestination(Platform.TELEGRAM, str(channel), DestinationKind.CHANNEL),
        )
    entries = items(3)
    site.feed("/feed", "Valley News", entries)
    url = site.url("/feed")
    try:
        answer = await world.say(PRIVATE_ADMIN, ADMIN, f"/feed add {url} #local")
        assert answer["text"].startswith(f"Following {url} (Valley News)")
        assert "3 already there were recorded as seen" in answer["text"]
        refused = await world.say(READER, READER, "/feed list")
        assert "Only newsbot admins can manage feeds" in refused["text"]

        fresh = Item("new-1", "Bridge opens <today>", "<p>The <b>bridge</b> is open.</p>")
        site.feed("/feed", "Valley News", [fresh, *entries])
        answer = await world.say(PRIVATE_ADMIN, ADMIN, f"/feed poll {url}")
        assert "1 published" in answer["text"]
        await world.drain()
        for channel in (CHANNEL_A, CHANNEL_B):
            texts = posts(world, channel)
            assert len(texts) == 1 and "Bridge opens <today>" in texts[0]
            assert "bridge is open" in texts[0]
        # Polled again (and re-ordered): nothing new is posted.
        site.feed("/feed", "Valley News", [*entries, fresh])
        answer = await world.say(PRIVATE_ADMIN, ADMIN, f"/feed poll {url}")
        assert "0 published" in answer["text"]

        # The site edits the item: every post is edited.
        edited = Item("new-1", "Bridge opens today", "<p>The bridge opened at noon.</p>")
        site.feed("/feed", "Valley News", [edited, *entries])
        answer = await world.say(PRIVATE_ADMIN, ADMIN, f"/feed poll {url}")
        assert "1 edited" in answer["text"]
        await world.drain()
        for channel in (CHANNEL_A, CHANNEL_B):
            (message,) = world.bot_messages(channel)
            assert "opened at noon" in message["text"] and "edit_date" in message

        listing = await world.say(PRIVATE_ADMIN, ADMIN, "/feed list")
        assert url in listing["text"] and "4 items seen" in listing["text"]
        assert "HTTP 200" in listing["text"] and "Valley News" in listing["text"]
        article = (await world.service.latest(1)).articles[0]
        assert article.tags == ("local",)
        gone = await world.say(PRIVATE_ADMIN, ADMIN, f"/feed remove {url}")
        assert gone["text"] == f"No longer following {url}; its articles stay."
        usage = await world.say(PRIVATE_ADMIN, ADMIN, "/feed")
        assert usage["text"].startswith("Usage: /feed add URL")
    finally:
        await feeds.source.close()


# -- Discord ------------------------------------------------------------------------------


async def slash(dc: DiscordWorld, user: int, **options: Any) -> str:
    """Run ``/feed`` and return what the user sees (a deferred answer's replacement)."""
    payload = await dc.fake.slash_command(dc.guild, dc.text, user, "feed", options)
    answer = await dc.fake.wait_for_answer(payload["id"], 20)
    return str(answer["data"].get("content") or "")


async def test_discord_feed_commands_and_the_poller_post_new_items_once(
    make_world: WorldFactory,  # noqa: F811
    site: FeedSite,
) -> None:
    world = await make_world()  # noqa: F811  # the Telegram fixture's name, not used here
    feeds = attach_feeds(world.service)
    await world.subscribe(world.text)
    await world.subscribe(world.news, DestinationKind.ANNOUNCEMENT)
    entries = items(2)
    site.feed("/feed", "Harbour *Ledger*", entries)
    url = site.url("/feed")
    poller = FeedPoller(feeds, refresh=0.1)
    await poller.start()
    try:
        refused = await slash(world, world.reader, list={})
        assert "Only newsbot admins can manage feeds" in refused
        added = await slash(world, LISTED_ADMIN, add={"url": url, "every": "1s", "backfill": 1})
        assert f"Following <{url}>" in added and "Harbour \\*Ledger\\*" in added
        assert "1 published now, 1 recorded as seen" in added
        fresh = Item("d-1", "Ferry @everyone strike", "<p>No ferries on Friday.</p>")
        site.feed("/feed", "Harbour *Ledger*", [fresh, *entries])
        await wait_for(
            lambda: all(len(world.bot_messages(c)) == 2 for c in (world.text, world.news)),
            20,
            "the backfilled item and the new one in both channels",
        )
        await world.dispatcher.drain()
        for channel in (world.text, world.news):
            messages = world.bot_messages(channel)
            titles = [m["embeds"][0]["title"] for m in messages]
            assert titles == ["Item 1", "Ferry @\u200beveryone strike"]  # mention defused
        # The poller goes on polling (ETag: 304s) and posts nothing more.
        polls = poller.polls
        await wait_for(lambda: poller.polls >= polls + 3, 10, "three more polls")
        await world.dispatcher.drain()
        assert all(len(world.bot_messages(c)) == 2 for c in (world.text, world.news))
        listed = await slash(world, LISTED_ADMIN, list={})
        assert url in listed and "3 items seen" in listed
        polled = await slash(world, LISTED_ADMIN, poll={"url": url})
        assert "(HTTP 304): 0 published" in polled
        removed = await slash(world, LISTED_ADMIN, remove={"url": url})
        assert "No longer following" in removed
    finally:
        await poller.stop()
        await feeds.source.close()
    names = {c["name"] for c in world.fake.commands}
    assert "feed" in names


# -- a restart in the middle of a poll -----------------------------------------------------


async def _articles(db: Path) -> list[str]:
    def read() -> list[str]:
        with sqlite3.connect(db, timeout=5) as conn:
            return [r[0] for r in conn.execute("SELECT title FROM articles ORDER BY id")]

    try:
        return await asyncio.to_thread(read)
    except sqlite3.OperationalError:
        return []


async def test_a_poll_killed_midway_publishes_nothing_twice(
    world: World,  # noqa: F811
    site: FeedSite,
    tmp_path: Path,
) -> None:
    db = world.db_path
    env = clean_env(tmp_path, NEWSBOT_DATABASE=str(db), NEWSBOT_FEEDS_ALLOW_PRIVATE="true")
    for channel in (CHANNEL_A, CHANNEL_B):
        await world.service.subscribe(
            Actor.operator(),
            NewDestination(Platform.TELEGRAM, str(channel), DestinationKind.CHANNEL),
        )
    entries = items(2)
    site.feed("/feed", "Site", entries)
    url = site.url("/feed")
    feeds = attach_feeds(world.service)
    await feeds.add(Actor.operator(), NewFeed(url))
    await feeds.source.close()

    async def poll_in_a_child(kill_midway: bool) -> bool:
        before = len(await _articles(db))
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(BOT),
            "feed",
            "poll",
            url,
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        if not kill_midway:
            assert await asyncio.wait_for(child.wait(), 60) == 0
            return False
        done = child.wait()
        while child.returncode is None and len(await _articles(db)) == before:
            await asyncio.sleep(0.005)
        if child.returncode is None:
            child.send_signal(signal.SIGKILL)
        await done
        return 0 < len(await _articles(db)) - before < 20

    midway = 0
    batch = 0
    while midway == 0 and batch < 5:
        batch += 1
        new = [Item(f"b{batch}-{n}", f"Batch {batch} item {n}") for n in range(20)]
        site.feed("/feed", "Site", [*new, *entries])
        midway += await poll_in_a_child(kill_midway=True)
        await poll_in_a_child(kill_midway=False)  # the restart: the same poll, redone
    assert midway, "no kill landed in the middle of a poll"
    titles = await _articles(db)
    assert len(titles) == len(set(titles)) == 20 * batch

    await world.start()
    await world.drain()
    for channel in (CHANNEL_A, CHANNEL_B):
        texts = posts(world, channel)
        assert len(texts) == 20 * batch
        assert sorted(t.splitlines()[0] for t in texts) == sorted(titles)
