"""The ``ReactionStore`` on SQL, written once for SQLite and PostgreSQL (see ``storage.units``
for ``Tx`` and the placeholders): a batch written set-wise (``storage.reaction_writes``), and
counts read from the per-target counts it keeps (``reaction_tally``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import storage.rows as rows
from newsbot import reactions
from newsbot.models import ArticleId, CommentId, CountRefresh, Platform
from newsbot.reactions import ReactionCounts, ReactionEvent, Target
from storage.reaction_writes import write_batch
from storage.units import Tx

T = TypeVar("T")

_VISIBLE = (
    "t.article_id = $1 AND t.readers + t.anonymous > 0 AND (t.comment_key = 0 OR EXISTS "
    "(SELECT 1 FROM comments c WHERE c.id = t.comment_key AND c.status = 'visible'))"
)
TALLY_ROWS = (
    "SELECT t.comment_key, t.platform, t.emoji, t.readers + t.anonymous "
    f"FROM reaction_tally t WHERE {_VISIBLE}"
)
"""An article's per-target counts (``reaction_tally``, kept with every batch and ban),
hidden comments left out: one index range, however many readers reacted."""

TALLY_TOTAL = f"SELECT SUM(t.readers + t.anonymous) FROM reaction_tally t WHERE {_VISIBLE}"
"""An article's reactions in all, for a post's count line (``None``: none)."""


def tally_rows(article_id: ArticleId, found: Iterable[Any]) -> ReactionCounts:
    """``TALLY_ROWS``'s rows as counts (``reactions.from_tally``)."""
    return reactions.from_tally(
        article_id,
        (
            (None if comment == 0 else CommentId(comment), Platform(platform), emoji, int(n))
            for comment, platform, emoji, n in found
        ),
    )


class SqlReactions:
    """Reactions on a backend's ``_atomic`` (writes) and ``_rows`` (reads)."""

    async def _atomic(self, body: Callable[[Tx], Awaitable[T]]) -> T:
        raise NotImplementedError

    async def _rows(self, sql: str, *args: Any) -> list[Any]:
        raise NotImplementedError

    async def record_reactions(
        self,
        events: Sequence[ReactionEvent],
        *,
        allowed: Sequence[str] | None = None,
        refresh: CountRefresh | None = None,
    ) -> list[Target | None]:
        if not events:
            return []
        return await self._atomic(lambda tx: write_batch(tx, events, allowed, refresh))

    async def reaction_counts(self, article_id: ArticleId) -> ReactionCounts:
        return tally_rows(article_id, await self._rows(TALLY_ROWS, article_id))

    async def reader_reactions(
        self, article_id: ArticleId, platform: Platform, reader: str
    ) -> dict[CommentId | None, tuple[str, ...]]:
        found: dict[CommentId | None, tuple[str, ...]] = {}
        for comment, emoji in await self._rows(
            "SELECT comment_id, emoji FROM reactions "
            "WHERE article_id = $1 AND platform = $2 AND reader = $3 ORDER BY reacted_at, emoji",
            article_id,
            str(platform),
            reader,
        ):
            key = None if comment is None else CommentId(comment)
            if emoji not in found.get(key, ()):
                found[key] = (*found.get(key, ()), emoji)
        return found

    async def reaction_totals(self) -> dict[Platform, int]:
        totals: dict[Platform, int] = {}
        for platform, count in await self._rows(
            "SELECT platform, COUNT(*) FROM reactions GROUP BY platform "
            "UNION ALL SELECT platform, SUM(count) FROM reaction_counts GROUP BY platform"
        ):
            totals[Platform(platform)] = totals.get(Platform(platform), 0) + int(count)
        return dict(sorted(totals.items()))

    async def reaction_times(self, article_id: ArticleId) -> list[tuple[datetime, Platform, int]]:
        found = await self._rows(
            "SELECT reacted_at, platform, 1 FROM reactions WHERE article_id = $1 "
            "UNION ALL SELECT counted_at, platform, count FROM reaction_counts "
            "WHERE article_id = $1",
            article_id,
        )
        times = [(rows.at(at), Platform(platform), int(count)) for at, platform, count in found]
        return sorted(times, key=lambda item: (item[0], item[1]))
