"""``/healthz`` and ``/metrics`` through the real web server, on a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.web import WebAdapter
from adapters.web.ops import Operations, Sources
from newsbot import (
    Actor,
    ArticleDraft,
    DestinationKind,
    Dispatcher,
    NewDestination,
    NewsService,
    Platform,
    Roles,
)
from storage import SqliteStore
from tests.fakes.publisher import RecordingPublisher


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[WebAdapter, SqliteStore, Sources]]:
    store = SqliteStore(tmp_path / "ops.db")
    await store.open()
    service = NewsService(store)
    ops = Operations(Sources(service, "w-test"))
    web = WebAdapter(service, port=0, extra_routes=ops.routes())
    await web.start()
    try:
        yield web, store, ops.sources
    finally:
        await web.stop()
        await store.close()


def families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


async def test_health_says_ready_while_the_database_answers(
    site: tuple[WebAdapter, SqliteStore, Sources],
) -> None:
    web, store, _ = site
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{web.url}/healthz") as response:
            assert response.status == 200
            body = await response.json()
            assert body["ready"] is True and body["worker"] == "w-test"
        await store.close()  # the database stops answering
        async with http.get(f"{web.url}/healthz") as response:
            assert response.status == 503
            body = await response.json()
            assert body["alive"] is True and body["ready"] is False and body["error"]
        async with http.get(f"{web.url}/healthz/live") as response:
            assert response.status == 200


async def test_metrics_report_the_outbox_sends_roles_and_comments(
    site: tuple[WebAdapter, SqliteStore, Sources],
) -> None:
    web, store, sources = site
    service = sources.service
    for chat in ("-1", "-2", "-3"):
        await service.subscribe(
            Actor.operator(), NewDestination(Platform.TELEGRAM, chat, DestinationKind.CHANNEL)
        )
    article = (await service.publish(Actor.operator(), ArticleDraft("T", "B"))).article
    roles = Roles(store, "w-test", ["send:telegram"], lease=3.0, renew_every=0.5, margin=1.0)
    await roles.start()
    dispatcher = Dispatcher(store, {Platform.TELEGRAM: RecordingPublisher()}, worker="w-test")
    await dispatcher.start()
    sources.dispatcher, sources.roles = dispatcher, roles
    sources.rate_limit_answers = lambda: {"telegram": 2}
    try:
        await dispatcher.drain(10)
        await service.add_web_comment(article.id, "Wendy", "hello", client_key="k1")
        async with aiohttp.ClientSession() as http, http.get(f"{web.url}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            found = families(await response.text())
    finally:
        await dispatcher.stop()
        await roles.stop()
    # Sent, then the comment queued its mirrors and the posts' comment-count edits.
    assert found["newsbot_deliveries"] == [({"platform": "telegram", "state": "pending"}, 6.0)]
    assert ({"platform": "telegram", "outcome": "sent"}, 3.0) in found["newsbot_sends_total"]
    assert found["newsbot_platform_rate_limited_total"] == [({"platform": "telegram"}, 2.0)]
    assert found["newsbot_comments_stored_total"] == [({}, 1.0)]
    assert found["newsbot_role_held"] == [({"role": "send:telegram", "worker": "w-test"}, 1.0)]
    assert found["newsbot_database_up"] == [({}, 1.0)]
    ages = dict(
        (labels["platform"], value)
        for labels, value in found["newsbot_oldest_due_delivery_age_seconds"]
    )
    assert ages["discord"] == 0.0  # nothing queued
    assert 0.0 < ages["telegram"] < 30.0  # the mirrors, due since the comment was stored
    assert "newsbot_ingest_batch_seconds_count" in found


async def test_metrics_report_reactions_and_views(
    site: tuple[WebAdapter, SqliteStore, Sources],
) -> None:
    web, _, sources = site
    service = sources.service
    article = (await service.publish(Actor.operator(), ArticleDraft("T", "B"))).article
    await service.reactions.react_on_web(article.id, None, "w1", "👍")
    await service.figures.add_views([(article.id, "", 4), (article.id, "d1", 1)])
    async with aiohttp.ClientSession() as http, http.get(f"{web.url}/metrics") as response:
        found = families(await response.text())
    assert found["newsbot_reactions"] == [({"platform": "web"}, 1.0)]
    assert found["newsbot_web_views"] == [({}, 5.0)]
