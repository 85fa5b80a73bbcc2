"""The core's feed rules with a scripted FeedSource, the real service and real SQLite files:
identity and exactly once, backfill, edits and their pace, schedules, backoff, deactivation."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from newsbot import (
    Actor,
    ArticleId,
    DeliveryOp,
    DestinationKind,
    NewDestination,
    NewsService,
    Platform,
    StorageError,
)
from newsbot.errors import FeedError, InvalidInput, PermissionDenied
from newsbot.feeds import (
    PUBLISH_MAX,
    FeedPoller,
    FeedService,
    PollResult,
    parse_interval,
)
from newsbot.models import Feed, FeedEntry, FeedId, FeedItem, Fetched, NewFeed
from newsbot.polling import next_slot
from storage import SqliteStore
from tests.conftest import ADMIN, READER, FakeClock
from tests.fakes.wait import wait_for

URL = "https://site.example/feed"
OPERATOR = Actor.operator()


def entry(n: int, body: str = "", **kw: Any) -> FeedEntry:
    return FeedEntry(
        guid=kw.pop("guid", f"post-{n}"),
        link=kw.pop("link", f"https://site.example/posts/{n}"),
        title=kw.pop("title", f"Post {n}"),
        body=body or f"Body of post {n}.",
        published=kw.pop("published", datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n)),
        **kw,
    )


def newest_first(*numbers: int) -> list[FeedEntry]:
    return [entry(n) for n in sorted(numbers, reverse=True)]


class ScriptedSource:
    """A FeedSource whose answers the test sets per URL; answers 304 to a matching ETag."""

    def __init__(self) -> None:
        self.answers: dict[str, Fetched | BaseException | asyncio.Event] = {}
        self.calls: list[tuple[str, str | None]] = []
        self.version = 0

    def serve(self, url: str, entries: Sequence[FeedEntry], **kw: Any) -> None:
        self.version += 1
        kw.setdefault("etag", f'"v{self.version}"')
        kw.setdefault("title", "The Site")
        self.answers[url] = Fetched(200, url, entries=tuple(entries), **kw)

    def status(self, url: str, status: int, **kw: Any) -> None:
        self.answers[url] = Fetched(status, url, **kw)

    async def fetch(self, url: str, *, etag: str | None, last_modified: str | None) -> Fetched:
        self.calls.append((url, etag))
        answer = self.answers[url]
        if isinstance(answer, asyncio.Event):
            await answer.wait()
            raise FeedError("the test released a hanging fetch")
        if isinstance(answer, BaseException):
            raise answer
        if answer.status == 200 and etag is not None and etag == answer.etag:
            return Fetched(304, url, etag=etag)
        return answer

    async def close(self) -> None:
        return None


@pytest.fixture
def source() -> ScriptedSource:
    return ScriptedSource()


@pytest.fixture
def news(store: SqliteStore, clock: FakeClock) -> NewsService:
    return NewsService(store, admins={Platform.TELEGRAM: {"42"}}, clock=clock)


@pytest.fixture
def feeds(news: NewsService, source: ScriptedSource) -> FeedService:
    return FeedService(news, source, random=lambda: 0.5)


async def add(
    feeds: FeedService, source: ScriptedSource, entries: Sequence[FeedEntry], **kw: Any
) -> Feed:
    source.serve(kw.pop("url", URL), entries)
    feed, result = await feeds.add(OPERATOR, NewFeed(URL, **kw))
    assert result is not None
    return feed


async def poll(feeds: FeedService, clock: FakeClock, seconds: float = 600) -> PollResult:
    clock.advance(seconds)
    return await feeds.poll(await feeds.find(URL))


async def titles(store: SqliteStore) -> list[str]:
    return [a.title for a in reversed(await store.latest_articles(100, None))]


# -- exactly once ---------------------------------------------------------------------------


async def test_adding_a_feed_publishes_nothing_old(
    feeds: FeedService, source: ScriptedSource, store: SqliteStore
) -> None:
    feed = await add(feeds, source, newest_first(1, 2, 3, 4, 5))
    assert await titles(store) == []
    assert feed.items_seen == 5
    listed = await feeds.feeds()
    assert listed[0].items_seen == 5 and listed[0].title == "The Site"
    assert listed[0].last_success_at is not None and listed[0].last_status == 200


async def test_backfill_publishes_the_newest_oldest_first(
    feeds: FeedService, source: ScriptedSource, store: SqliteStore
) -> None:
    # Document order says nothing here: dates decide which are newest.
    await add(feeds, source, [entry(3), entry(1), entry(5), entry(2), entry(4)], backfill=2)
    assert await titles(store) == ["Post 4", "Post 5"]


async def test_a_new_item_is_published_once_whatever_the_order_and_restarts(
    feeds: FeedService, source: ScriptedSource, store: SqliteStore, db_path: Path, clock: FakeClock
) -> None:
    await add(feeds, source, newest_first(1, 2, 3))
    source.serve(URL, newest_first(1, 2, 3, 4))
    result = await poll(feeds, clock)
    assert (result.published, result.status) == (1, 200)
    assert await titles(store) == ["Post 4"]
    source.serve(URL, [entry(2), entry(4), entry(1), entry(3)])  # re-ordered
    assert (await poll(feeds, clock)).published == 0
    source.serve(URL, newest_first(3, 4))  # older ones dropped off the feed
    assert (await poll(feeds, clock)).published == 0
    # A restart: a fresh store and service on the same file.
    async with SqliteStore(db_path) as again:
        other = FeedService(NewsService(again, clock=clock), source)
        source.serve(URL, newest_first(1, 2, 3, 4))
        assert (await other.poll((await other.feeds())[0])).published == 0
    assert await titles(store) == ["Post 4"]


class CrashingStore:
    """The real store, except that recording items fails once: the crash between publishing
    an item and recording it (the process dies there; here the poll raises)."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.crash = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def save_feed_items(self, items: Sequence[FeedItem]) -> None:
        if self.crash and any(i.article_id is not None for i in items):
            self.crash = False
            raise StorageError("disk I/O error (injected)")
        await self.inner.save_feed_items(items)


