"""Comment times are relative without JavaScript ("5 minutes ago", in the site's language),
with the exact time on hover, and a cached page is made again before its ages go out of date."""

from __future__ import annotations

import re

from adapters.i18n import Speech
from adapters.web.context import SITE
from newsbot import NewsService
from storage import SqliteStore
from tests.adapters.web.test_web_helpers import Client, publish, web_client
from tests.conftest import FakeClock


def _times(html: str) -> list[tuple[str, str, str]]:
    return re.findall(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', html)


async def _article(client: Client, article_id: int) -> list[tuple[str, str, str]]:
    response = await client.get(f"/articles/{article_id}")
    assert response.status == 200
    return _times(await response.text())


async def test_comment_times_are_relative_and_the_cached_page_follows_the_clock(
    store: SqliteStore,
) -> None:
    clock = FakeClock()  # 2026-01-02 03:04:05 UTC
    service = NewsService(store, public_url="https://news.example", clock=clock)
    article = await publish(service)
    await service.add_web_comment(article.id, "Ann", "First", client_key="a")
    # Pages may be shown up to 10 + 30 seconds after they are served (s-maxage, stale).
    async with web_client(service, max_age=5, s_maxage=10, stale=30) as client:
        cache = client.app[SITE].cache
        assert await _article(client, article.id) == [
            ("2026-01-02T03:04:05Z", "2 Jan 2026, 03:04 UTC", "just now")
        ]
        clock.advance(5 * 60)  # 5 minutes, and 40 seconds of lag: "5 minutes ago" until 5:20
        assert (await _article(client, article.id))[0][2] == "5 minutes ago"
        renders = cache.renders
        clock.advance(19)
        assert (await _article(client, article.id))[0][2] == "5 minutes ago"
        assert cache.renders == renders  # still current: served from the cache
        clock.advance(1)
        assert (await _article(client, article.id))[0][2] == "6 minutes ago"
        assert cache.renders == renders + 1
        clock.advance(3 * 86400)
        assert (await _article(client, article.id))[0][2] == "3 days ago"


async def test_comment_times_are_in_the_site_language_and_zone(store: SqliteStore) -> None:
    clock = FakeClock()
    service = NewsService(store, public_url="https://news.example", clock=clock)
    article = await publish(service)
    await service.add_web_comment(article.id, "Ann", "Erster", client_key="a")
    clock.advance(2 * 3600)
    speech = Speech.of("de", "Europe/Berlin")
    async with web_client(service, speech=speech) as client:
        assert await _article(client, article.id) == [
            ("2026-01-02T03:04:05Z", "2 Jan. 2026, 04:04 MEZ", "vor 2 Stunden")
        ]


async def test_a_long_page_lifetime_keeps_young_comments_exact(store: SqliteStore) -> None:
    # Pages kept ten minutes by caches could not keep "3 minutes ago" true: the exact time.
    clock = FakeClock()
    service = NewsService(store, public_url="https://news.example", clock=clock)
    article = await publish(service)
    await service.add_web_comment(article.id, "Ann", "First", client_key="a")
    clock.advance(3 * 60)
    async with web_client(service, max_age=60, s_maxage=300, stale=300) as client:
        [(_, title, text)] = await _article(client, article.id)
    assert text == title == "2 Jan 2026, 03:04 UTC"
