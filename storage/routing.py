"""``RoutingStore`` for the SQL backends: filters and templates per destination."""

from __future__ import annotations

from datetime import datetime

import storage.rows as rows
from newsbot.models import Article, ArticleDraft, Author, Destination, DestinationId
from storage.units import CommonUnits, Tx, _topics


class RoutingUnits(CommonUnits):
    """Destination settings on a SQL backend."""

    async def destination_by_id(self, destination_id: DestinationId) -> Destination | None:
        row = await self._row(
            f"SELECT {rows.DESTINATION} FROM destinations WHERE id = $1", destination_id
        )
        return None if row is None else rows.destination(row)

    async def _set(
        self, column: str, destination_id: DestinationId, text: str | None, now: datetime
    ) -> bool:
        async def body(tx: Tx) -> bool:
            if await tx.row("SELECT 1 FROM destinations WHERE id = $1", destination_id) is None:
                return False
            await tx.run(
                f"INSERT INTO destination_settings (destination_id, {column}, updated_at) "
                "VALUES ($1, $2, $3) ON CONFLICT (destination_id) DO UPDATE SET "
                f"{column} = excluded.{column}, updated_at = excluded.updated_at",
                destination_id,
                text,
                now,
            )
            return True

        return await self._atomic(body)

    async def _all(self, column: str) -> dict[DestinationId, str]:
        found = await self._rows(
            f"SELECT destination_id, {column} FROM destination_settings "
            f"WHERE {column} IS NOT NULL ORDER BY destination_id"
        )
        return {DestinationId(r[0]): r[1] for r in found}

    async def set_destination_filter(
        self, destination_id: DestinationId, text: str | None, now: datetime
    ) -> bool:
        return await self._set("filter", destination_id, text, now)

    async def destination_filters(self) -> dict[DestinationId, str]:
        return await self._all("filter")

    async def set_destination_template(
        self, destination_id: DestinationId, text: str | None, now: datetime
    ) -> bool:
        return await self._set("template", destination_id, text, now)

    async def destination_templates(self) -> dict[DestinationId, str]:
        return await self._all("template")

    async def add_test_article(
        self, draft: ArticleDraft, author: Author, now: datetime, destination_id: DestinationId
    ) -> Article | None:
        async def body(tx: Tx) -> Article | None:
            active = "SELECT 1 FROM destinations WHERE id = $1 AND active"
            if await tx.row(active, destination_id) is None:
                return None
            row = await tx.row(
                "INSERT INTO articles (title, body, summary, url, image_url, author_name, "
                "author_platform, author_user_id, tags, status, created_at, published_at, "
                "updated_at, revision) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'draft',$10,NULL,"
                f"$10,1) RETURNING {rows.ARTICLE}",
                *rows.draft_values(draft),
                *rows.author_values(author),
                " ".join(draft.tags),
                now,
            )
            assert row is not None
            article = rows.article(row)
            await tx.run(
                "INSERT INTO deliveries (article_id, destination_id, platform, op, state, "
                "due_at, created_at, updated_at, lane) SELECT $1, id, platform, 'post', "
                "'pending', $2, $2, $2, 1 FROM destinations WHERE id = $3",
                article.id,
                now,
                destination_id,
            )
            await tx.notify(_topics(article.id, 1))
            return article

        return await self._atomic(body)