async def test_a_crash_between_publishing_and_recording_publishes_nothing_twice(
    store: SqliteStore, source: ScriptedSource, clock: FakeClock
) -> None:
    crashing = CrashingStore(store)
    service = NewsService(crashing, clock=clock)
    feeds = FeedService(service, source)
    await add(feeds, source, newest_first(1))
    source.serve(URL, newest_first(1, 2, 3))
    crashing.crash = True
    with pytest.raises(StorageError):
        await poll(feeds, clock)
    assert await titles(store) == ["Post 2"]  # published, but never recorded
    result = await poll(feeds, clock, 1)
    assert result.published == 2  # Post 2 comes back as the same article; Post 3 is new
    assert await titles(store) == ["Post 2", "Post 3"]
    items = await store.feed_items((await feeds.feeds())[0].id, _keys(newest_first(2, 3)))
    assert sorted(a for i in items.values() if (a := i.article_id)) == [1, 2]


def _keys(entries: Sequence[FeedEntry]) -> list[str]:
    from newsbot.feeds import item_key

    return [item_key(e) for e in entries]


async def test_identity_is_guid_then_link_then_content(
    feeds: FeedService, source: ScriptedSource, store: SqliteStore, clock: FakeClock
) -> None:
    await add(feeds, source, [])
    by_link = entry(1, guid=None)
    by_text = entry(2, guid=None, link=None)
    source.serve(URL, [by_link, by_text])
    assert (await poll(feeds, clock)).published == 2
    # Same link and same text (under another date) are the same items.
    source.serve(
        URL,
        [
            dataclasses.replace(by_link, title="Renamed"),
            dataclasses.replace(by_text, published=None),
        ],
    )
    assert (await poll(feeds, clock)).published == 0
    # The same guid under a new link is the same item too.
    source.serve(URL, [entry(3), dataclasses.replace(entry(3), link="https://site.example/moved")])
    assert (await poll(feeds, clock)).published == 1


async def test_stale_items_and_floods_are_held_back(
    feeds: FeedService, source: ScriptedSource, store: SqliteStore, clock: FakeClock
) -> None:
    clock.current = datetime(2026, 3, 1, tzinfo=UTC)
    await add(feeds, source, [])
    old = entry(1, published=clock.current - timedelta(days=30))
    source.serve(URL, [old])
    result = await poll(feeds, clock)
    assert (result.published, result.recorded) == (0, 1)
    flood = [entry(100 + n, published=clock.current + timedelta(minutes=n)) for n in range(25)]
    source.serve(URL, list(reversed(flood)))
    assert (await poll(feeds, clock)).published == PUBLISH_MAX
    assert (await titles(store))[:2] == ["Post 100", "Post 101"]  # oldest first
    assert (await poll(feeds, clock)).published == 25 - PUBLISH_MAX


# -- edits ----------------------------------------------------------------------------------


