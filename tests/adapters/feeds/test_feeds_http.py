"""HttpFeedSource against a local site: conditional GET, gzip, redirects, limits, refusals."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from adapters.feeds import GuardedResolver, HttpFeedSource, refused
from adapters.feeds import http as feeds_http
from newsbot.errors import FeedError
from tests.fakes.feeds import FeedSite, items


@pytest.fixture
async def site() -> AsyncIterator[FeedSite]:
    async with FeedSite() as s:
        yield s


@pytest.fixture
async def source() -> AsyncIterator[HttpFeedSource]:
    s = HttpFeedSource(site_url="https://news.example", allow_private=True, timeout=5.0)
    yield s
    await s.close()


async def test_a_feed_is_read_and_then_answered_304(
    site: FeedSite, source: HttpFeedSource
) -> None:
    site.feed("/feed", "Site", items(3))
    first = await source.fetch(site.url("/feed"), etag=None, last_modified=None)
    assert first.status == 200 and first.title == "Site"
    assert [e.guid for e in first.entries] == ["item-2", "item-1", "item-0"]
    assert first.etag and first.last_modified and first.moved_to is None
    again = await source.fetch(site.url("/feed"), etag=first.etag, last_modified=None)
    assert again.status == 304 and again.entries == ()
    by_date = await source.fetch(site.url("/feed"), etag=None, last_modified=first.last_modified)
    assert by_date.status == 304
    headers = site.seen("/feed")[1].headers
    assert headers["If-None-Match"] == first.etag
    assert (
        headers["User-Agent"].startswith("newsbot/")
        and "https://news.example" in headers["User-Agent"]
    )
    assert "gzip" in headers["Accept-Encoding"]


async def test_gzip_is_asked_for_and_decoded(site: FeedSite, source: HttpFeedSource) -> None:
    site.feed("/feed", "Zipped", items(40))
    fetched = await source.fetch(site.url("/feed"), etag=None, last_modified=None)
    assert len(fetched.entries) == 40
    assert "gzip" in site.seen("/feed")[0].headers["Accept-Encoding"]


async def test_permanent_redirects_move_the_feed_temporary_ones_do_not(
    site: FeedSite, source: HttpFeedSource
) -> None:
    site.feed("/new", "Moved", items(1))
    site.redirect("/old", "/middle", 301)
    site.redirect("/middle", site.url("/new"), 308)
    moved = await source.fetch(site.url("/old"), etag=None, last_modified=None)
    assert moved.status == 200 and moved.moved_to == site.url("/new")
    site.redirect("/temp", "/old", 302)
    temporary = await source.fetch(site.url("/temp"), etag=None, last_modified=None)
    assert temporary.status == 200 and temporary.moved_to is None


async def test_more_than_five_redirects_fail(site: FeedSite, source: HttpFeedSource) -> None:
    site.feed("/end", "End", items(1))
    for hop in range(6):
        site.redirect(f"/r{hop}", f"/r{hop + 1}" if hop < 5 else "/end", 302)
    five = await source.fetch(site.url("/r1"), etag=None, last_modified=None)
    assert five.status == 200
    with pytest.raises(FeedError, match="more than 5 redirects"):
        await source.fetch(site.url("/r0"), etag=None, last_modified=None)
    site.redirect("/loop", "/loop", 301)
    with pytest.raises(FeedError, match="redirects"):
        await source.fetch(site.url("/loop"), etag=None, last_modified=None)


async def test_other_schemes_are_refused_even_by_redirect(
    site: FeedSite, source: HttpFeedSource
) -> None:
    site.redirect("/to-file", "file:///etc/passwd", 302)
    with pytest.raises(FeedError, match="only http and https"):
        await source.fetch(site.url("/to-file"), etag=None, last_modified=None)
    with pytest.raises(FeedError, match="only http and https"):
        await source.fetch("ftp://127.0.0.1/feed", etag=None, last_modified=None)


async def test_statuses_and_retry_after_come_back(site: FeedSite, source: HttpFeedSource) -> None:
    site.answer("/busy", 429, {"Retry-After": "120"})
    site.answer("/down", 503, {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    site.answer("/gone", 410)
    busy = await source.fetch(site.url("/busy"), etag=None, last_modified=None)
    assert (busy.status, busy.retry_after) == (429, 120.0)
    down = await source.fetch(site.url("/down"), etag=None, last_modified=None)
    assert down.status == 503 and down.retry_after is not None and down.retry_after > 86400
    assert (await source.fetch(site.url("/gone"), etag=None, last_modified=None)).status == 410
    assert (await source.fetch(site.url("/nothing"), etag=None, last_modified=None)).status == 404


async def test_max_age_is_passed_on(site: FeedSite, source: HttpFeedSource) -> None:
    route = site.feed("/feed", "Cached", items(1))
    route.headers["Cache-Control"] = "public, max-age=1800"
    fetched = await source.fetch(site.url("/feed"), etag=None, last_modified=None)
    assert fetched.max_age == 1800.0


async def test_a_hanging_server_times_out(site: FeedSite) -> None:
    site.hang("/hang")
    source = HttpFeedSource(allow_private=True, timeout=1.0, read_timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(FeedError, match="timed out"):
            await source.fetch(site.url("/hang"), etag=None, last_modified=None)
    finally:
        await source.close()
    assert time.monotonic() - started < 3


@pytest.mark.slow
async def test_a_50_mb_feed_is_cut_off_at_10_mb(site: FeedSite, source: HttpFeedSource) -> None:
    site.huge("/huge", 50 * 1024 * 1024)
    site.huge("/declared", 50 * 1024 * 1024, declared=True)
    with pytest.raises(FeedError, match="larger than 10 MB"):
        await source.fetch(site.url("/declared"), etag=None, last_modified=None)
    started = time.monotonic()
    with pytest.raises(FeedError, match="larger than 10 MB"):
        await source.fetch(site.url("/huge"), etag=None, last_modified=None)
    assert time.monotonic() - started < 20


async def test_not_a_feed_is_an_error(site: FeedSite, source: HttpFeedSource) -> None:
    site.file("/index.html", "notafeed.html", "text/html")
    with pytest.raises(FeedError, match="not a feed"):
        await source.fetch(site.url("/index.html"), etag=None, last_modified=None)


# -- which addresses may be reached -------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "bad"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.9", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("100.64.0.1", True),  # carrier-grade NAT
        ("0.0.0.0", True),
        ("224.0.0.251", True),
        ("240.0.0.1", True),
        ("255.255.255.255", True),
        ("::1", True),
        ("::", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped
        ("::ffff:10.0.0.1", True),
        ("2002:7f00:1::", True),  # 6to4 of 127.0.0.1
        ("ff02::1", True),
        ("93.184.215.14", False),
        ("8.8.8.8", False),
        ("2606:4700::6810:85e5", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_only_public_addresses_are_allowed(address: str, bad: bool) -> None:
    assert refused(ipaddress.ip_address(address)) is bad


async def test_loopback_is_refused_unless_allowed(site: FeedSite) -> None:
    site.feed("/feed", "Local", items(1))
    strict = HttpFeedSource()
    try:
        for url in (
            site.url("/feed"),
            f"http://[::ffff:127.0.0.1]:{site.port}/feed",
            f"http://0.0.0.0:{site.port}/feed",
        ):
            with pytest.raises(FeedError, match="not a public address"):
                await strict.fetch(url, etag=None, last_modified=None)
        # A name is checked at connect time, by the resolver.
        with pytest.raises(FeedError, match=r"localhost resolves to .*not a public address"):
            await strict.fetch(f"http://localhost:{site.port}/feed", etag=None, last_modified=None)
    finally:
        await strict.close()
    assert site.seen("/feed") == []


class MapResolver(AbstractResolver):
    """Stands in for DNS: names map to addresses the test sets (changeable at any time)."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            ResolveResult(
                hostname=host,
                host=self.names[host],
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=0,
            )
        ]

    async def close(self) -> None:
        return None


