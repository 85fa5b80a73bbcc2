"""A feed cut off mid-transfer (issue 23): what arrived of it publishes nothing new and edits
nothing; the poll fails with its backoff, and the next whole answer is read as usual. Served by
a local site (the real publishers' files of ../shared/feeds where they are needed), polled by
the real HTTP source, FeedService and SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from adapters.feeds import HttpFeedSource, parse_feed
from newsbot import Actor, NewsService
from newsbot.errors import FeedError
from newsbot.feeds import FeedService, PollResult
from newsbot.models import NewFeed
from storage import SqliteStore
from tests.fakes.feeds import FeedSite, Item, items, rss

REAL = Path(__file__).resolve().parents[4] / "shared" / "feeds"
real_feeds = pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} is absent")
CUT = "did not arrive whole"


@pytest.fixture
async def site() -> AsyncIterator[FeedSite]:
    async with FeedSite() as s:
        yield s


@pytest.fixture
async def feeds(store: SqliteStore) -> AsyncIterator[FeedService]:
    source = HttpFeedSource(allow_private=True, timeout=10.0)
    try:
        yield FeedService(NewsService(store), source, min_interval=1.0, edit_pace=0.0)
    finally:
        await source.close()


async def poll(feeds: FeedService, url: str) -> PollResult:
    return await feeds.poll(await feeds.find(url))


async def titles(feeds: FeedService) -> list[str]:
    service = cast(NewsService, feeds.service)  # the use cases behind it are a NewsService
    return sorted(a.title for a in (await service.latest(50)).articles)


def assert_failed_with_backoff(result: PollResult) -> None:
    assert (result.published, result.edited, result.recorded) == (0, 0, 0)
    assert result.error is not None and CUT in result.error, result.error
    assert result.feed.errors == 1 and result.feed.last_poll_at is not None
    wait = (result.feed.next_poll_at - result.feed.last_poll_at).total_seconds()
    assert wait >= result.feed.interval


@pytest.mark.parametrize("declared", [True, False], ids=["connection-dropped", "proxy-cut"])
async def test_a_feed_cut_inside_a_known_item_publishes_and_edits_nothing(
    feeds: FeedService, site: FeedSite, declared: bool
) -> None:
    known = items(3)
    site.raw("/feed", rss("Valley News", known))
    await feeds.add(Actor.operator(), NewFeed(site.url("/feed"), interval=60.0, backfill=3))
    before = await titles(feeds)
    assert len(before) == 3
    fresh = Item("new-1", "Bridge opens", "<p>The bridge is open.</p>")
    whole = rss("Valley News", [fresh, *known])
    # Cut right after the second known item's guid: a known item with no body (an edit to
    # nothing, were it read), after a new item that arrived whole.
    at = whole.index(b"</guid>", whole.index(b"item-1")) + len(b"</guid>")
    site.cut("/feed", whole, at, declared=declared)
    result = await poll(feeds, site.url("/feed"))
    assert_failed_with_backoff(result)
    assert await titles(feeds) == before
    # The next whole answer is read as usual: the new item, and no edit.
    site.raw("/feed", whole)
    result = await poll(feeds, site.url("/feed"))
    assert (result.error, result.published, result.edited) == (None, 1, 0)
    assert await titles(feeds) == sorted([*before, "Bridge opens"])


async def test_a_document_that_never_closes_its_root_is_refused(
    feeds: FeedService, site: FeedSite
) -> None:
    site.raw("/feed", rss("Valley News", items(2)))
    await feeds.add(Actor.operator(), NewFeed(site.url("/feed"), interval=60.0))
    whole = rss("Valley News", [Item("new-1", "Bridge opens"), *items(2)])
    site.raw("/feed", whole.removesuffix(b"</channel></rss>"))  # every item whole, still cut
    assert_failed_with_backoff(await poll(feeds, site.url("/feed")))
    assert await titles(feeds) == []


@real_feeds
async def test_a_real_feed_cut_off_mid_item_publishes_nothing(
    feeds: FeedService, site: FeedSite
) -> None:
    # Aktuality.sk (items identified by link), then the first 45% of its bytes: the partial
    # last item has a title and no link, so it would be a new item.
    site.raw("/feed", (REAL / "aktuality_sk.rss").read_bytes())
    await feeds.add(Actor.operator(), NewFeed(site.url("/feed"), interval=60.0))
    site.raw("/feed", (REAL / "aktuality_sk_truncated.rss").read_bytes())
    assert_failed_with_backoff(await poll(feeds, site.url("/feed")))
    assert await titles(feeds) == []


@real_feeds
def test_real_feeds_cut_off_are_refused_and_whole_ones_read() -> None:
    for name in ("aktuality_sk_truncated.rss", "reuters_broken.rss"):
        with pytest.raises(FeedError, match=f"{CUT}: it ends before </rss>"):
            parse_feed((REAL / name).read_bytes(), "https://site.example/feed")
    _, entries, _ = parse_feed((REAL / "aktuality_sk.rss").read_bytes(), "https://a.example/")
    assert len(entries) == 30


def test_cut_documents_are_told_from_whole_malformed_ones() -> None:
    url = "https://site.example/feed"
    whole = rss("T", items(2)).decode()
    # Junk after the root (a PHP warning), or an undefined entity: malformed, yet whole.
    for malformed in (whole + "<b>Warning</b>: x", whole.replace("<title>T<", "<title>T &nbsp;<")):
        _, entries, problems = parse_feed(malformed.encode(), url)
        assert len(entries) == 2 and problems[0].startswith("malformed:")
    # Cut anywhere inside, in any encoding, with any root: refused.
    cut = whole[: whole.index("</item>") + 3]
    for body in (cut.encode(), cut.replace("UTF-8", "UTF-16").encode("utf-16")):
        with pytest.raises(FeedError, match=f"{CUT}: it ends before </rss>"):
            parse_feed(body, url)
    rdf = (
        '<?xml version="1.0"?><!-- <rss> --><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        '22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x">'
        "<title>T</title></channel><item><title>One</title><link>https://a.example/1</link>"
    )
    with pytest.raises(FeedError, match=f"{CUT}: it ends before </rdf:RDF>"):
        parse_feed(rdf.encode(), url)
    atom = '<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry><id>1</id>'
    with pytest.raises(FeedError, match=f"{CUT}: it ends before </feed>"):
        parse_feed(atom.encode(), url)