async def test_an_edited_item_edits_its_article_at_most_every_ten_minutes(
    feeds: FeedService, source: ScriptedSource, store: SqliteStore, clock: FakeClock
) -> None:
    destination, _ = await store.add_destination(
        NewDestination(Platform.TELEGRAM, "-100", DestinationKind.CHANNEL), clock.now()
    )
    await add(feeds, source, [])
    source.serve(URL, [entry(1)])
    await poll(feeds, clock)
    article_id = ArticleId(1)
    source.serve(URL, [entry(1, "Corrected body.", fingerprint="v2")])
    assert (await poll(feeds, clock, 60)).edited == 1
    article = await store.get_article(article_id)
    assert article is not None and (article.body, article.revision) == ("Corrected body.", 2)
    source.serve(URL, [entry(1, "Corrected again.", fingerprint="v3")])
    assert (await poll(feeds, clock, 120)).edited == 0  # two minutes after the last edit
    assert (await poll(feeds, clock, 300)).edited == 0
    assert (await poll(feeds, clock, 181)).edited == 1  # ten minutes after it
    article = await store.get_article(article_id)
    assert article is not None and (article.body, article.revision) == ("Corrected again.", 3)
    assert (await poll(feeds, clock)).edited == 0  # unchanged since
    # Its post in the channel is queued as an edit (the dispatcher sends it).
    (status,) = await store.deliveries_for_article(article_id)
    assert status.destination.id == destination.id and status.delivery.op is DeliveryOp.POST
    # Gone from the feed: left alone.
    source.serve(URL, [entry(2)])
    await poll(feeds, clock)
    article = await store.get_article(article_id)
    assert article is not None and article.status == "published" and article.revision == 3


async def test_a_retracted_article_is_not_edited_back(
    feeds: FeedService,
    news: NewsService,
    source: ScriptedSource,
    store: SqliteStore,
    clock: FakeClock,
) -> None:
    await add(feeds, source, [])
    source.serve(URL, [entry(1)])
    await poll(feeds, clock)
    await news.retract(OPERATOR, ArticleId(1))
    source.serve(URL, [entry(1, "New text", fingerprint="v2")])
    assert (await poll(feeds, clock)).edited == 0
    article = await store.get_article(ArticleId(1))
    assert article is not None and article.status == "retracted" and article.revision == 1


async def test_a_fingerprint_change_without_a_content_change_edits_nothing(
    feeds: FeedService, source: ScriptedSource, store: SqliteStore, clock: FakeClock
) -> None:
    await add(feeds, source, [])
    source.serve(URL, [entry(1)])
    await poll(feeds, clock)
    source.serve(URL, [entry(1, fingerprint="tracking-param-changed")])
    assert (await poll(feeds, clock)).edited == 0
    article = await store.get_article(ArticleId(1))
    assert article is not None and article.revision == 1


# -- schedules, backoff, deactivation --------------------------------------------------------


async def test_a_poll_answered_304_keeps_the_validators(
    feeds: FeedService, source: ScriptedSource, clock: FakeClock
) -> None:
    feed = await add(feeds, source, [entry(1)])
    result = await poll(feeds, clock)
    assert result.status == 304 and source.calls[-1] == (URL, feed.etag)
    assert result.feed.etag == feed.etag and result.feed.errors == 0


