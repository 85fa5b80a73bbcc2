"""The ``Store`` on SQLite through aiosqlite: WAL, foreign keys, IMMEDIATE write transactions.

Claims, ingestion and reads are each one unit of work run as a single function on aiosqlite's
connection thread: one thread hand-off per method instead of one per statement (each hand-off
costs 0.1 to 0.3 ms, more than the SQL). The rarely-called writes written once in
``storage.units`` take one hand-off per statement. Comments arriving together are written by
one writer in batched transactions (group commit), so a burst of replies costs one fsync per
batch; that writer runs in a child process (``storage.sqlite.ingest``) so its Python does not
share our GIL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import storage.rows as rows
from newsbot import intake
from newsbot.models import (
    ArticleId,
    Comment,
    CommentId,
    DestinationId,
    IncomingComment,
    MessageLink,
    MessageRef,
    NewComment,
    ThreadCursor,
)
from storage.base import Result
from storage.features import SqlFeatures
from storage.sqlite.connection import Conn, _select_in, _ts
from storage.sqlite.ingest import IngestProcess
from storage.sqlite.outbox import SqliteOutbox
from storage.sqlite.state import SqliteCoordination


class SqliteStore(
    SqliteOutbox,
    SqliteCoordination,
    SqlFeatures,
):
    """A ``Store`` in one SQLite file.

    Two aiosqlite connections: one writes, one reads (``query_only``), so that a read never
    waits behind a write, nor behind a database another process holds locked. Each method is
    one unit of work on one of them, and writes run in ``BEGIN IMMEDIATE`` transactions so that
    readers and the command line in other processes never meet a half-done change. Incoming
    comments are batched and written by the ingest process (``storage.sqlite.ingest``), its
    batches queued with this connection's writes behind one write lock.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
    ) -> None:
        super().__init__(path, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms)
        self._ingester = IngestProcess(self.path, self.synchronous, busy_timeout_ms)
        # For monitoring: each comment batch's time.
        self.observe_batch: Callable[[float, int], None] | None = None

    async def _tasks_stopped(self) -> None:
        await self._ingester.stop()

    # -- articles -------------------------------------------------------------------------

    # -- destinations ---------------------------------------------------------------------

    # -- message links --------------------------------------------------------------------

    async def resolve_message(self, ref: MessageRef) -> MessageLink | None:
        return await self._read(lambda conn: _resolve(conn, ref))

    # -- comments -------------------------------------------------------------------------

    async def add_comment(
        self,
        new: NewComment,
        mirror_to: Sequence[DestinationId] = (),
        mirror_due: datetime | None = None,
    ) -> tuple[Comment, bool]:
        def body(conn: Conn) -> tuple[Comment, bool]:
            return _insert_comment(conn, new, mirror_to, mirror_due)

        return await self._tx(body)

    async def _write_incoming(self) -> None:
        """The group-commit writer: every comment queued meanwhile goes in one transaction,
        written by the ingest process (see ``storage.sqlite.ingest``)."""
        while True:
            await self._incoming_ready.wait()
            self._incoming_ready.clear()
            while self._incoming:
                batch = self._take_batch()
                started = time.perf_counter()
                if not await self._answer(batch, self._write_batch):
                    self.errors += 1
                elif self.observe_batch is not None:
                    self.observe_batch(time.perf_counter() - started, len(batch))

    async def _write_batch(self, items: list[IncomingComment]) -> list[Result]:
        frame = self._ingester.encode(items)  # before the lock: others write
        async with self._write_lock:
            outcomes = await self._ingester.write(frame)
        return intake.results(items, outcomes)

    async def thread_page(
        self,
        article_id: ArticleId,
        limit: int,
        after: ThreadCursor | None,
        *,
        newest_first: bool,
    ) -> tuple[list[Comment], list[Comment], int]:
        sql, params = _roots_query(article_id, limit, after, newest_first)

        def body(conn: Conn) -> tuple[list[Comment], list[Comment], int]:
            roots = [rows.comment(r) for r in conn.execute(sql, params).fetchall()]
            return (
                roots,
                _replies(conn, article_id, [c.id for c in roots]),
                _count(conn, article_id),
            )

        return await self._read(body)


# -- the units of work, run on the connection thread ---------------------------------------


