"""Updates: the queue the bot long-polls with getUpdates."""

from __future__ import annotations

import asyncio
import contextlib

from .wire import ApiError, JSONDict, _bad_request, _Params
from .world import World, _Poll

_DEFAULT_EXCLUDED_UPDATES = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)


class Updates(World):
    """Long polling: getUpdates with offsets, allowed_updates and the one-poller rule; webhooks."""

    async def _m_delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            if self._updates:
                self.confirmed_offset = self._updates[-1]["update_id"] + 1
            self._updates.clear()
        return True

    async def _m_get_webhook_info(self, params: _Params) -> JSONDict:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _confirm(self, offset: int | None) -> None:
        if not offset:
            return
        if offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
            self.confirmed_offset = max(self.confirmed_offset, offset)
            return
        while len(self._updates) > -offset:
            self._updates.popleft()
        if self._updates:
            self.confirmed_offset = max(self.confirmed_offset, self._updates[0]["update_id"])

    def _deliverable(self, limit: int) -> list[JSONDict]:
        allowed = self._allowed_updates
        batch: list[JSONDict] = []
        for update in self._updates:
            kind = next(key for key in update if key != "update_id")
            if allowed:
                if kind not in allowed:
                    continue
            elif kind in _DEFAULT_EXCLUDED_UPDATES:
                continue
            # A snapshot taken when it was queued, serialized as soon as it is returned: no
            # copy needed (copying cost more than the rest of a busy getUpdates).
            batch.append(update)
            if len(batch) >= limit:
                break
        return batch

    async def _m_get_updates(self, params: _Params) -> list[JSONDict]:
        offset = params.integer("offset")
        limit = min(max(params.integer("limit", 100) or 100, 1), 100)
        timeout = max(0.0, params.number("timeout", 0.0))
        allowed = params.obj("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(k, str) for k in allowed):
                raise _bad_request("can't parse allowed_updates JSON object")
            self._allowed_updates = list(allowed)
        self._confirm(offset)
        poll = _Poll()
        for other in self._polls:
            other.conflict = True
        self._polls.append(poll)
        self._wake()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if poll.conflict:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                batch = self._deliverable(limit)
                remaining = deadline - loop.time()
                if batch or self._closing or remaining <= 0:
                    return batch
                event = self._updates_changed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            self._polls.remove(poll)
