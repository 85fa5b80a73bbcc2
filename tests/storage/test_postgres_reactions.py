"""PostgreSQL only: workers writing reaction batches and bans at once keep the per-target
counts (``reaction_tally``) equal to what the rows say."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from newsbot import ArticleId, MessageLink, MessageRef, Platform
from newsbot.reactions import AnonymousRow, ReactionCounts, ReactionEvent, ReactionOp, ReaderRow
from newsbot.reactions import tally as count_rows
from tests.storage.contract_helpers import T0, at, posted_article

asyncpg = pytest.importorskip("asyncpg")
from storage.postgres import PostgresStore  # noqa: E402

TG = Platform.TELEGRAM
ROWS = (
    "SELECT r.comment_id, r.platform, r.reader, r.emoji, b.user_id IS NOT NULL FROM reactions r "
    "LEFT JOIN bans b ON b.platform = r.platform AND b.user_id = r.reader "
    "WHERE r.article_id = $1"
)


async def by_rows(store: PostgresStore, article_id: ArticleId) -> ReactionCounts:
    found: list[Any] = await store._rows(ROWS, article_id)
    readers = [ReaderRow(c, Platform(p), r, e, bool(b)) for c, p, r, e, b in found]
    anonymous: list[AnonymousRow] = []
    return count_rows(article_id, readers, anonymous)


async def test_concurrent_batches_and_bans_keep_the_counts_right(pg_url: str) -> None:
    workers = [PostgresStore(pg_url) for _ in range(3)]
    await asyncio.gather(*(w.open() for w in workers))
    try:
        article_id, posts = await posted_article(workers[0], "-1")
        copies = [posts["-1"]]
        for n in range(3):  # the same reader on several copies counts once
            copy = MessageRef(TG, f"-10{n}", "copy")
            assert await workers[0].add_link(MessageLink(copy, article_id))
            copies.append(copy)
        rng = random.Random(19)

        async def worker(store: PostgresStore, seed: int) -> None:
            mine = random.Random(seed)
            for round_ in range(25):
                events = [
                    ReactionEvent(
                        mine.choice(copies),
                        ReactionOp.SET,
                        at(round_),
                        f"r{mine.randrange(6)}",
                        tuple(mine.sample(("👍", "🔥"), mine.randrange(3))),
                    )
                    for _ in range(mine.randint(1, 8))
                ]
                await store.record_reactions(events)
                if mine.random() < 0.3:
                    await store.set_ban(TG, f"r{mine.randrange(3)}", mine.random() < 0.5, T0)

        await asyncio.gather(*(worker(w, rng.randrange(1 << 30)) for w in workers))
        kept = await workers[1].reaction_counts(article_id)
        assert kept.article.total > 0
        assert kept == await by_rows(workers[1], article_id)
    finally:
        for store in workers:
            await store.close()