def _roots_query(
    article_id: int, limit: int, after: ThreadCursor | None, newest_first: bool
) -> tuple[str, list[Any]]:
    sql = f"SELECT {rows.COMMENT} FROM comments WHERE article_id = ? AND parent_id IS NULL"
    params: list[Any] = [article_id]
    if after is not None:
        sql += " AND (created_at, id) " + ("<" if newest_first else ">") + " (?, ?)"
        params += [_ts(after.created_at), after.comment_id]
    order = "DESC" if newest_first else "ASC"
    sql += f" ORDER BY created_at {order}, id {order} LIMIT ?"
    params.append(limit)
    return sql, params


def _replies(conn: Conn, article_id: int, root_ids: list[CommentId]) -> list[Comment]:
    if not root_ids:
        return []
    below = _select_in(
        conn, f"SELECT {rows.COMMENT} FROM comments WHERE root_id IN ({{}})", root_ids
    )
    found = [rows.comment(r) for r in below if r[1] == article_id]
    found.sort(key=lambda c: (c.created_at, c.id))
    return found


def _count(conn: Conn, article_id: int) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM comments WHERE article_id = ? AND status = 'visible'", (article_id,)
    ).fetchone()
    return int(row[0])


def _banned(conn: Conn, platform: str, user_id: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM bans WHERE platform = ? AND user_id = ?", (platform, user_id)
    ).fetchone()
    return row is not None


def _comment_by_source(conn: Conn, source: MessageRef) -> Comment | None:
    row = conn.execute(
        f"SELECT {rows.COMMENT} FROM comments WHERE source_platform = ? "
        "AND source_chat_id = ? AND source_message_id = ?",
        (str(source.platform), source.chat_id, source.message_id),
    ).fetchone()
    return None if row is None else rows.comment(row)


def _resolve(conn: Conn, ref: MessageRef) -> MessageLink | None:
    found = _resolve_key(conn, (str(ref.platform), ref.chat_id, ref.message_id))
    if found is None:
        return None
    article_id, comment_id, destination_id = found
    return MessageLink(
        ref,
        ArticleId(article_id),
        None if comment_id is None else CommentId(comment_id),
        None if destination_id is None else DestinationId(destination_id),
    )


def _resolve_key(
    conn: Conn, key: tuple[str, str, str]
) -> tuple[int, int | None, int | None] | None:
    """(article_id, comment_id, destination_id) of a chat message we know."""
    row = conn.execute(
        "SELECT article_id, comment_id, destination_id FROM message_links "
        "WHERE platform = ? AND chat_id = ? AND message_id = ?",
        key,
    ).fetchone()
    if row is not None:
        return row[0], row[1], row[2]
    row = conn.execute(
        "SELECT article_id, id FROM comments WHERE source_platform = ? "
        "AND source_chat_id = ? AND source_message_id = ?",
        key,
    ).fetchone()
    return None if row is None else (row[0], row[1], None)


def _insert_comment(
    conn: Conn,
    new: NewComment,
    mirror_to: Sequence[DestinationId],
    mirror_due: datetime | None,
) -> tuple[Comment, bool]:
    root_id = None
    if new.parent_id is not None:
        row = conn.execute(
            "SELECT COALESCE(root_id, id) FROM comments WHERE id = ? AND article_id = ?",
            (new.parent_id, new.article_id),
        ).fetchone()
        root_id = None if row is None else row[0]
    cursor = conn.execute(
        "INSERT INTO comments (article_id, parent_id, root_id, author_name, author_platform, "
        "author_user_id, text, source_platform, source_chat_id, source_message_id, status, "
        "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,'visible',?) "
        "ON CONFLICT (source_platform, source_chat_id, source_message_id) DO NOTHING",
        (
            new.article_id,
            new.parent_id if root_id is not None else None,
            root_id,
            *rows.comment_values(new),
            _ts(new.created_at),
        ),
    )
    if cursor.rowcount == 0:
        existing = _comment_by_source(conn, new.source)
        assert existing is not None
        return existing, False
    comment_id = cursor.lastrowid
    if mirror_to:
        stamp = _ts(mirror_due or new.created_at)
        conn.executemany(
            "INSERT OR IGNORE INTO deliveries (article_id, comment_id, destination_id, platform, "
            "op, state, due_at, created_at, updated_at) SELECT ?, ?, id, platform, 'post', "
            "'pending', ?, ?, ? FROM destinations WHERE id = ? AND active = 1",
            ((new.article_id, comment_id, stamp, stamp, stamp, d) for d in mirror_to),
        )
    return (
        rows.added(
            new,
            CommentId(comment_id or 0),
            new.parent_id if root_id is not None else None,
            rows.at(_ts(new.created_at)),
        ),
        True,
    )
