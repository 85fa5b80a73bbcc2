"""The ``StatsStore`` on SQL, written once for SQLite and PostgreSQL (see ``storage.units``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import storage.rows as rows
from newsbot.models import ArticleId, DeliveryState, Platform
from newsbot.stats import CommentTime, PostTime
from storage.units import Tx

T = TypeVar("T")


class SqlStats:
    """Figures on a backend's ``_atomic`` (writes) and ``_rows`` (reads)."""

    async def _atomic(self, body: Callable[[Tx], Awaitable[T]]) -> T:
        raise NotImplementedError

    async def _rows(self, sql: str, *args: Any) -> list[Any]:
        raise NotImplementedError

    async def add_views(self, counts: Sequence[tuple[ArticleId, str, int]]) -> None:
        summed: dict[tuple[int, str], int] = {}
        for article_id, source, views in counts:
            if views > 0:
                summed[(article_id, source)] = summed.get((article_id, source), 0) + views
        if not summed:
            return

        async def body(tx: Tx) -> None:
            known = set()
            for article_id in sorted({a for a, _ in summed}):
                if await tx.row("SELECT 1 FROM articles WHERE id = $1", article_id) is not None:
                    known.add(article_id)
            await tx.many(
                "INSERT INTO article_views (article_id, source, views) VALUES ($1, $2, $3) "
                "ON CONFLICT (article_id, source) "
                "DO UPDATE SET views = article_views.views + excluded.views",
                [(a, s, n) for (a, s), n in sorted(summed.items()) if a in known],
            )

        await self._atomic(body)

    async def article_views(self, article_id: ArticleId) -> dict[str, int]:
        found = await self._rows(
            "SELECT source, views FROM article_views WHERE article_id = $1 ORDER BY source",
            article_id,
        )
        return {source: int(views) for source, views in found}

    async def view_totals(self) -> int:
        found = await self._rows("SELECT COALESCE(SUM(views), 0) FROM article_views")
        return int(found[0][0]) if found else 0

    async def post_times(self, article_id: ArticleId) -> list[PostTime]:
        found = await self._rows(
            "SELECT t.platform, d.state, d.sent_at, d.destination_id FROM deliveries d "
            "JOIN destinations t ON t.id = d.destination_id "
            "WHERE d.article_id = $1 AND d.comment_id IS NULL ORDER BY d.id",
            article_id,
        )
        return [
            PostTime(
                Platform(platform),
                DeliveryState(state),
                None if sent is None else rows.at(sent),
                f"d{destination}",
            )
            for platform, state, sent, destination in found
        ]

    async def comment_times(self, article_id: ArticleId) -> list[CommentTime]:
        found = await self._rows(
            "SELECT source_platform, created_at, CASE WHEN status = 'visible' THEN 1 ELSE 0 END "
            "FROM comments WHERE article_id = $1 ORDER BY created_at, id",
            article_id,
        )
        return [CommentTime(Platform(p), rows.at(at), bool(v)) for p, at, v in found]
