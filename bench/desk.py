"""The moderation queue page under a large queue: ``GET /admin/queue`` (the held tab, 50
items with each author's other comments) with N held comments on SQLite, p50 and p99 over
sequential requests from one signed-in admin, on the real application (``create_app``).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from aiohttp import test_utils

from bench.report import Result, percentile

TOKEN = "bench-admin-token-long-enough-123456"


async def queue_page(held: int, requests: int) -> list[Result]:
    """p50 and p99 of the held tab with ``held`` comments waiting."""
    from adapters.web import create_app
    from newsbot import Actor, ArticleDraft, Author, MessageRef, NewsService, Platform
    from newsbot.models import IncomingComment
    from newsbot.review import Reason
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
                times: list[float] = []
                for _ in range(requests):
                    started = time.perf_counter()
                    response = await client.get("/admin/queue?view=held")
                    await response.read()
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status == 200
            finally:
                await client.close()
    p50, p99 = percentile(times, 50), percentile(times, 99)
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
    ]


def run(quick: bool) -> list[Result]:
    """The desk's benchmarks."""
    return asyncio.run(queue_page(1_000 if quick else 10_000, 50 if quick else 300))
