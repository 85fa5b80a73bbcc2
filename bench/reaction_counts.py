"""A popular article's reaction counts read (issue 19): what the article page, the JSON API
and each claimed post's count line pay whenever they are rebuilt.

An SQLite store with one article holding N readers' reactions (Telegram and Discord, on
200 posts and copies each, several emojis), 100 of the readers banned, and a hidden comment
with reactions of its own. The service's ``reactions.counts`` (one
index range of ``reaction_tally``, the per-target counts each batch keeps) is timed against
reading every reader's row and counting them in Python (``reactions.tally``: what the
store did before, its query kept here for the comparison), and both must agree.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import Result, percentile
from newsbot import Actor, ArticleDraft, NewsService, Platform
from newsbot.models import ArticleId, CommentStatus, MessageLink, MessageRef
from newsbot.reactions import AnonymousRow, ReactionCounts, ReactionEvent, ReactionOp, ReaderRow
from newsbot.reactions import tally as count_rows
from storage import SqliteStore

EMOJIS = ("👍", "❤", "🔥", "😮", "😢")
MESSAGES = 200
ROWS = (
    "SELECT 0, r.comment_id, r.platform, r.reader, r.emoji, "
    "CASE WHEN b.user_id IS NULL THEN 0 ELSE 1 END, 1 FROM reactions r "
    "LEFT JOIN bans b ON b.platform = r.platform AND b.user_id = r.reader "
    "WHERE r.article_id = $1 "
    "UNION ALL SELECT 1, comment_id, platform, '', emoji, 0, count "
    "FROM reaction_counts WHERE article_id = $1 "
    "UNION ALL SELECT 2, id, '', '', '', 0, 0 FROM comments "
    "WHERE article_id = $1 AND status <> 'visible'"
)
"""Every reader's row, each reader's ban and the hidden comments (the store's read before
``reaction_tally``)."""


def _by_rows(article_id: ArticleId, found: list[Any]) -> ReactionCounts:
    readers, anonymous, hidden = [], [], []
    for kind, comment, platform, reader, emoji, banned, count in found:
        if kind == 0:
            readers.append(ReaderRow(comment, Platform(platform), reader, emoji, bool(banned)))
        elif kind == 1:
            anonymous.append(AnonymousRow(comment, Platform(platform), emoji, int(count)))
        else:
            hidden.append(comment)
    return count_rows(article_id, readers, anonymous, hidden)


async def _fill(store: SqliteStore, service: NewsService, reactions: int) -> ArticleId:
    article = (await service.publish(Actor.operator(), ArticleDraft("Popular", "Read."))).article
    refs = []
    for m in range(MESSAGES):
        for ref in (
            MessageRef(Platform.TELEGRAM, "-1009000000", str(m + 1)),
            MessageRef(Platform.DISCORD, "800000000000000001", str(900_000 + m)),
        ):
            await store.add_link(MessageLink(ref, article.id))
            refs.append(ref)
    now = datetime.now(UTC)
    events = [
        ReactionEvent(
            refs[n % len(refs)],
            ReactionOp.ADD,
            now,
            str(1_000_000 + n),
            (EMOJIS[n % len(EMOJIS)],),
        )
        for n in range(reactions)
    ]
    for start in range(0, len(events), 500):
        await store.record_reactions(events[start : start + 500])
    for reader in range(0, 300, 3):  # 100 banned readers: kept, not counted
        await store.set_ban(Platform.TELEGRAM, str(1_000_000 + reader), True, now)
    return article.id


async def _time(read: Callable[[], Awaitable[ReactionCounts]], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await read()
        times.append(time.perf_counter() - started)
    return times


async def popular_counts(reactions: int, rounds: int = 50) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        async with SqliteStore(Path(tmp) / "popular.db") as store:
            service = NewsService(store)
            article_id = await _fill(store, service, reactions)
            comment = await service.add_web_comment(
                article_id, "Reader", "A comment", client_key="bench"
            )
            for reader in range(20):  # reactions on a comment, hidden afterwards
                await service.reactions.react_on_web(article_id, comment.id, f"w{reader}", "👍")
            await store.set_comment_status(comment.id, CommentStatus.HIDDEN, datetime.now(UTC))

            async def by_rows() -> ReactionCounts:
                return _by_rows(article_id, await store._rows(ROWS, article_id))

            kept = await _time(lambda: service.reactions.counts(article_id), rounds)
            rows = await _time(by_rows, rounds)
            counts = await service.reactions.counts(article_id)
            agree = counts == await by_rows()
    total = counts.everything().total
    median, p95 = statistics.median(kept) * 1000, percentile(kept, 95) * 1000
    before = statistics.median(rows) * 1000
    return [
        Result(
            f"19. A popular article's reaction counts read ({reactions:,} reactions)",
            f"{median:.2f} ms",
            "<= 10 ms",
            median <= 10 and agree,
            f"median of {rounds} reads, p95 {p95:.2f} ms (reaction_tally: per target, "
            f"platform and emoji); reading every row and counting them: {before:.1f} ms "
            f"median ({before / median:,.0f}x); {total:,} counted (100 banned readers and a "
            f"hidden comment's 20 left out), both ways {'agree' if agree else 'DISAGREE'}",
        )
    ]


def run(quick: bool) -> list[Result]:
    return asyncio.run(popular_counts(4_000 if quick else 40_000))
