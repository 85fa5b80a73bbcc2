"""The ``Store`` on PostgreSQL through asyncpg, for several workers on one database.

Every method is one transaction on a connection of a pool (reads are single statements, so
each sees one snapshot). Several processes share the database: claims take rows with
``FOR UPDATE SKIP LOCKED``, roles are one atomic upsert, rate slots and requests serialise
on transaction-level advisory locks, and every change that matters to other processes
NOTIFYs them in the same transaction (``watch`` LISTENs on a connection of its own).

``store`` holds ``PostgresStore`` with the comments' group commit (``ingest`` writes its
batches), ``outbox`` the claims, ``state`` rate slots and the feeds' reads (``storage.units``
the other writes), ``connection`` the pool and the LISTEN connection, and ``migrations/`` the
schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import storage.rows as rows
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
from storage.base import Result, Waiting
from storage.features import SqlFeatures
from storage.postgres.connection import Conn, PostgresConnections, _count, _notify, _utc
from storage.postgres.ingest import _ingest
from storage.postgres.outbox import PostgresOutbox
from storage.postgres.state import PostgresCoordination
from storage.units import _topics

_COMMENT_LOCK = 0x6E62_7302
_REQUEST_CLASS = 0x6E62_02
_IN_FLIGHT = 1  # group-commit batches under way at once


migrations = PostgresConnections.migrations


class PostgresStore(
    PostgresOutbox,
    PostgresCoordination,
    SqlFeatures,
):
    """A ``Store`` in one PostgreSQL database (``postgresql://user@host:port/db``).

    Several processes share the database: claims take rows with ``FOR UPDATE SKIP LOCKED``,
    roles are one atomic upsert, rate slots and requests serialise on transaction-level
    advisory locks, and every change that matters to other processes NOTIFYs them in the same
    transaction (``watch`` LISTENs on a connection of its own). Comments arriving together are
    written by one task in one transaction with set-wise statements (group commit).

    Args:
        dsn: the server's URL; libpq parameters in its query string are passed on, and any
            other (``?search_path=x``) becomes a server setting of each connection.
        synchronous: ``FULL`` (or ``EXTRA``) waits for each commit to reach the server's
            disk; ``NORMAL`` sets ``synchronous_commit = off``: a crash of the server (not
            of newsbot) can lose the last fraction of a second of commits.
        pool_size: connections at most, besides the one ``watch`` listens on.
        connect_timeout: seconds to wait for a connection before failing.
        command_timeout: seconds a statement may take before it fails.
    """

    def __init__(
        self,
        dsn: str,
        *,
        synchronous: str = "FULL",
        pool_size: int = 10,
        connect_timeout: float = 5.0,
        command_timeout: float = 10.0,
    ) -> None:
        super().__init__(
            dsn,
            synchronous=synchronous,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
        )
        self.in_flight = _IN_FLIGHT

    # -- articles -------------------------------------------------------------------------

    # -- destinations ---------------------------------------------------------------------

    # -- message links --------------------------------------------------------------------

    async def resolve_message(self, ref: MessageRef) -> MessageLink | None:
        async def body(conn: Conn) -> MessageLink | None:
            row = await conn.fetchrow(
                "SELECT 0 AS k, article_id, comment_id, destination_id FROM message_links "
                "WHERE platform = $1 AND chat_id = $2 AND message_id = $3 "
                "UNION ALL SELECT 1, article_id, id, NULL FROM comments "
                "WHERE source_platform = $1 AND source_chat_id = $2 AND source_message_id = $3 "
                "ORDER BY k LIMIT 1",
                str(ref.platform),
                ref.chat_id,
                ref.message_id,
            )
            if row is None:
                return None
            return MessageLink(
                ref,
                ArticleId(row[1]),
                None if row[2] is None else CommentId(row[2]),
                None if row[3] is None else DestinationId(row[3]),
            )

        return await self._read(body)

    # -- comments -------------------------------------------------------------------------

    async def add_comment(
        self,
        new: NewComment,
        mirror_to: Sequence[DestinationId] = (),
        mirror_due: datetime | None = None,
    ) -> tuple[Comment, bool]:
        async def body(conn: Conn) -> tuple[Comment, bool]:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _COMMENT_LOCK)
            root_id = None
            if new.parent_id is not None:
                root_id = await conn.fetchval(
                    "SELECT COALESCE(root_id, id) FROM comments WHERE id = $1 AND article_id = $2",
                    new.parent_id,
                    new.article_id,
                )
            parent_id = new.parent_id if root_id is not None else None
            comment_id = await conn.fetchval(
                "INSERT INTO comments (article_id, parent_id, root_id, author_name, "
                "author_platform, author_user_id, text, source_platform, source_chat_id, "
                "source_message_id, status, created_at) "
                "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'visible',$11) "
                "ON CONFLICT (source_platform, source_chat_id, source_message_id) DO NOTHING "
                "RETURNING id",
                new.article_id,
                parent_id,
                root_id,
                *rows.comment_values(new),
                new.created_at,
            )
            if comment_id is None:
                existing = await _comment_by_source(conn, new.source)
                assert existing is not None
                return existing, False
            queued = 0
            if mirror_to:
                stamp = mirror_due or new.created_at
                queued = _count(
                    await conn.execute(
                        "INSERT INTO deliveries (article_id, comment_id, destination_id, "
                        "platform, op, state, due_at, created_at, updated_at) "
                        "SELECT $1, $2, t.id, t.platform, 'post', 'pending', $3, $3, $3 "
                        "FROM unnest($4::bigint[]) WITH ORDINALITY AS u(id, n) "
                        "JOIN destinations t ON t.id = u.id AND t.active ORDER BY u.n "
                        "ON CONFLICT DO NOTHING",
                        new.article_id,
                        comment_id,
                        stamp,
                        list(mirror_to),
                    )
                )
            await _notify(conn, _topics(new.article_id, queued))
            return rows.added(new, CommentId(comment_id), parent_id, _utc(new.created_at)), True

        return await self._tx(body)

    async def _write_incoming(self) -> None:
        """The group-commit writer: every comment queued while a batch is being written goes
        into the next one, in one transaction.

        With ``in_flight`` above 1, the next batch begins (and queues on the server for the
        comment lock) while the last one commits; it looks up what that one stored only once
        it committed. On a 2-core machine with the server local, 2 measured no better than 1.
        """
        slots = asyncio.Semaphore(self.in_flight)
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                await self._incoming_ready.wait()
                self._incoming_ready.clear()
                while self._incoming:
                    await slots.acquire()
                    task = asyncio.create_task(self._write_batch(self._take_batch()))
                    running.add(task)
                    task.add_done_callback(running.discard)
                    task.add_done_callback(lambda _t: slots.release())
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _write_batch(self, batch: list[Waiting]) -> None:
        await self._answer(batch, self._ingest)

    async def _ingest(self, items: list[IncomingComment]) -> list[Result]:
        async def write(conn: Conn) -> list[Result]:
            return await _ingest(conn, items)

        return await self._tx(write, lock=_COMMENT_LOCK)

    async def thread_page(
        self,
        article_id: ArticleId,
        limit: int,
        after: ThreadCursor | None,
        *,
        newest_first: bool,
    ) -> tuple[list[Comment], list[Comment], int]:
        order = "DESC" if newest_first else "ASC"
        params: list[Any] = [article_id, limit]
        position = ""
        if after is not None:
            position = " AND (created_at, id) " + ("<" if newest_first else ">") + " ($3, $4)"
            params += [after.created_at, after.comment_id]
        blanks = ", ".join(["NULL"] * (len(rows.COMMENT.split(",")) - 1))
        replies = ", ".join(f"c.{c.strip()}" for c in rows.COMMENT.split(","))
        # One statement, so one snapshot: the page, every reply under it and the count agree.
        sql = (
            f"WITH roots AS (SELECT {rows.COMMENT} FROM comments WHERE article_id = $1 "
            f"AND parent_id IS NULL{position} ORDER BY created_at {order}, id {order} LIMIT $2) "
            f"SELECT 0 AS part, * FROM roots UNION ALL "
            f"SELECT 1, {replies} FROM comments c WHERE c.root_id IN (SELECT id FROM roots) "
            "AND c.article_id = $1 UNION ALL "
            f"SELECT 2, count(*), {blanks} FROM comments "
            "WHERE article_id = $1 AND status = 'visible'"
        )

        async def body(conn: Conn) -> tuple[list[Comment], list[Comment], int]:
            top: list[Comment] = []
            below: list[Comment] = []
            total = 0
            for row in await conn.fetch(sql, *params):
                part = row[0]
                if part == 2:
                    total = row[1]
                else:
                    (top if part == 0 else below).append(rows.comment(row[1:]))
            top.sort(key=lambda c: (c.created_at, c.id), reverse=newest_first)
            below.sort(key=lambda c: (c.created_at, c.id))
            return top, below, total

        return await self._read(body)


async def _comment_by_source(conn: Conn, source: MessageRef) -> Comment | None:
    row = await conn.fetchrow(
        f"SELECT {rows.COMMENT} FROM comments WHERE source_platform = $1 "
        "AND source_chat_id = $2 AND source_message_id = $3",
        str(source.platform),
        source.chat_id,
        source.message_id,
    )
    return None if row is None else rows.comment(row)
