"""What both SQL stores do alike around their SQL: the queue of arriving comments that one
group-commit writer drains, the change listeners, and starting and stopping those tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Self

import storage.rows as rows
from newsbot.errors import StorageError
from newsbot.models import Comment, IncomingComment

log = logging.getLogger("newsbot.storage")

BATCH_MAX = 2000  # comments written in one group-commit transaction at most
Result = tuple[Comment, bool] | None
Waiting = tuple[IncomingComment, "asyncio.Future[Any]"]


class SqlStoreBase:
    """The tasks around a SQL store's connections.

    A subclass provides ``migrations`` (its numbered scripts), ``_is_open``, the writer
    (``_write_incoming``, draining ``_incoming`` with ``_take_batch`` and ``_answer``) and
    the watcher (``_watch_changes``, calling ``_report``).
    """

    _WATCH_TASK = "watch"

    def __init__(self, synchronous: str) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown synchronous mode {synchronous!r}")
        self.synchronous = synchronous.upper()
        self._incoming: list[Waiting] = []
        self._incoming_ready = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[str], None]] = []
        self._watcher: asyncio.Task[None] | None = None

    _PACKAGE = ""  # the backend's package, its ``migrations`` folder beside its modules

    @classmethod
    def migrations(cls) -> list[tuple[int, str]]:
        """The numbered migration scripts of this backend, in order."""
        return rows.migrations(cls._PACKAGE)

    def _is_open(self) -> bool:
        raise NotImplementedError

    async def _connect(self) -> None:
        raise NotImplementedError

    async def _disconnect(self) -> None:
        raise NotImplementedError

    async def _tasks_stopped(self) -> None:
        """What a backend stops once the tasks are, before the queue fails and it disconnects."""

    async def _write_incoming(self) -> None:
        raise NotImplementedError

    async def _watch_changes(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect, migrate and start the tasks (see the ``Store`` port)."""
        if self._is_open():
            return
        await self._connect()
        self._start_tasks(self._PACKAGE.rsplit(".", 1)[-1])

    async def close(self) -> None:
        """Stop the tasks and disconnect (see the ``Store`` port)."""
        await self._stop_tasks()
        await self._tasks_stopped()
        self._fail_queued()
        await self._disconnect()

    @property
    def schema_version(self) -> int:
        """The newest schema version this code knows."""
        return self.migrations()[-1][0]

    def _start_tasks(self, name: str) -> None:
        self._writer = asyncio.create_task(self._write_incoming(), name=f"{name}-group-commit")
        if self._listeners:
            self._start_watching()

    async def _stop_tasks(self) -> None:
        watcher, self._watcher = self._watcher, None
        writer, self._writer = self._writer, None
        for task in (watcher, writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _fail_queued(self) -> None:
        self._fail(self._incoming, StorageError("the store was closed"))
        self._incoming.clear()

    # -- arriving comments ------------------------------------------------------------------

    async def ingest_comment(self, incoming: IncomingComment) -> Result:
        """Queue ``incoming`` for the group-commit writer (see the ``Store`` port)."""
        if self._writer is None or self._writer.done():
            raise StorageError("the store is not open")
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._incoming.append((incoming, future))
        self._incoming_ready.set()
        return await future

    def _take_batch(self) -> list[Waiting]:
        batch = self._incoming[:BATCH_MAX]
        del self._incoming[:BATCH_MAX]
        return batch

    @staticmethod
    def _fail(batch: Sequence[Waiting], failure: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(failure)

    async def _answer(
        self,
        batch: Sequence[Waiting],
        write: Callable[[list[IncomingComment]], Awaitable[Sequence[Result]]],
    ) -> bool:
        """Write ``batch`` and answer each caller with what became of its comment, or with
        the failure; whether it was written. The writer outlives any one batch."""
        try:
            results = await write([item for item, _ in batch])
        except Exception as exc:
            failure = (
                exc
                if isinstance(exc, StorageError)
                else StorageError(f"the comments could not be stored: {exc!r}")
            )
            self._fail(batch, failure)
            return False
        except asyncio.CancelledError:
            self._fail(batch, StorageError("the store was closed"))
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
        log.debug("comments written", extra={"batch": len(batch)})
        return True

    # -- changes made by other processes ------------------------------------------------------

    def watch(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with what changed (see the ``Store`` port)."""
        self._listeners.append(listener)
        if self._is_open():
            self._start_watching()

    def _start_watching(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch_changes(), name=self._WATCH_TASK)

    def _report(self, topic: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(topic)
            except Exception:
                log.exception("a change listener failed")
