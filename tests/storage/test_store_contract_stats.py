"""The Store contract, article figures: views added up across workers, posts' first sends,
comments' times."""

from __future__ import annotations

from newsbot import ArticleDraft, ArticleId, CommentStatus, DeliveryState, Platform, Store
from newsbot.models import MessageRef, Posted
from tests.storage.contract_helpers import article, at, comment, dest


async def test_views_add_up_across_workers(two_handles: tuple[Store, Store]) -> None:
    first, second = two_handles
    article_id = await article(first)
    await first.add_views([(article_id, "", 3), (article_id, "d1", 2)])
    await second.add_views([(article_id, "d1", 5), (article_id, "", 0)])
    await second.add_views([(ArticleId(article_id + 99), "", 7)])  # no such article: dropped
    assert await first.article_views(article_id) == {"": 3, "d1": 7}
    assert await second.view_totals() == 10


async def test_post_times_and_comment_times(backend: Store) -> None:
    one, two = await dest(backend, "-1"), await dest(backend, "-2")
    article_id = await article(backend, one, two)
    assert {(p.state, p.sent_at) for p in await backend.post_times(article_id)} == {
        (DeliveryState.PENDING, None)
    }
    jobs = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 10)
    for n, job in enumerate(jobs):
        await backend.complete_delivery(job.delivery, Posted(f"m{n}"), at(5 + n))
    # An edit later does not move when the post first went out.
    await backend.update_article(article_id, (await _draft(backend, article_id)), at(20))
    for job in await backend.claim_deliveries(Platform.TELEGRAM, at(21), 10):
        await backend.complete_delivery(
            job.delivery, Posted(job.delivery.message_id or ""), at(30)
        )
    posts = await backend.post_times(article_id)
    assert sorted((p.destination, p.sent_at) for p in posts) == [
        (f"d{one}", at(5)),
        (f"d{two}", at(6)),
    ]
    assert {p.platform for p in posts} == {Platform.TELEGRAM}
    first, _ = await backend.add_comment(comment(article_id, "c1", when=40))
    hidden, _ = await backend.add_comment(comment(article_id, "c2", when=41))
    await backend.set_comment_status(hidden.id, CommentStatus.HIDDEN, at(42))
    times = await backend.comment_times(article_id)
    assert [(c.platform, c.created_at, c.visible) for c in times] == [
        (Platform.TELEGRAM, at(40), True),
        (Platform.TELEGRAM, at(41), False),
    ]
    assert first.source == MessageRef(Platform.TELEGRAM, "-100", "c1")


async def _draft(backend: Store, article_id: ArticleId) -> ArticleDraft:
    found = await backend.get_article(article_id)
    assert found is not None
    return ArticleDraft(found.title + " (updated)", found.body)
