"""A recording Publisher for core tests: remembers every call and fails on request.

It stands in for a platform adapter the way cosmicpython's FakeNotifications does: the real
service and dispatcher run against it, on real SQLite files. A ``log_path`` makes it append
one JSON line per completed call to a file, so a parent process can count what a child
process sent before it was killed.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

from newsbot import DeliveryError, DestinationGone, Job, MessageRef, Platform, Posted, RateLimited


@dataclass
class Call:
    op: str
    job: Job
    message_id: str | None = None


@dataclass
class RecordingPublisher:
    platform_: Platform = Platform.TELEGRAM
    log_path: Path | None = None
    delay: float = 0.0
    calls: list[Call] = field(default_factory=list)
    failures: list[tuple[str, str | None, float]] = field(default_factory=list)
    hang: asyncio.Event | None = None
    next_id: int = 1000

    @property
    def platform(self) -> Platform:
        return self.platform_

    def fail_next(
        self, kind: str, *, chat_id: str | None = None, retry_after: float = 0.0, count: int = 1
    ) -> None:
        """Queue failures: kind is 'transient', 'gone', 'rate' or 'hang'."""
        self.failures += [(kind, chat_id, retry_after)] * count

    async def _maybe_fail(self, job: Job) -> None:
        for index, (kind, chat_id, retry_after) in enumerate(self.failures):
            if chat_id is None or chat_id == job.destination.chat_id:
                del self.failures[index]
                if kind == "transient":
                    raise DeliveryError("502 Bad Gateway")
                if kind == "gone":
                    raise DestinationGone("403 Forbidden: bot was kicked")
                if kind == "rate":
                    raise RateLimited(retry_after)
                if kind == "hang":
                    await asyncio.Event().wait()
                if kind == "crash":
                    raise RuntimeError("publisher bug")
                return

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        if self.log_path is not None:
            with self.log_path.open("a") as f:
                f.write(
                    json.dumps(
                        {
                            "op": call.op,
                            "chat": call.job.destination.chat_id,
                            "article": call.job.article.id,
                            "comment": call.job.comment.id if call.job.comment else None,
                            "message_id": call.message_id,
                        }
                    )
                    + "\n"
                )
                f.flush()

    async def post(self, job: Job) -> Posted:
        if self.delay:
            await asyncio.sleep(self.delay)
        await self._maybe_fail(job)
        self.next_id += 1
        message_id = str(self.next_id)
        self._record(Call("post", job, message_id))
        return Posted(
            message_id, links=(MessageRef(self.platform, job.destination.chat_id, message_id),)
        )

    async def edit(self, job: Job) -> None:
        await self._maybe_fail(job)
        self._record(Call("edit", job, job.delivery.message_id))

    async def delete(self, job: Job) -> None:
        await self._maybe_fail(job)
        self._record(Call("delete", job, job.delivery.message_id))

    def ops(self, op: str, chat_id: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.op == op and (chat_id is None or c.job.destination.chat_id == chat_id)
        ]
