"""A reply chain thousands of comments deep, built in a second through the store.

Each reply answers the one before, so the chain is as deep as it is long. Some links are
hidden (over an intake limit) and some deleted: a removed comment under which visible replies
hang stays in the thread as a placeholder, and counts towards the depth like any other.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from newsbot import Actor, ArticleDraft, ArticleId, Author, CommentId, MessageRef, Platform
from newsbot.models import CommentStatus, IncomingComment
from newsbot.ports import Store
from newsbot.service import NewsService

START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Chain:
    article_id: ArticleId
    ids: list[CommentId]  # the chain, root first
    visible: set[CommentId]  # every visible comment of the article (the chain's and others')
    other_root: CommentId  # a later top-level comment with one reply


def hidden_at(n: int) -> bool:
    return n % 97 == 13


def deleted_at(n: int) -> bool:
    return n % 89 == 7


async def build_chain(service: NewsService, store: Store, depth: int = 5000) -> Chain:
    """Publish an article and hang a ``depth``-long chain under it, plus one more thread.

    The comments are queued together: the group-commit writer (SQLite's, and PostgreSQL's
    with one batch in flight at a time) stores them in order, in a few transactions, so each
    gets the next id and the reply to the id before it exists by the time it is written
    (checked, not assumed).
    """
    article = (
        await service.publish(Actor.operator(), ArticleDraft("Deep", "A long talk"))
    ).article

    def item(n: int, parent: CommentId | None) -> IncomingComment:
        return IncomingComment(
            source=MessageRef(Platform.WEB, str(article.id), f"deep-{n}"),
            author=Author(f"Reader {n % 5}", Platform.WEB, f"w:reader{n % 5}"),
            text=f"link {n} of the chain",
            created_at=START + timedelta(seconds=n),
            article_id=article.id,
            parent_id=parent,
            mirror=False,
            hidden=hidden_at(n),
        )

    first = await store.ingest_comment(item(0, None))
    assert first is not None
    root = first[0].id
    # Queued together: the group-commit writer stores them in order, in a few batches, each
    # numbered on from the last, and the intake finds a parent stored earlier in the same
    # batch by its number. One by one, 5,000 commits took most of the test's time limit on a
    # loaded machine (each PostgreSQL commit waits for its flush).
    stored = await asyncio.gather(
        *(store.ingest_comment(item(n, CommentId(root + n - 1))) for n in range(1, depth))
    )
    ids = [root]
    for result in stored:
        assert result is not None
        comment, _ = result
        assert comment.parent_id == ids[-1], "not a chain"
        ids.append(comment.id)
    for n, comment_id in enumerate(ids):
        if deleted_at(n):
            await store.set_comment_status(comment_id, CommentStatus.DELETED, START)
    later = await service.add_web_comment(article.id, "Late", "a new thread", client_key="late")
    answer = await service.add_web_comment(
        article.id, "Later", "an answer", parent_id=later.id, client_key="later"
    )
    visible = {c for n, c in enumerate(ids) if not (hidden_at(n) or deleted_at(n))}
    return Chain(article.id, ids, visible | {later.id, answer.id}, later.id)
