"""The Store contract, scheduling: articles stored ahead of their time, moved, cancelled."""

from __future__ import annotations

from newsbot import ArticleDraft, ArticleStatus, DeliveryState, Platform, Posted, Store
from tests.storage.contract_helpers import AUTHOR, T0, at, dest


async def planned(
    store: Store, live: float, *targets: tuple[object, float], lane: int = 0, req: str = ""
) -> int:
    article, created = await store.add_planned_article(
        ArticleDraft("Later", "Body"),
        AUTHOR,
        T0,
        at(live),
        [(d, at(due)) for d, due in targets],  # type: ignore[misc]
        lane,
        request=req or None,
    )
    assert created or req
    return article.id


async def test_planned_article_waits_for_each_platform_time(backend: Store) -> None:
    tg, dc = await dest(backend, "-1"), await dest(backend, "c1", Platform.DISCORD)
    article_id = await planned(backend, 100, (tg, 100), (dc, 400))
    stored = await backend.get_article(article_id)  # type: ignore[arg-type]
    assert stored is not None and stored.published_at == at(100)
    assert stored.status is ArticleStatus.PUBLISHED
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(99), 10) == []
    assert await backend.next_due(Platform.TELEGRAM) == at(100)
    assert await backend.next_due(Platform.DISCORD) == at(400)
    assert len(await backend.claim_deliveries(Platform.TELEGRAM, at(100), 10)) == 1
    assert await backend.claim_deliveries(Platform.DISCORD, at(399), 10) == []
    assert len(await backend.claim_deliveries(Platform.DISCORD, at(400), 10)) == 1


async def test_scheduled_listing_until_every_post_is_out(backend: Store) -> None:
    tg, dc = await dest(backend, "-1"), await dest(backend, "c1", Platform.DISCORD)
    article_id = await planned(backend, 100, (tg, 100), (dc, 400))
    [item] = await backend.scheduled_articles(at(1))
    assert item.article.id == article_id and item.waiting == 2
    assert item.platforms == {Platform.TELEGRAM: at(100), Platform.DISCORD: at(400)}
    assert await backend.next_live_at(at(1)) == at(100)
    # Past the web time, the staggered Discord post still waits.
    [job] = await backend.claim_deliveries(Platform.TELEGRAM, at(100), 10)
    await backend.complete_delivery(job.delivery, Posted("m1"), at(101))
    [item] = await backend.scheduled_articles(at(101))
    assert item.platforms == {Platform.DISCORD: at(400)}
    assert await backend.next_live_at(at(101)) is None
    assert await backend.scheduled_article(article_id, at(101)) == item  # type: ignore[arg-type]
    assert await backend.scheduled_articles(at(400)) == []
    assert await backend.scheduled_article(article_id, at(400)) is None  # type: ignore[arg-type]


async def test_reschedule_moves_web_and_posts(backend: Store) -> None:
    tg, dc = await dest(backend, "-1"), await dest(backend, "c1", Platform.DISCORD)
    article_id = await planned(backend, 100, (tg, 100), (dc, 100))
    moved = await backend.reschedule_article(
        article_id,  # type: ignore[arg-type]
        at(200),
        {Platform.DISCORD: at(300)},
        at(1),
    )
    assert moved
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(199), 10) == []
    assert await backend.next_due(Platform.TELEGRAM) == at(200)
    assert await backend.next_due(Platform.DISCORD) == at(300)
    stored = await backend.get_article(article_id)  # type: ignore[arg-type]
    assert stored is not None and stored.published_at == at(200)


async def test_cancel_kills_posts_and_makes_a_draft(backend: Store) -> None:
    tg = await dest(backend, "-1")
    article_id = await planned(backend, 100, (tg, 100))
    assert await backend.cancel_scheduled_article(article_id, at(1))  # type: ignore[arg-type]
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(1000), 10) == []
    stored = await backend.get_article(article_id)  # type: ignore[arg-type]
    assert stored is not None and stored.status is ArticleStatus.DRAFT
    [status] = await backend.deliveries_for_article(article_id)  # type: ignore[arg-type]
    assert status.delivery.state is DeliveryState.DEAD
    assert await backend.scheduled_articles(at(1)) == []
    assert not await backend.cancel_scheduled_article(article_id, at(2))  # type: ignore[arg-type]


async def test_cancel_and_reschedule_refuse_once_out(backend: Store) -> None:
    tg = await dest(backend, "-1")
    article_id = await planned(backend, 100, (tg, 100))
    assert not await backend.cancel_scheduled_article(article_id, at(100))  # type: ignore[arg-type]
    assert not await backend.reschedule_article(
        article_id,  # type: ignore[arg-type]
        at(500),
        {},
        at(100),
    )
    assert len(await backend.claim_deliveries(Platform.TELEGRAM, at(100), 10)) == 1


async def test_planned_request_is_carried_out_once(backend: Store) -> None:
    tg = await dest(backend, "-1")
    first = await planned(backend, 100, (tg, 100), req="cli:1")
    again = await planned(backend, 100, (tg, 100), req="cli:1")
    assert first == again
    assert len(await backend.deliveries_for_article(first)) == 1  # type: ignore[arg-type]


async def test_a_higher_lane_is_claimed_first_and_the_rest_resumes(backend: Store) -> None:
    chats = [await dest(backend, f"-{i}") for i in range(6)]
    normal = await planned(backend, 0, *((d, 0) for d in chats))
    breaking = await planned(backend, 5, *((d, 5) for d in chats[:3]), lane=1)
    first = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 2)
    assert {j.article.id for j in first} == {normal}  # the breaking one is not due yet
    second = await backend.claim_deliveries(Platform.TELEGRAM, at(6), 4)
    # The three breaking ones overtake the normal ones left (order within a claim is free).
    assert sorted(j.article.id for j in second) == sorted([breaking] * 3 + [normal])
    rest = await backend.claim_deliveries(Platform.TELEGRAM, at(6), 10)
    assert [j.article.id for j in rest] == [normal] * 3
    claimed = first + second + rest
    assert len({j.delivery.id for j in claimed}) == len(claimed) == 9
