"""The Store contract, the moderation queue's pages: each tab read page by page after the
last item's position (keyset paging) gives every item once, in the tab's order."""

from __future__ import annotations

from newsbot import CommentId, Store
from newsbot.review import Decision, QueuePosition, Reason, View, position_of
from tests.storage.contract_helpers import at, incoming, posted_article


async def _queue(store: Store, count: int) -> list[CommentId]:
    """``count`` held comments; pairs of them entered the queue at the same time."""
    _, refs = await posted_article(store, "-100")
    ids = []
    for n in range(count):
        result = await store.ingest_comment(incoming(f"p{n}", refs["-100"], hidden=True))
        assert result is not None
        ids.append(result[0].id)
        await store.hold_comment(result[0].id, [Reason.AUTHOR], at(100 - n // 2))
    return ids


async def _pages(store: Store, view: View, size: int) -> list[list[CommentId]]:
    pages: list[list[CommentId]] = []
    after: QueuePosition | None = None
    while True:
        page = await store.review_queue(view, size, after)
        if not page:
            return pages
        pages.append([i.comment.id for i in page])
        after = position_of(view, page[-1])


async def test_held_pages_follow_each_other(backend: Store) -> None:
    ids = await _queue(backend, 7)
    whole = [i.comment.id for i in await backend.review_queue(View.HELD, 100)]
    # Oldest first, ties by comment id.
    assert whole == [ids[6], ids[4], ids[5], ids[2], ids[3], ids[0], ids[1]]
    pages = await _pages(backend, View.HELD, 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [c for p in pages for c in p] == whole


async def test_reported_pages_most_reported_first(backend: Store) -> None:
    ids = await _queue(backend, 5)
    for n, comment_id in enumerate(ids):
        for reader in range(n % 3 + 1):  # 1, 2, 3, 1, 2 reports
            await backend.report_comment(comment_id, f"web:r{reader}", "spam", at(200))
    whole = [i.comment.id for i in await backend.review_queue(View.REPORTED, 100)]
    assert whole == [ids[2], ids[4], ids[1], ids[3], ids[0]]
    pages = await _pages(backend, View.REPORTED, 2)
    assert [c for p in pages for c in p] == whole
    assert [len(p) for p in pages] == [2, 2, 1]


async def test_recent_pages_newest_decision_first(backend: Store) -> None:
    ids = await _queue(backend, 5)
    for n, comment_id in enumerate(ids):
        await backend.decide_review(comment_id, Decision.HIDDEN, "cli:", at(300 + n // 2))
    whole = [i.comment.id for i in await backend.review_queue(View.RECENT, 100)]
    assert whole == [ids[4], ids[3], ids[2], ids[1], ids[0]]
    pages = await _pages(backend, View.RECENT, 2)
    assert [c for p in pages for c in p] == whole
    assert [len(p) for p in pages] == [2, 2, 1]
