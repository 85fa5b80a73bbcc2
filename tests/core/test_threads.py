"""Threads of any depth and size: shown without recursion, nested at most eight levels, cut
into pages of at most 200 comments that continue where they stopped; page cursors that
newsbot did not make are refused (400), never a database error."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from newsbot import Actor, ArticleDraft, ArticleId, Author, CommentId, MessageRef, NewsService
from newsbot.cursors import Cursors, ThreadPosition
from newsbot.errors import InvalidInput
from newsbot.models import (
    Comment,
    CommentNode,
    CommentStatus,
    Platform,
    ThreadCursor,
    ThreadPage,
)
from newsbot.ports import Store
from newsbot.threads import PAGE_COMMENTS, THREAD_DEPTH, build, paginate, walk
from tests.deep_chain import build_chain

STORE_BACKENDS = ["sqlite", "postgres"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def comment(
    cid: int, parent: int | None, status: CommentStatus = CommentStatus.VISIBLE
) -> Comment:
    return Comment(
        id=CommentId(cid),
        article_id=ArticleId(1),
        parent_id=CommentId(parent) if parent is not None else None,
        author=Author(f"a{cid}", Platform.WEB, f"a{cid}"),
        text=f"t{cid}",
        source=MessageRef(Platform.WEB, "1", str(cid)),
        status=status,
        created_at=T0 + timedelta(seconds=cid),
    )


def shown(nodes: Sequence[CommentNode]) -> list[tuple[int, int]]:
    return [(node.comment.id, depth) for node, depth in walk(nodes)]


def test_a_chain_far_deeper_than_the_recursion_limit_is_built_without_recursion() -> None:
    chain = [comment(1, None), *(comment(n, n - 1) for n in range(2, 20_001))]
    (tree,) = build(chain[:1], chain[1:])
    assert tree is not None
    rows = shown([tree])
    assert [cid for cid, _ in rows] == list(range(1, 20_001))  # thread order kept
    assert [depth for _, depth in rows[: THREAD_DEPTH + 2]] == [*range(THREAD_DEPTH + 1), 8]
    assert max(depth for _, depth in rows) == THREAD_DEPTH
    # Everything past the last level hangs flat under the comment one level above it, and
    # still says which comment it answers.
    flat = [n for n, depth in walk([tree]) if depth == THREAD_DEPTH]
    assert len(flat) == 20_000 - THREAD_DEPTH
    assert all(not n.replies for n in flat)
    assert [n.comment.parent_id for n in flat[1:4]] == [9, 10, 11]


def test_deeper_replies_are_listed_flat_right_after_their_ancestor_in_thread_order() -> None:
    # 1 > 2 > ... > 8 (level 7) > 9 (level 8) > 10 > 11, and 9's later sibling 12 > 13.
    comments = [comment(n, n - 1 if n > 1 else None) for n in range(1, 12)]
    comments += [comment(12, 8), comment(13, 12), comment(14, 3)]
    (tree,) = build(comments[:1], comments[1:])
    assert tree is not None
    assert shown([tree]) == [
        (1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (6, 5), (7, 6), (8, 7),
        (9, 8), (10, 8), (11, 8), (12, 8), (13, 8),
        (14, 3),
    ]  # fmt: skip


def test_removed_comments_stay_as_placeholders_only_above_visible_replies() -> None:
    removed = CommentStatus.DELETED
    comments = [
        comment(1, None, removed),
        comment(2, 1, CommentStatus.HIDDEN),
        comment(3, 2),
        comment(4, 1, removed),  # nothing visible under it: gone
        comment(5, None, removed),  # a removed root without visible replies: gone
    ]
    trees = build([comments[0], comments[4]], comments[1:4])
    assert trees[1] is None
    assert trees[0] is not None
    assert shown([trees[0]]) == [(1, 0), (2, 1), (3, 2)]
    placeholder = trees[0].comment
    assert placeholder.text == "" and placeholder.author.name == "" and placeholder.id == 1


def test_a_page_holds_at_most_its_size_and_the_next_continues_the_cut_thread() -> None:
    roots = [comment(1, None), comment(100, None), comment(200, None)]
    replies = [comment(n, n - 1) for n in range(2, 8)]  # 1 > 2 > ... > 7
    replies += [comment(101, 100), comment(102, 100)]
    trees = build(roots[:2], replies)
    page, following, continued = paginate(roots, trees, limit=2, size=4, start=None)
    assert [shown(page)] == [[(1, 0), (2, 1), (3, 2), (4, 3)]] and not continued
    assert following == ThreadPosition(None, CommentId(1), 4)
    trees = build(roots[:2], replies)
    page, following, continued = paginate(roots, trees, limit=2, size=4, start=following)
    # The cut thread again, from its next reply, under its ancestors; then the next root.
    assert shown(page) == [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (6, 5), (7, 6), (100, 0)]
    assert continued
    assert following == ThreadPosition(
        ThreadCursor(roots[0].created_at, roots[0].id), CommentId(100), 1
    )


async def pages(
    service: NewsService, article_id: ArticleId, **options: object
) -> list[ThreadPage]:
    found = []
    cursor = None
    while True:
        page = await service.thread(article_id, cursor=cursor, limit=50, **options)  # type: ignore[arg-type]
        found.append(page)
        cursor = page.next_cursor
        if cursor is None:
            return found
        assert len(found) < 100, "the pages do not end"


async def test_a_5000_deep_chain_is_read_page_by_page_to_its_end(
    service: NewsService, store: Store
) -> None:
    chain = await build_chain(service, store)
    for newest_first in (False, True):
        seen: list[int] = []
        for number, page in enumerate(
            await pages(service, chain.article_id, newest_first=newest_first)
        ):
            rows = [(node.comment.id, depth) for node, depth in walk(page.comments)]
            assert max(depth for _, depth in rows) <= THREAD_DEPTH
            new = [cid for cid, _ in rows if cid not in seen]
            context = rows[: len(rows) - len(new)]
            assert [cid for cid, _ in rows[len(context) :]] == new  # repeated ones come first
            assert len(context) <= THREAD_DEPTH and page.continued == bool(context), number
            assert len(new) <= PAGE_COMMENTS
            assert page.total == len(chain.visible)
            seen += new
        assert len(seen) == len(set(seen))
        removed = set(chain.ids) - chain.visible
        # Every visible comment once; of the removed ones, only placeholders above them.
        assert set(seen) - removed == chain.visible
        assert set(seen) & removed == removed - {chain.ids[-1]}


async def test_every_forged_or_foreign_cursor_is_refused_before_the_store(
    service: NewsService, store: Store
) -> None:
    article = (await service.publish(Actor.operator(), ArticleDraft("One", "body"))).article
    other = (await service.publish(Actor.operator(), ArticleDraft("Two", "body"))).article
    for n in range(3):
        await service.add_web_comment(article.id, "Ann", f"c{n}", client_key=f"k{n}")
        await service.add_web_comment(other.id, "Ann", f"c{n}", client_key=f"o{n}")
    made = (await service.thread(article.id, limit=1)).next_cursor
    listed = (await service.latest(1)).next_cursor
    assert made is not None and listed is not None
    assert len((await service.thread(article.id, cursor=made, limit=1)).comments) == 1

    def b64(raw: str) -> str:
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    forged = [
        b64("2026-01-01T00:00:00+00:00|99999999999999999999999"),  # past any 64-bit id
        b64("0001-01-01T00:00:00+14:00|1"),  # before year 1 in UTC
        b64("9999-12-31T23:59:59-14:00|1"),  # after year 9999 in UTC
        b64("2026-01-01T00:00:00+00:00|-5"),
        made[:-1] + ("A" if made[-1] != "A" else "B"),  # a changed signature
        "9" * 30 + made[-12:],  # another position under the same signature
        made + "0",
        "%%%",
        "",
        "é" * 20,
    ]
    for cursor in forged:
        for call in (
            service.thread(article.id, cursor=cursor or "x"),
            service.latest(5, cursor or "x"),
        ):
            with pytest.raises(InvalidInput, match=r"The page cursor is malformed\."):
                await call
    # A real cursor, but of another list: another article, the other order, the articles.
    for call in (
        service.thread(other.id, cursor=made, limit=1),
        service.thread(article.id, cursor=made, limit=1, newest_first=True),
        service.thread(article.id, cursor=listed, limit=1),
        service.latest(1, made),
    ):
        with pytest.raises(InvalidInput, match=r"The page cursor is malformed\."):
            await call


async def test_cursors_of_one_worker_are_read_by_another(
    service: NewsService, store: Store
) -> None:
    article = (await service.publish(Actor.operator(), ArticleDraft("One", "body"))).article
    for n in range(3):
        await service.add_web_comment(article.id, "Ann", f"c{n}", client_key=f"k{n}")
    made = (await service.thread(article.id, limit=1)).next_cursor
    assert made is not None
    other_worker = NewsService(store)  # same database, a process of its own
    page = await other_worker.thread(article.id, cursor=made, limit=1)
    assert [n.comment.text for n in page.comments] == ["c1"]


def test_a_cursor_fits_a_telegram_button_and_reads_back_exactly() -> None:
    cursors = Cursors(b"k" * 32)
    at = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    # A billion comments on a million articles still fit the 64 bytes of a Telegram button.
    position = ThreadPosition(ThreadCursor(at, CommentId(10**9)), CommentId(10**9 - 1), 199)
    made = cursors.thread(10**6, True, position)
    assert len(f"cm:{10**6}:{made}".encode()) <= 64
    assert made.isascii() and all(c.isalnum() or c in "-_" for c in made)
    assert cursors.read_thread(made, 10**6, True) == position
    huge = ThreadPosition(ThreadCursor(at, CommentId(2**63 - 1)), CommentId(2**63 - 1), 10**9)
    assert cursors.read_thread(cursors.thread(1, False, huge), 1, False) == huge
    assert cursors.read_thread(
        cursors.thread(3, False, ThreadPosition(None, CommentId(7), 1)), 3, False
    ) == (ThreadPosition(None, CommentId(7), 1))
    with pytest.raises(InvalidInput):
        Cursors(b"another installation").read_thread(made, 2**40, True)