def test_next_polls_keep_their_phase_and_spread_over_the_interval() -> None:
    started = datetime(2026, 3, 1, 12, tzinfo=UTC)
    base = Feed(1, URL, "", (), 600.0, 0, True, started, started)  # type: ignore[arg-type]
    offsets = []
    for feed_id in range(1, 1001):
        due = next_slot(dataclasses.replace(base, id=FeedId(feed_id)), started)
        gap = (due - started).total_seconds()
        assert 300 <= gap <= 900
        offsets.append(due.timestamp() % 600)
        # A poll that started on time keeps its slot exactly one interval later.
        again = dataclasses.replace(base, id=FeedId(feed_id))
        assert next_slot(again, due) == due + timedelta(seconds=600)
        # One that started late (queued behind others) keeps its phase too.
        late = due + timedelta(seconds=250)
        assert next_slot(again, late) == due + timedelta(seconds=600)
    # 1,000 feeds land in every 10-second slice of the interval.
    slices = {int(o // 10) for o in offsets}
    assert slices == set(range(60))
    counts = [sum(1 for o in offsets if int(o // 10) == s) for s in range(60)]
    assert max(counts) <= 2 * statistics.mean(counts)


async def test_max_age_and_retry_after_push_the_next_poll(
    feeds: FeedService, source: ScriptedSource, clock: FakeClock
) -> None:
    await add(feeds, source, [])
    source.serve(URL, [], max_age=7200.0)
    result = await poll(feeds, clock)
    assert result.feed.next_poll_at >= clock.now() + timedelta(seconds=7200)
    source.status(URL, 429, retry_after=5400.0)
    result = await poll(feeds, clock)
    assert result.feed.next_poll_at >= clock.now() + timedelta(seconds=5400)
    assert result.feed.last_error == "HTTP 429" and result.feed.active
    source.status(URL, 503, retry_after=10.0)  # never sooner than the interval
    result = await poll(feeds, clock)
    assert result.feed.next_poll_at >= clock.now() + timedelta(seconds=600)


async def test_failures_back_off_exponentially_with_jitter(
    news: NewsService, source: ScriptedSource, clock: FakeClock
) -> None:
    jitter = itertools.chain([0.0, 0.99, 0.0, 0.5], itertools.repeat(0.0))
    feeds = FeedService(news, source, random=lambda: next(jitter))
    await add(feeds, source, [])
    source.answers[URL] = FeedError("cannot connect: connection refused")
    waits = []
    for _ in range(4):
        result = await poll(feeds, clock, 1)
        waits.append((result.feed.next_poll_at - clock.now()).total_seconds())
        assert result.status is None and "connection refused" in (result.feed.last_error or "")
    assert waits == [600.0, pytest.approx(1200 * 1.495), 2400.0, 4800 * 1.25]
    assert (await feeds.feeds())[0].errors == 4
    for _ in range(12):
        result = await poll(feeds, clock, 1)
    assert (result.feed.next_poll_at - clock.now()).total_seconds() <= 6 * 3600 * 1.5
    source.serve(URL, [])
    result = await poll(feeds, clock, 1)
    assert (result.feed.errors, result.feed.last_error) == (0, None)


async def test_410_or_three_404s_deactivate_the_feed(
    feeds: FeedService, source: ScriptedSource, clock: FakeClock
) -> None:
    await add(feeds, source, [])
    source.status(URL, 500)
    await poll(feeds, clock)
    source.status(URL, 404)  # a failure before the 404s does not count as one of them
    for _ in range(2):
        assert (await poll(feeds, clock)).feed.active
    result = await poll(feeds, clock)
    assert not result.feed.active
    assert result.feed.deactivated_reason == "not found (HTTP 404) on 3 polls in a row"
    # Adding it again reactivates it, as a new feed: nothing old is published.
    source.serve(URL, newest_first(1, 2))
    feed, first = await feeds.add(OPERATOR, NewFeed(URL))
    assert feed.active and first is not None and first.published == 0
    source.status(URL, 410)
    result = await poll(feeds, clock)
    assert not result.feed.active and "410" in (result.feed.deactivated_reason or "")


async def test_a_permanent_move_updates_the_address(
    feeds: FeedService, source: ScriptedSource, clock: FakeClock
) -> None:
    await add(feeds, source, [entry(1)])
    new = "https://site.example/new-feed"
    source.answers[URL] = Fetched(200, new, moved_to=new, entries=(entry(1),))
    result = await poll(feeds, clock)
    assert result.feed.url == new and (await feeds.find(new)).id == result.feed.id


# -- managing feeds -------------------------------------------------------------------------


async def test_only_admins_manage_feeds_and_inputs_are_checked(
    feeds: FeedService, source: ScriptedSource, store: SqliteStore
) -> None:
    source.serve(URL, [])
    reader = Actor(Platform.TELEGRAM, str(READER.user_id), "Rita")
    with pytest.raises(PermissionDenied, match="add feeds"):
        await feeds.add(reader, NewFeed(URL))
    admin = Actor(Platform.TELEGRAM, ADMIN.user_id, "Ada")
    for bad in ("file:///etc/passwd", "javascript:alert(1)", "site.example/feed", "http://", ""):
        with pytest.raises(InvalidInput, match="http or https"):
            await feeds.add(admin, NewFeed(bad))
    with pytest.raises(InvalidInput, match="every 1 minute"):
        await feeds.add(admin, NewFeed(URL, interval=30))
    with pytest.raises(InvalidInput, match="Backfill"):
        await feeds.add(admin, NewFeed(URL, backfill=51))
    with pytest.raises(InvalidInput, match="Tags"):
        await feeds.add(admin, NewFeed(URL, tags=("no spaces allowed",)))
    source.status("https://site.example/missing", 404)
    with pytest.raises(InvalidInput, match="answered HTTP 404; no feed was added"):
        await feeds.add(admin, NewFeed("https://site.example/missing"))
    source.answers["https://site.example/page"] = FeedError("not a feed (no RSS or Atom found)")
    with pytest.raises(InvalidInput, match=r"Could not read a feed .*not a feed"):
        await feeds.add(admin, NewFeed("https://site.example/page"))
    assert await feeds.feeds() == []
    feed, first = await feeds.add(admin, NewFeed(URL, tags=("#Local",)))
    assert first is not None and feed.tags == ("local",)
    again, none = await feeds.add(admin, NewFeed(URL))
    assert none is None and again.id == feed.id
    with pytest.raises(PermissionDenied):
        await feeds.remove(reader, URL)
    with pytest.raises(PermissionDenied):
        await feeds.poll_now(reader, URL)
    assert (await feeds.remove(admin, URL)).id == feed.id
    assert await feeds.feeds() == []


def test_intervals_are_read_with_units() -> None:
    assert [parse_interval(v) for v in ("90", "90s", "10m", "1.5h", "1d", " 2M ")] == [
        90,
        90,
        600,
        5400,
        86400,
        120,
    ]
    for bad in ("", "ten minutes", "5w", "-1m"):
        with pytest.raises(InvalidInput, match="not a duration"):
            parse_interval(bad)


async def test_feed_tags_reach_tag_filtered_destinations(
    feeds: FeedService, source: ScriptedSource, store: SqliteStore, clock: FakeClock
) -> None:
    sport, _ = await store.add_destination(
        NewDestination(Platform.TELEGRAM, "-1", DestinationKind.CHANNEL, tags=("sport",)),
        clock.now(),
    )
    weather, _ = await store.add_destination(
        NewDestination(Platform.TELEGRAM, "-2", DestinationKind.CHANNEL, tags=("weather",)),
        clock.now(),
    )
    await add(feeds, source, [], tags=("sport",))
    source.serve(URL, [entry(1, categories=("Football", "Weather"))])
    await poll(feeds, clock)
    article = await store.get_article(ArticleId(1))
    assert article is not None and article.tags == ("sport", "football", "weather")
    assert {s.destination.id for s in await store.deliveries_for_article(article.id)} == {
        sport.id,
        weather.id,
    }
    assert article.author.name == "The Site" and article.author.user_id.startswith("feed:")


# -- the poller -----------------------------------------------------------------------------


@pytest.fixture
def fast(news: NewsService, source: ScriptedSource) -> FeedService:
    return FeedService(news, source, min_interval=0.2, poll_timeout=5.0)


async def test_the_poller_polls_due_feeds_and_a_hanging_one_delays_no_other(
    fast: FeedService, source: ScriptedSource, store: SqliteStore, clock: FakeClock
) -> None:
    clock.current = datetime.now(UTC)
    hang = asyncio.Event()
    for n in range(6):
        url = f"https://site{n}.example/feed"
        source.serve(url, [])
        await fast.add(OPERATOR, NewFeed(url, interval=0.2))
    source.answers["https://site0.example/feed"] = hang
    poller = FeedPoller(fast, concurrency=2, refresh=0.1)

    class Clock:
        def now(self) -> datetime:
            return datetime.now(UTC)

    cast(NewsService, fast.service).clock = Clock()  # the protocol shows clock read-only
    await poller.start()
    try:
        for n in range(1, 6):
            fresh = entry(n, guid=f"s{n}", published=datetime.now(UTC))
            source.serve(f"https://site{n}.example/feed", [fresh])
        await wait_for(lambda: poller.polls >= 15, 10, "15 polls despite a hanging feed")
        published = await titles(store)
        assert sorted(published) == [f"Post {n}" for n in range(1, 6)]
        assert len(poller._running) <= 2
    finally:
        hang.set()
        await poller.stop()


async def test_the_poller_stops_when_the_role_is_lost(
    news: NewsService, source: ScriptedSource, store: SqliteStore
) -> None:
    class Clock:
        def now(self) -> datetime:
            return datetime.now(UTC)

    news.clock = Clock()
    holding = True
    feeds = FeedService(news, source, min_interval=0.1, may_poll=lambda: holding)
    source.serve(URL, [])
    await feeds.add(OPERATOR, NewFeed(URL, interval=0.1))
    poller = FeedPoller(feeds, refresh=0.05)
    await poller.start()
    try:
        source.serve(URL, [entry(1, published=None)])
        await wait_for(lambda: len(source.calls) >= 3, 5, "polls while holding the role")
        holding = False
        await asyncio.sleep(0)  # the flag is read before each poll
        calls = len(source.calls)
        started = time.monotonic()
        while time.monotonic() - started < 0.5:
            await asyncio.sleep(0.05)
        assert len(source.calls) <= calls + 1
    finally:
        await poller.stop()
    assert await titles(store) == ["Post 1"]
