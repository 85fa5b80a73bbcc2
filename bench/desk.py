"""The moderation queue page under a large queue: ``GET /admin/queue`` (the held tab, 50
items, each with a link to its author's other comments) with N held comments on SQLite, p50
and p99 over sequential requests from one signed-in admin, on the real application
(``create_app``): the first page, and a page half-way down the queue (keyset paging: it costs
what the first does). And the flood of ``bench.desk_flood``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import test_utils

from bench.report import Result, percentile

TOKEN = "bench-admin-token-long-enough-123456"


async def queue_page(held: int, requests: int) -> list[Result]:
    """p50 and p99 of the held tab with ``held`` comments waiting."""
    from adapters.web import create_app
    from newsbot import Actor, ArticleDraft, Author, MessageRef, NewsService, Platform
    from newsbot.models import IncomingComment
    from newsbot.review import Reason, View, position_of
    from storage import SqliteStore

    with tempfile.TemporaryDirectory() as folder:
        async with SqliteStore(Path(folder) / "desk.db", synchronous="NORMAL") as store:
            service = NewsService(store)
            article = (await service.publish(Actor.operator(), ArticleDraft("Held", "B"))).article
            now = service.clock.now()
            for start in range(0, held, 1000):
                results = await asyncio.gather(
                    *(
                        store.ingest_comment(
                            IncomingComment(
                                source=MessageRef(Platform.WEB, str(article.id), f"c{n}"),
                                author=Author(f"Reader {n % 500}", Platform.WEB, f"w:{n % 500}"),
                                text=f"held comment number {n}",
                                created_at=now,
                                article_id=article.id,
                                hidden=True,
                            )
                        )
                        for n in range(start, min(start + 1000, held))
                    )
                )
                for result in results:
                    assert result is not None
                    await store.hold_comment(result[0].id, [Reason.AUTHOR], now)
            client = test_utils.TestClient(
                test_utils.TestServer(create_app(service, admin_token=TOKEN))
            )
            await client.start_server()
            try:
                login = await client.post("/admin/login", data={"token": TOKEN})
                assert login.status == 200, login.status
                middle = (await store.review_queue(View.HELD, held // 2))[-1]
                deep = f"&after={position_of(View.HELD, middle).token()}"
                times = await _timed(client, "/admin/queue?view=held", requests)
                deep_times = await _timed(client, f"/admin/queue?view=held{deep}", requests)
            finally:
                await client.close()
    p50, p99 = percentile(times, 50), percentile(times, 99)
    deep_p99 = percentile(deep_times, 99)
    return [
        Result(
            f"queue page, {held:,} held comments: p50",
            f"{p50:.1f} ms",
            "-",
            None,
            f"{requests} sequential GETs of the held tab (50 items)",
        ),
        Result(
            f"queue page, {held:,} held comments: p99",
            f"{p99:.1f} ms",
            "< 100 ms",
            p99 < 100,
            "loaded shared machine",
        ),
        Result(
            f"queue page {held // 2 // 50 + 1} of {held // 50}, {held:,} held: p50 / p99",
            f"{percentile(deep_times, 50):.1f} / {deep_p99:.1f} ms",
            "< 100 ms",
            deep_p99 < 100,
            "keyset paging (after the last item shown)",
        ),
    ]


async def _timed(client: test_utils.TestClient[Any, Any], url: str, requests: int) -> list[float]:
    """Milliseconds for each of ``requests`` sequential GETs of ``url``."""
    times: list[float] = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(url)
        await response.read()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status == 200
    return times


def run(quick: bool) -> list[Result]:
    """The desk's benchmarks."""
    from bench import desk_flood

    rows = asyncio.run(queue_page(1_000 if quick else 10_000, 50 if quick else 300))
    return rows + desk_flood.run(quick)
