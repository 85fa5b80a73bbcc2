"""Several workers on one database: one at a time polls the feeds (the ``poll:feeds`` role),
and another takes over when it stops, publishing nothing twice."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import Settings, build_service, serve
from newsbot import Actor
from newsbot.models import NewFeed
from newsbot.supervision import FEEDS_ROLE
from storage import SqliteStore
from tests.fakes.feeds import FeedSite, Item, items
from tests.fakes.wait import wait_for


@pytest.fixture
async def site() -> AsyncIterator[FeedSite]:
    async with FeedSite() as s:
        yield s


def settings(tmp_path: Path, worker: str) -> Settings:
    return Settings(
        database=tmp_path / "workers.db",
        web=False,
        feeds_allow_private=True,
        worker_id=worker,
        role_lease=3.0,
        _env_file=None,
    )


async def holder(store: SqliteStore) -> str | None:
    now = datetime.now(UTC)
    for lease in await store.list_roles():
        if lease.role == FEEDS_ROLE and lease.lease_until > now:
            return lease.holder
    return None


async def make_due(store: SqliteStore) -> None:
    (feed,) = await store.list_feeds()
    await store.save_feed(dataclasses.replace(feed, next_poll_at=datetime.now(UTC)))


async def test_one_worker_polls_and_the_other_takes_over(site: FeedSite, tmp_path: Path) -> None:
    entries = items(2)
    site.feed("/feed", "Site", entries)
    async with SqliteStore(tmp_path / "workers.db") as store:
        service = build_service(settings(tmp_path, "cli"), store)
        assert service.feeds is not None
        await service.feeds.add(Actor.operator(), NewFeed(site.url("/feed")))
        await service.feeds.source.close()

        stops = {"a": asyncio.Event(), "b": asyncio.Event()}
        tasks = {w: asyncio.create_task(serve(settings(tmp_path, w), stops[w])) for w in stops}
        try:
            await wait_for(lambda: holder(store), 60, "a worker to take poll:feeds")
            first = await holder(store)
            assert first in stops
            site.feed("/feed", "Site", [Item("one", "First new", "<p>1</p>"), *entries])
            await make_due(store)
            await wait_for(
                lambda: _titles(store, "First new"), 60, "the first new item to be published"
            )
            stops[first].set()
            await tasks[first]
            other = "b" if first == "a" else "a"
            await wait_for(
                lambda: _held_by(store, other), 60, "the other worker to take poll:feeds"
            )
            # The first worker may have been stopped after publishing and before saving the
            # feed's next poll: then the other polls it at once, and that poll's save must
            # not land after make_due below (it would put the next poll 10 minutes away).
            await wait_for(lambda: _no_poll_due(store), 60, "the feed's next poll saved")
            site.feed("/feed", "Site", [Item("two", "Second new", "<p>2</p>"), *entries])
            await make_due(store)
            await wait_for(
                lambda: _titles(store, "Second new"), 60, "the second item, polled by the other"
            )
        finally:
            for stop in stops.values():
                stop.set()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
        titles = [a.title for a in await store.latest_articles(50, None)]
        assert sorted(titles) == ["First new", "Second new"]


async def _titles(store: SqliteStore, title: str) -> bool:
    return title in [a.title for a in await store.latest_articles(50, None)]


async def _held_by(store: SqliteStore, worker: str) -> bool:
    return await holder(store) == worker


async def _no_poll_due(store: SqliteStore) -> bool:
    (feed,) = await store.list_feeds()
    return feed.next_poll_at > datetime.now(UTC)
