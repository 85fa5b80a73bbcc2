"""``RoutingStore`` for the SQL backends: filters and templates per destination."""

from __future__ import annotations

from datetime import datetime

import storage.rows as rows
from newsbot.models import Destination, DestinationId
from storage.units import CommonUnits, Tx


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
