"""A scheduled article on the web (the real aiohttp server, a fake clock): no page (404, not
cacheable) and absent from the front page, the feeds and the API until its time; there after,
though no data changed at its time."""

from __future__ import annotations

from datetime import timedelta

from newsbot import Actor, ArticleDraft, NewsService, Platform
from newsbot.ports import Store
from newsbot.scheduling import Schedule
from tests.adapters.web.test_web_helpers import publish, web_client
from tests.conftest import FakeClock

STORE_BACKENDS = ["sqlite", "postgres"]


async def test_invisible_until_its_time_then_everywhere(store: Store, clock: FakeClock) -> None:
    service = NewsService(store, admins={Platform.TELEGRAM: {"42"}}, clock=clock)
    await publish(service, "Already out")
    change = await service.publish(
        Actor.operator(),
        ArticleDraft("Embargoed scoop", "Secret"),
        schedule=Schedule(clock.now() + timedelta(minutes=5)),
    )
    article_id = change.article.id
    lists = ["/", "/feed.xml", "/api/articles"]
    async with web_client(service) as client:
        for _ in range(2):  # the second time from the page cache, if it kept anything
            page = await client.get(f"/articles/{article_id}")
            assert page.status == 404
            assert "public" not in page.headers.get("Cache-Control", "")
            assert "Embargoed" not in await page.text()
            api = await client.get(f"/api/articles/{article_id}")
            assert api.status == 404
            assert "public" not in api.headers.get("Cache-Control", "")
            comments = await client.get(f"/articles/{article_id}/comments.xml")
            assert comments.status == 404
            for path in lists:
                listed = await client.get(path)
                assert listed.status == 200
                text = await listed.text()
                assert "Already out" in text and "Embargoed scoop" not in text, path
        clock.advance(5 * 60)
        page = await client.get(f"/articles/{article_id}")
        assert page.status == 200 and "Embargoed scoop" in await page.text()
        for path in lists:
            listed = await client.get(path)
            assert "Embargoed scoop" in await listed.text(), path