async def test_the_check_happens_at_connect_time_for_every_hop(
    site: FeedSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only loopback can serve here, so the policy under test refuses 127.0.0.2 and allows
    # 127.0.0.1: what matters is *where* the check runs (every connection, every hop).
    site.feed("/feed", "Feed", items(1))
    monkeypatch.setattr(feeds_http, "refused", lambda a: a == ipaddress.ip_address("127.0.0.2"))
    names = MapResolver({"good.test": "127.0.0.1", "evil.test": "127.0.0.2"})
    source = HttpFeedSource()
    guarded = GuardedResolver(names)
    monkeypatch.setattr(feeds_http, "GuardedResolver", lambda: guarded)
    try:
        assert (
            await source.fetch(f"http://good.test:{site.port}/feed", etag=None, last_modified=None)
        ).status == 200
        site.redirect("/jump", f"http://evil.test:{site.port}/feed", 302)
        with pytest.raises(FeedError, match=r"evil\.test resolves to 127\.0\.0\.2"):
            await source.fetch(f"http://good.test:{site.port}/jump", etag=None, last_modified=None)
        site.redirect("/jump-ip", f"http://127.0.0.2:{site.port}/feed", 302)
        with pytest.raises(FeedError, match=r"127\.0\.0\.2 is not a public address"):
            await source.fetch(
                f"http://good.test:{site.port}/jump-ip", etag=None, last_modified=None
            )
        # The name now points elsewhere (a DNS rebinding): a fresh connection is refused.
        await source.close()
        names.names["good.test"] = "127.0.0.2"
        with pytest.raises(FeedError, match=r"good\.test resolves to 127\.0\.0\.2"):
            await source.fetch(f"http://good.test:{site.port}/feed", etag=None, last_modified=None)
    finally:
        await source.close()
    assert "evil.test" in names.asked
    assert len(site.seen("/feed")) == 1  # only the allowed fetch reached the page


async def test_concurrent_fetches_do_not_wait_for_a_hanging_one(site: FeedSite) -> None:
    site.hang("/hang")
    site.feed("/feed", "Fine", items(2))
    source = HttpFeedSource(allow_private=True, timeout=3.0, read_timeout=3.0)
    try:
        hanging = asyncio.create_task(
            source.fetch(site.url("/hang"), etag=None, last_modified=None)
        )
        started = time.monotonic()
        for _ in range(5):
            fetched = await source.fetch(site.url("/feed"), etag=None, last_modified=None)
            assert fetched.status == 200
        assert time.monotonic() - started < 1.5
        with pytest.raises(FeedError):
            await hanging
    finally:
        await source.close()
