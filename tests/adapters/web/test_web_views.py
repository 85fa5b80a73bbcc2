"""Views and arrivals counted by the web page without cookies: in memory, flushed in batches,
added up across two workers on one database; the page cache ignores the ``via`` parameter."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from adapters.web.views import ViewCounter
from newsbot import Actor, ArticleId, NewsService
from storage import SqliteStore
from tests.adapters.web.test_web_helpers import publish, web_client
from tests.fakes.wait import wait_for


async def test_views_and_arrivals_add_up_across_two_workers(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    async with SqliteStore(path) as one, SqliteStore(path) as two:
        first = NewsService(one, public_url="https://news.example")
        second = NewsService(two, public_url="https://news.example")
        article = await publish(first, title="Read me")
        async with web_client(first) as a, web_client(second) as b:
            for client, query in ((a, "?via=d3"), (a, ""), (b, "?via=d3"), (b, "?via=junk")):
                response = await client.get(f"/articles/{article.id}{query}")
                assert response.status == 200
                assert "Set-Cookie" not in response.headers
            # Pages that are not a reader arriving (older comments) are not counted.
            assert (await a.get(f"/articles/{article.id}?comments=x")).status in (200, 400)
        # The clients stopped: each worker flushed what it counted.
        figures = await first.figures.article(Actor.operator(), article.id)
        assert figures.views == 4
        assert figures.arrivals == {"d3": 2, "": 2}
        assert await second.figures.totals() == (4, {})


async def test_a_full_batch_is_flushed_before_the_interval(service: NewsService) -> None:
    written: list[list[tuple[ArticleId, str, int]]] = []

    async def flush(batch: Sequence[tuple[ArticleId, str, int]]) -> None:
        written.append(list(batch))

    counter = ViewCounter(flush, every=3600, batch=3)
    article = await publish(service)
    task = asyncio.create_task(counter.run())
    try:
        for source in ("", "d1"):
            counter.add(article.id, source)
        await asyncio.sleep(0)
        assert written == []  # not yet: two of three
        counter.add(article.id, "d1")
        await wait_for(lambda: written, 10, "the full batch flushed")
    finally:
        task.cancel()
    assert written == [[(article.id, "", 1), (article.id, "d1", 2)]]
    assert counter.flushed == 3
