"""The ``Store`` on PostgreSQL through asyncpg, for several workers on one database.

Every method is one transaction on a connection of a pool (reads are single statements, so
each sees one snapshot). Several processes share the database: claims take rows with
``FOR UPDATE SKIP LOCKED``, roles are one atomic upsert, rate slots and requests serialise
on transaction-level advisory locks, and every change that matters to other processes
NOTIFYs them in the same transaction (``watch`` LISTENs on a connection of its own).

Comments arriving together are written by one task in one transaction with set-wise
statements (group commit); the server is the other process, so no child process is needed.
A lost server surfaces as ``StorageError`` within the connect or command timeout; the pool
opens fresh connections once it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from newsbot import intake, mirroring
from newsbot.errors import SchemaTooNew, StorageError
from newsbot.intake import ArticlePost, Lineage, Lookups, Plan
from newsbot.models import (
    Article,
    ArticleCursor,
    ArticleDraft,
    ArticleId,
    ArticleStatus,
    Author,
    Comment,
    CommentId,
    CommentStatus,
    Delivery,
    DeliveryId,
    DeliveryOp,
    DeliveryState,
    DeliveryStatus,
    Destination,
    DestinationId,
    DestinationKind,
    Feed,
    FeedId,
    FeedItem,
    IncomingComment,
    Job,
    MessageLink,
    MessageRef,
    NewComment,
    NewDestination,
    NewFeed,
    Platform,
    Posted,
    RoleLease,
    ThreadCursor,
    WorkerInfo,
)

log = logging.getLogger("newsbot.storage")

T = TypeVar("T")
if TYPE_CHECKING:  # asyncpg's classes are generic only in its stubs
    Conn = PoolConnectionProxy[asyncpg.Record]
else:
    Conn = PoolConnectionProxy
Row = asyncpg.Record

CHANNEL = "newsbot"
PENDING_REASON = "waiting for a newsbot admin's approval"
# Advisory lock keys. The one-argument (bigint) and two-argument (int, int) forms never
# collide with each other; the numbers only need to be newsbot's own.
_MIGRATION_LOCK = 0x6E62_7301
_COMMENT_LOCK = 0x6E62_7302
_SLOT_CLASS = 0x6E62_01
_SLOT_PRUNE = 100  # expired rate slots deleted per take_slot at most
_REQUEST_CLASS = 0x6E62_02
_BATCH_MAX = 2000
_IN_FLIGHT = 1  # group-commit batches under way at once
_PING_INTERVAL = 5.0
_MIGRATION_TIMEOUT = 3600.0
_RETRIES = 3  # of a transaction that lost a deadlock or a serialisation conflict

_ARTICLE = (
    "id, title, body, summary, url, image_url, author_name, author_platform, author_user_id, "
    "tags, status, created_at, published_at, updated_at, revision"
)
_COMMENT = (
    "id, article_id, parent_id, author_name, author_platform, author_user_id, text, "
    "source_platform, source_chat_id, source_message_id, status, created_at, edited_at, "
    "deleted_at"
)
_DESTINATION = (
    "id, platform, chat_id, thread_id, title, kind, active, tags, deactivated_reason, pending"
)
_DELIVERY = (
    "id, article_id, comment_id, destination_id, platform, op, state, attempts, due_at, "
    "last_error, message_id, thread_id, generation, updated_at, claimed_by"
)
_FEED = (
    "id, url, title, tags, interval_s, backfill, active, created_at, next_poll_at, "
    "last_poll_at, last_success_at, last_status, etag, last_modified, errors, last_error, "
    "deactivated_reason"
)
_FAILURES = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    OSError,
    TimeoutError,
)
_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)


def migrations() -> list[tuple[int, str]]:
    """The numbered migration scripts shipped in ``storage/pg_migrations``, in order."""
    found = []
    for entry in resources.files("storage").joinpath("pg_migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def describe(dsn: str) -> str:
    """The server and database of a URL, without its password (for messages and logs)."""
    parts = urlsplit(dsn)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"postgresql://{user}{host}{port}{parts.path}"


def _tags(value: str) -> tuple[str, ...]:
    return tuple(value.split()) if value else ()


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is UTC else value.astimezone(UTC)


_PLATFORMS = {str(p): p for p in Platform}
_STATUSES = {str(s): s for s in CommentStatus}


def _article(row: Row) -> Article:
    return Article(
        id=ArticleId(row[0]),
        title=row[1],
        body=row[2],
        summary=row[3],
        url=row[4],
        image_url=row[5],
        author=Author(row[6], Platform(row[7]), row[8]),
        tags=_tags(row[9]),
        status=ArticleStatus(row[10]),
        created_at=row[11],
        published_at=row[12],
        updated_at=row[13],
        revision=row[14],
    )


def _comment(row: Row | Sequence[Any]) -> Comment:
    return Comment(
        row[0],
        row[1],
        row[2],
        Author(row[3], _PLATFORMS[row[4]], row[5]),
        row[6],
        MessageRef(_PLATFORMS[row[7]], row[8], row[9]),
        _STATUSES[row[10]],
        row[11],
        row[12],
        row[13],
    )


def _destination(row: Row | Sequence[Any]) -> Destination:
    return Destination(
        id=DestinationId(row[0]),
        platform=Platform(row[1]),
        chat_id=row[2],
        thread_id=row[3] or None,
        title=row[4],
        kind=DestinationKind(row[5]),
        active=bool(row[6]),
        tags=_tags(row[7]),
        deactivated_reason=row[8],
        pending=bool(row[9]),
    )


def _feed(row: Row | Sequence[Any], items_seen: int = 0) -> Feed:
    return Feed(
        id=FeedId(row[0]),
        url=row[1],
        title=row[2],
        tags=_tags(row[3]),
        interval=float(row[4]),
        backfill=row[5],
        active=bool(row[6]),
        created_at=row[7],
        next_poll_at=row[8],
        last_poll_at=row[9],
        last_success_at=row[10],
        last_status=row[11],
        etag=row[12],
        last_modified=row[13],
        errors=row[14],
        last_error=row[15],
        deactivated_reason=row[16],
        items_seen=items_seen,
    )


def _delivery(row: Row | Sequence[Any]) -> Delivery:
    return Delivery(
        id=DeliveryId(row[0]),
        article_id=ArticleId(row[1]),
        comment_id=None if row[2] is None else CommentId(row[2]),
        destination_id=DestinationId(row[3]),
        platform=Platform(row[4]),
        op=DeliveryOp(row[5]),
        state=DeliveryState(row[6]),
        attempts=row[7],
        next_attempt_at=row[8],
        last_error=row[9],
        message_id=row[10],
        thread_id=row[11],
        generation=row[12],
        updated_at=row[13],
        claimed_by=row[14],
    )


def _count(status: str) -> int:
    """The row count of a command status such as ``UPDATE 3``."""
    return int(status.rsplit(" ", 1)[-1])


async def _notify(conn: Conn, topics: Iterable[str]) -> None:
    """Tell the other processes, at commit, what changed (identical ones are sent once)."""
    names = sorted(set(topics))
    if names:
        await conn.execute(
            "SELECT pg_notify($1, topic) FROM unnest($2::text[]) AS topic", CHANNEL, names
        )


class PostgresStore:
    """A ``Store`` in one PostgreSQL database (``postgresql://user@host:port/db``).

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
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown synchronous mode {synchronous!r}")
        self.dsn = dsn
        self.name = describe(dsn)
        self.synchronous = synchronous.upper()
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._incoming: list[tuple[IncomingComment, asyncio.Future[Any]]] = []
        self._incoming_ready = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[str], None]] = []
        self._watcher: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()  # set while the LISTEN connection is up
        self.in_flight = _IN_FLIGHT

    async def __aenter__(self) -> PostgresStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def schema_version(self) -> int:
        """The newest schema version this code knows."""
        return migrations()[-1][0]

    def _settings(self) -> dict[str, str]:
        settings = {
            "application_name": "newsbot",
            # A process frozen inside a transaction (SIGSTOP, a frozen VM) must not hold its
            # locks, the comment writers' one included, for longer than a role's lease or two.
            "idle_in_transaction_session_timeout": "10000",
        }
        if self.synchronous in ("OFF", "NORMAL"):
            settings["synchronous_commit"] = "off"
        return settings

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self.pool_size,
                timeout=self.connect_timeout,
                command_timeout=self.command_timeout,
                max_inactive_connection_lifetime=60,
                server_settings=self._settings(),
                reset=_rollback,
            )
        except _FAILURES as exc:
            raise StorageError(f"cannot open database {self.name}: {exc}") from exc
        self._pool = pool
        try:
            await self._migrate()
        except BaseException:
            self._pool = None
            pool.terminate()
            raise
        self._writer = asyncio.create_task(self._write_incoming(), name="postgres-group-commit")
        if self._listeners:
            self._start_watching()

    async def _migrate(self) -> None:
        known = migrations()
        newest = known[-1][0]
        async with self._connection() as conn:
            # Workers starting together: one migrates, the others wait and find it done.
            # Migrating a big database takes what it takes: no command timeout here.
            await conn.execute(
                "SELECT pg_advisory_lock($1)", _MIGRATION_LOCK, timeout=_MIGRATION_TIMEOUT
            )
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                    "applied_at timestamptz NOT NULL DEFAULT now())"
                )
                current = await conn.fetchval(
                    "SELECT COALESCE(max(version), 0) FROM schema_migrations"
                )
                if current > newest:
                    raise SchemaTooNew(
                        f"{self.name} has schema version {current}, newer than this newsbot "
                        f"understands ({newest}); upgrade newsbot or use another "
                        "NEWSBOT_DATABASE."
                    )
                for version, script in known:
                    if version > current:
                        async with conn.transaction():
                            await conn.execute(script, timeout=_MIGRATION_TIMEOUT)
                            await conn.execute(
                                "INSERT INTO schema_migrations (version) VALUES ($1)", version
                            )
                        log.info(
                            "database migrated", extra={"version": version, "database": self.name}
                        )
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)

    async def close(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        for _, future in self._incoming:
            if not future.done():
                future.set_exception(StorageError("the store was closed"))
        self._incoming.clear()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self.connect_timeout)
            except (*_FAILURES, asyncio.CancelledError):
                pool.terminate()

    # -- running work on a connection -----------------------------------------------------

    def _failure(self, exc: BaseException) -> StorageError:
        if isinstance(exc, UnicodeEncodeError):
            return StorageError(f"text that is not valid Unicode cannot be stored: {exc}")
        if isinstance(exc, _LOST):
            return StorageError(
                f"the database {self.name} is unavailable ({type(exc).__name__}: {exc}); "
                "try again shortly"
            )
        return StorageError(f"database error on {self.name}: {exc}")

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Conn]:
        pool = self._pool
        if pool is None:
            raise StorageError("the store is not open")
        try:
            async with pool.acquire(timeout=self.connect_timeout) as conn:
                yield conn
        except (*_FAILURES, UnicodeEncodeError) as exc:
            raise self._failure(exc) from exc

    async def _read(self, body: Callable[[Conn], Awaitable[T]]) -> T:
        """Run one read; once more on a fresh connection if the first one was found dead."""
        for attempt in (1, 2):
            try:
                async with self._connection() as conn:
                    return await body(conn)
            except StorageError as exc:
                if attempt == 2 or not isinstance(exc.__cause__, asyncpg.PostgresConnectionError):
                    raise
        raise AssertionError("unreachable")

    async def _tx(self, body: Callable[[Conn], Awaitable[T]], *, lock: int | None = None) -> T:
        """Run ``body`` in one transaction (holding the advisory ``lock`` from its start);
        again if the server aborted it to break a deadlock or a serialisation conflict
        (``body`` keeps no state between attempts)."""
        # BEGIN and the lock in one round trip: at full ingestion rates each round trip
        # waits for the busy event loop. On any failure the pool rolls the connection back.
        begin = "BEGIN" if lock is None else f"BEGIN; SELECT pg_advisory_xact_lock({lock})"
        for attempt in range(1, _RETRIES + 1):
            try:
                async with self._connection() as conn:
                    await conn.execute(begin)
                    result = await body(conn)
                    await conn.execute("COMMIT")
                    return result
            except StorageError as exc:
                if attempt == _RETRIES or not isinstance(
                    exc.__cause__, asyncpg.TransactionRollbackError
                ):
                    raise
                log.info("transaction retried", extra={"reason": str(exc.__cause__)})
        raise AssertionError("unreachable")

    # -- articles -------------------------------------------------------------------------

    async def add_article(
        self,
        draft: ArticleDraft,
        author: Author,
        now: datetime,
        deliver_to: Sequence[DestinationId],
        *,
        request: str | None = None,
    ) -> tuple[Article, bool]:
        async def body(conn: Conn) -> tuple[Article, bool]:
            if request is not None:
                done = await _request(conn, request)
                if done is not None:
                    row = await conn.fetchrow(
                        f"SELECT {_ARTICLE} FROM articles WHERE id = $1", done
                    )
                    assert row is not None
                    return _article(row), False
            row = await conn.fetchrow(
                "INSERT INTO articles (title, body, summary, url, image_url, author_name, "
                "author_platform, author_user_id, tags, status, created_at, published_at, "
                "updated_at, revision) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'published',$10,$10,"
                f"$10,1) RETURNING {_ARTICLE}",
                draft.title,
                draft.body,
                draft.summary,
                draft.url,
                draft.image_url,
                author.name,
                str(author.platform),
                author.user_id,
                " ".join(draft.tags),
                now,
            )
            assert row is not None
            article = _article(row)
            queued = await conn.execute(
                "INSERT INTO deliveries (article_id, destination_id, platform, op, state, "
                "due_at, created_at, updated_at) SELECT $1, t.id, t.platform, 'post', "
                "'pending', $2, $2, $2 FROM unnest($3::bigint[]) WITH ORDINALITY AS u(id, n) "
                "JOIN destinations t ON t.id = u.id AND t.active ORDER BY u.n "
                "ON CONFLICT DO NOTHING",
                article.id,
                now,
                list(deliver_to),
            )
            if request is not None:
                await conn.execute(
                    "INSERT INTO requests (key, kind, article_id, created_at) "
                    "VALUES ($1, 'publish', $2, $3)",
                    request,
                    article.id,
                    now,
                )
            await _notify(conn, _topics(article.id, _count(queued)))
            return article, True

        return await self._tx(body)

    async def update_article(
        self,
        article_id: ArticleId,
        draft: ArticleDraft,
        now: datetime,
        *,
        request: str | None = None,
    ) -> int | None:
        async def body(conn: Conn) -> int | None:
            if request is not None:
                if await _request(conn, request) is not None:
                    return None
                await conn.execute(
                    "INSERT INTO requests (key, kind, article_id, created_at) "
                    "VALUES ($1, 'edit', $2, $3)",
                    request,
                    article_id,
                    now,
                )
            await conn.execute(
                "UPDATE articles SET title = $1, body = $2, summary = $3, url = $4, "
                "image_url = $5, tags = $6, updated_at = $7, revision = revision + 1 "
                "WHERE id = $8",
                draft.title,
                draft.body,
                draft.summary,
                draft.url,
                draft.image_url,
                " ".join(draft.tags),
                now,
                article_id,
            )
            count = await _reenqueue(
                conn, "article_id = $1 AND comment_id IS NULL", article_id, DeliveryOp.EDIT, now
            )
            await _notify(conn, _topics(article_id, count))
            return count

        return await self._tx(body)

    async def retract_article(self, article_id: ArticleId, now: datetime) -> int:
        async def body(conn: Conn) -> int:
            await conn.execute(
                "UPDATE articles SET status = 'retracted', updated_at = $1 WHERE id = $2",
                now,
                article_id,
            )
            count = await _reenqueue(conn, "article_id = $1", article_id, DeliveryOp.DELETE, now)
            await _notify(conn, _topics(article_id, count))
            return count

        return await self._tx(body)

    async def get_article(self, article_id: ArticleId) -> Article | None:
        async def body(conn: Conn) -> Article | None:
            row = await conn.fetchrow(f"SELECT {_ARTICLE} FROM articles WHERE id = $1", article_id)
            return None if row is None else _article(row)

        return await self._read(body)

    async def latest_articles(self, limit: int, before: ArticleCursor | None) -> list[Article]:
        sql = f"SELECT {_ARTICLE} FROM articles WHERE status = 'published'"
        params: list[Any] = []
        if before is not None:
            sql += " AND (published_at, id) < ($1, $2)"
            params += [before.published_at, before.article_id]
        sql += f" ORDER BY published_at DESC, id DESC LIMIT ${len(params) + 1}"
        params.append(limit)

        async def body(conn: Conn) -> list[Article]:
            return [_article(r) for r in await conn.fetch(sql, *params)]

        return await self._read(body)

    async def count_comments(self, article_id: ArticleId) -> int:
        async def body(conn: Conn) -> int:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM comments WHERE article_id = $1 AND status = 'visible'",
                    article_id,
                )
            )

        return await self._read(body)

    # -- destinations ---------------------------------------------------------------------

    async def add_destination(
        self, new: NewDestination, now: datetime, *, pending: bool = False
    ) -> tuple[Destination, bool]:
        key = (str(new.platform), new.chat_id, new.thread_id or "")
        active, reason = (False, PENDING_REASON) if pending else (True, None)

        async def body(conn: Conn) -> tuple[Destination, bool]:
            row = await conn.fetchrow(
                f"SELECT {_DESTINATION} FROM destinations "
                "WHERE platform = $1 AND chat_id = $2 AND thread_id = $3",
                *key,
            )
            if row is not None and (row[6] or (pending and row[9])):
                return _destination(row), False
            row = await conn.fetchrow(
                "INSERT INTO destinations (platform, chat_id, thread_id, title, kind, active, "
                "pending, deactivated_reason, tags, created_at, updated_at) "
                "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$10) "
                "ON CONFLICT (platform, chat_id, thread_id) DO UPDATE SET "
                "active = excluded.active, pending = excluded.pending, "
                "title = excluded.title, kind = excluded.kind, tags = excluded.tags, "
                "updated_at = excluded.updated_at, "
                f"deactivated_reason = excluded.deactivated_reason RETURNING {_DESTINATION}",
                *key,
                new.title,
                str(new.kind),
                active,
                not active,
                reason,
                " ".join(new.tags),
                now,
            )
            assert row is not None
            return _destination(row), True

        return await self._tx(body)

    async def approve_destination(self, destination_id: DestinationId, now: datetime) -> bool:
        async def body(conn: Conn) -> bool:
            status = await conn.execute(
                "UPDATE destinations SET active = true, pending = false, "
                "deactivated_reason = NULL, updated_at = $1 WHERE id = $2 AND pending",
                now,
                destination_id,
            )
            return _count(status) > 0

        return await self._tx(body)

    async def get_destination(
        self, platform: Platform, chat_id: str, thread_id: str | None = None
    ) -> Destination | None:
        async def body(conn: Conn) -> Destination | None:
            row = await conn.fetchrow(
                f"SELECT {_DESTINATION} FROM destinations "
                "WHERE platform = $1 AND chat_id = $2 AND thread_id = $3",
                str(platform),
                chat_id,
                thread_id or "",
            )
            return None if row is None else _destination(row)

        return await self._read(body)

    async def deactivate_destination(
        self, destination_id: DestinationId, reason: str, now: datetime
    ) -> bool:
        async def body(conn: Conn) -> bool:
            status = await conn.execute(
                "UPDATE destinations SET active = false, pending = false, "
                "deactivated_reason = $1, updated_at = $2 WHERE id = $3 AND (active OR pending)",
                reason,
                now,
                destination_id,
            )
            await conn.execute(
                "UPDATE deliveries SET state = 'dead', due_at = NULL, updated_at = $1, "
                "last_error = $2 WHERE destination_id = $3 AND state IN ('pending', 'failed')",
                now,
                f"destination inactive: {reason}",
                destination_id,
            )
            return _count(status) > 0

        return await self._tx(body)

    async def list_destinations(
        self, platform: Platform | None = None, *, active_only: bool = True
    ) -> list[Destination]:
        sql = f"SELECT {_DESTINATION} FROM destinations WHERE true"
        params: list[Any] = []
        if active_only:
            sql += " AND active"
        if platform is not None:
            sql += " AND platform = $1"
            params.append(str(platform))
        sql += " ORDER BY id"

        async def body(conn: Conn) -> list[Destination]:
            return [_destination(r) for r in await conn.fetch(sql, *params)]

        return await self._read(body)

    # -- the outbox -----------------------------------------------------------------------

    async def claim_deliveries(
        self,
        platform: Platform,
        now: datetime,
        limit: int,
        *,
        worker: str = "",
        lease: float = 30.0,
    ) -> list[Job]:
        expiry = now + timedelta(seconds=lease)

        async def body(conn: Conn) -> list[Job]:
            # A 'sending' delivery's due_at is its lease expiry: an expired claim is due again.
            # Rows another worker is claiming right now are skipped, not waited for.
            rows = await conn.fetch(
                "WITH due AS (SELECT id FROM deliveries WHERE platform = $1 "
                "AND due_at IS NOT NULL AND due_at <= $2 ORDER BY due_at, id LIMIT $3 "
                "FOR UPDATE SKIP LOCKED) "
                "UPDATE deliveries d SET state = 'sending', attempts = d.attempts + 1, "
                "due_at = $4, claimed_by = $5, updated_at = $2 FROM due WHERE d.id = due.id "
                "RETURNING d.id",
                str(platform),
                now,
                limit,
                expiry,
                worker,
            )
            if not rows:
                return []
            return await _jobs(conn, [r[0] for r in rows])

        return await self._tx(body)

    async def renew_claims(self, worker: str, now: datetime, lease: float) -> int:
        async def body(conn: Conn) -> int:
            return _count(
                await conn.execute(
                    "UPDATE deliveries SET due_at = $1 WHERE claimed_by = $2 "
                    "AND state = 'sending'",
                    now + timedelta(seconds=lease),
                    worker,
                )
            )

        return await self._tx(body)

    async def next_due(self, platform: Platform) -> datetime | None:
        async def body(conn: Conn) -> datetime | None:
            value: datetime | None = await conn.fetchval(
                "SELECT min(due_at) FROM deliveries WHERE platform = $1 AND due_at IS NOT NULL",
                str(platform),
            )
            return value

        return await self._read(body)

    async def complete_delivery(
        self, delivery: Delivery, posted: Posted | None, now: datetime
    ) -> None:
        async def body(conn: Conn) -> None:
            # Recorded even if another worker took the claim over meanwhile: the message exists.
            row = await conn.fetchrow(
                "UPDATE deliveries SET message_id = COALESCE($1, message_id), "
                "thread_id = COALESCE($2, thread_id), last_error = NULL, updated_at = $3, "
                "claimed_by = NULL, "
                "state = CASE WHEN generation = $4 THEN 'sent' ELSE 'pending' END, "
                "due_at = CASE WHEN generation = $4 THEN NULL "
                f"ELSE {_HELD.format('$3::timestamptz')} END WHERE id = $5 "
                "RETURNING state, (SELECT chat_id FROM destinations t "
                "WHERE t.id = deliveries.destination_id)",
                posted.message_id if posted else None,
                posted.thread_id if posted else None,
                now,
                delivery.generation,
                delivery.id,
            )
            if row is None:
                return
            if row[0] == "pending":
                await _notify(conn, ["outbox"])
            if posted is None:
                return
            links = posted.links or (MessageRef(delivery.platform, row[1], posted.message_id),)
            await conn.execute(
                "INSERT INTO message_links (platform, chat_id, message_id, article_id, "
                "comment_id, destination_id) SELECT p, c, m, $4, $5, $6 "
                "FROM unnest($1::text[], $2::text[], $3::text[]) AS u(p, c, m) "
                "ON CONFLICT DO NOTHING",
                [str(ref.platform) for ref in links],
                [ref.chat_id for ref in links],
                [ref.message_id for ref in links],
                delivery.article_id,
                delivery.comment_id,
                delivery.destination_id,
            )

        await self._tx(body)

    async def retry_delivery(
        self,
        delivery: Delivery,
        error: str,
        due_at: datetime,
        now: datetime,
        *,
        count_attempt: bool = True,
    ) -> None:
        async def body(conn: Conn) -> None:
            await conn.execute(
                f"UPDATE deliveries SET state = $1, due_at = {_HELD.format('$2::timestamptz')}, "
                "last_error = $3, updated_at = $4, attempts = attempts - $5, claimed_by = NULL "
                "WHERE id = $6 AND state = 'sending' AND claimed_by = $7",
                "failed" if count_attempt else "pending",
                due_at,
                error,
                now,
                0 if count_attempt else 1,
                delivery.id,
                delivery.claimed_by or "",
            )

        await self._tx(body)

    async def fail_delivery(self, delivery: Delivery, error: str, now: datetime) -> None:
        async def body(conn: Conn) -> None:
            await conn.execute(
                "UPDATE deliveries SET state = 'dead', due_at = NULL, last_error = $1, "
                "updated_at = $2, claimed_by = NULL "
                "WHERE id = $3 AND state = 'sending' AND claimed_by = $4",
                error,
                now,
                delivery.id,
                delivery.claimed_by or "",
            )

        await self._tx(body)

    async def release_claims(self, worker: str, platform: Platform | None = None) -> int:
        sql = (
            "UPDATE deliveries SET state = 'pending', claimed_by = NULL, "
            f"due_at = {_HELD.format('updated_at')}, "
            "attempts = GREATEST(attempts - 1, 0) WHERE state = 'sending' AND claimed_by = $1"
        )
        params: list[str] = [worker]
        if platform is not None:
            sql += " AND platform = $2"
            params.append(str(platform))

        async def body(conn: Conn) -> int:
            count = _count(await conn.execute(sql, *params))
            if count:
                await _notify(conn, ["outbox"])
            return count

        return await self._tx(body)

    async def _statuses(self, where: str, key: int) -> list[DeliveryStatus]:
        columns = ", ".join(f"d.{c.strip()}" for c in _DELIVERY.split(","))
        dest_columns = ", ".join(f"t.{c.strip()}" for c in _DESTINATION.split(","))
        width = len(_DELIVERY.split(","))
        sql = (
            f"SELECT {columns}, {dest_columns} FROM deliveries d "
            f"JOIN destinations t ON t.id = d.destination_id WHERE {where} ORDER BY d.id"
        )

        async def body(conn: Conn) -> list[DeliveryStatus]:
            return [
                DeliveryStatus(_delivery(r[:width]), _destination(r[width:]))
                for r in await conn.fetch(sql, key)
            ]

        return await self._read(body)

    async def delivery_counts(self) -> dict[tuple[Platform, DeliveryState], int]:
        async def body(conn: Conn) -> dict[tuple[Platform, DeliveryState], int]:
            rows = await conn.fetch(
                "SELECT platform, state, count(*) FROM deliveries GROUP BY platform, state"
            )
            return {(Platform(r[0]), DeliveryState(r[1])): int(r[2]) for r in rows}

        return await self._read(body)

    async def deliveries_for_article(self, article_id: ArticleId) -> list[DeliveryStatus]:
        return await self._statuses("d.article_id = $1 AND d.comment_id IS NULL", article_id)

    async def deliveries_for_comment(self, comment_id: CommentId) -> list[DeliveryStatus]:
        return await self._statuses("d.comment_id = $1", comment_id)

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

    async def add_link(self, link: MessageLink) -> bool:
        async def body(conn: Conn) -> bool:
            status = await conn.execute(
                "INSERT INTO message_links (platform, chat_id, message_id, article_id, "
                "comment_id, destination_id) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
                str(link.ref.platform),
                link.ref.chat_id,
                link.ref.message_id,
                link.article_id,
                link.comment_id,
                link.destination_id,
            )
            return _count(status) > 0

        return await self._tx(body)

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
                new.author.name,
                str(new.author.platform),
                new.author.user_id,
                new.text,
                str(new.source.platform),
                new.source.chat_id,
                new.source.message_id,
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
            comment = Comment(
                id=CommentId(comment_id),
                article_id=new.article_id,
                parent_id=parent_id,
                author=new.author,
                text=new.text,
                source=new.source,
                status=CommentStatus.VISIBLE,
                created_at=_utc(new.created_at),
            )
            return comment, True

        return await self._tx(body)

    async def ingest_comment(self, incoming: IncomingComment) -> tuple[Comment, bool] | None:
        if self._writer is None or self._writer.done():
            raise StorageError("the store is not open")
        future: asyncio.Future[tuple[Comment, bool] | None]
        future = asyncio.get_running_loop().create_future()
        self._incoming.append((incoming, future))
        self._incoming_ready.set()
        return await future

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
                    batch = self._incoming[:_BATCH_MAX]
                    del self._incoming[:_BATCH_MAX]
                    task = asyncio.create_task(self._write_batch(batch))
                    running.add(task)
                    task.add_done_callback(running.discard)
                    task.add_done_callback(lambda _t: slots.release())
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _write_batch(self, batch: list[tuple[IncomingComment, asyncio.Future[Any]]]) -> None:
        items = [item for item, _ in batch]

        async def write(conn: Conn) -> list[tuple[Comment, bool] | None]:
            return await _ingest(conn, items)

        try:
            results = await self._tx(write, lock=_COMMENT_LOCK)
        except Exception as exc:  # every caller gets an answer, and the writer goes on
            failure = (
                exc
                if isinstance(exc, StorageError)
                else StorageError(f"the comments could not be stored: {exc!r}")
            )
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure)
            return
        except asyncio.CancelledError:
            for _, future in batch:
                if not future.done():
                    future.set_exception(StorageError("the store was closed"))
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
        log.debug("comments written", extra={"batch": len(batch)})

    async def get_comment(self, comment_id: CommentId) -> Comment | None:
        async def body(conn: Conn) -> Comment | None:
            row = await conn.fetchrow(f"SELECT {_COMMENT} FROM comments WHERE id = $1", comment_id)
            return None if row is None else _comment(row)

        return await self._read(body)

    async def get_comment_by_source(self, source: MessageRef) -> Comment | None:
        async def body(conn: Conn) -> Comment | None:
            return await _comment_by_source(conn, source)

        return await self._read(body)

    async def _change_comment(
        self, comment_id: CommentId, sql: str, args: Sequence[Any], op: DeliveryOp | None
    ) -> Comment:
        async def body(conn: Conn) -> Comment:
            row = await conn.fetchrow(f"{sql} WHERE id = $1 RETURNING {_COMMENT}", *args)
            if row is None:
                raise StorageError(f"comment {comment_id} vanished")
            count = 0
            if op is not None:
                count = await _reenqueue(conn, "comment_id = $1", comment_id, op, args[-1])
            await _notify(conn, _topics(row[1], count))
            return _comment(row)

        return await self._tx(body)

    async def edit_comment(
        self, comment_id: CommentId, text: str, now: datetime, *, due: datetime | None = None
    ) -> Comment:
        held = max(due or now, now)

        async def body(conn: Conn) -> Comment:
            row = await conn.fetchrow(
                "UPDATE comments SET text = $2, edited_at = $3 WHERE id = $1 "
                f"RETURNING {_COMMENT}",
                comment_id,
                text,
                now,
            )
            if row is None:
                raise StorageError(f"comment {comment_id} vanished")
            count = await _hold_edit(conn, comment_id, held, now)
            await _notify(conn, _topics(row[1], count))
            return _comment(row)

        return await self._tx(body)

    async def set_comment_status(
        self, comment_id: CommentId, status: CommentStatus, now: datetime
    ) -> Comment:
        visible = status is CommentStatus.VISIBLE
        return await self._change_comment(
            comment_id,
            "UPDATE comments SET status = $2, deleted_at = CASE WHEN $2 = 'visible' "
            "THEN NULL ELSE $3::timestamptz END",
            (comment_id, str(status), now),
            None if visible else DeliveryOp.DELETE,
        )

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
        blanks = ", ".join(["NULL"] * (len(_COMMENT.split(",")) - 1))
        replies = ", ".join(f"c.{c.strip()}" for c in _COMMENT.split(","))
        # One statement, so one snapshot: the page, every reply under it and the count agree.
        sql = (
            f"WITH roots AS (SELECT {_COMMENT} FROM comments WHERE article_id = $1 "
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
                    (top if part == 0 else below).append(_comment(row[1:]))
            top.sort(key=lambda c: (c.created_at, c.id), reverse=newest_first)
            below.sort(key=lambda c: (c.created_at, c.id))
            return top, below, total

        return await self._read(body)

    async def comments_by_author(self, platform: Platform, user_id: str) -> list[Comment]:
        async def body(conn: Conn) -> list[Comment]:
            rows = await conn.fetch(
                f"SELECT {_COMMENT} FROM comments WHERE author_platform = $1 "
                "AND author_user_id = $2 AND status = 'visible' ORDER BY id",
                str(platform),
                user_id,
            )
            return [_comment(r) for r in rows]

        return await self._read(body)

    # -- bans and small state -------------------------------------------------------------

    async def set_ban(self, platform: Platform, user_id: str, banned: bool, now: datetime) -> bool:
        async def body(conn: Conn) -> bool:
            if banned:
                status = await conn.execute(
                    "INSERT INTO bans (platform, user_id, created_at) VALUES ($1, $2, $3) "
                    "ON CONFLICT DO NOTHING",
                    str(platform),
                    user_id,
                    now,
                )
            else:
                status = await conn.execute(
                    "DELETE FROM bans WHERE platform = $1 AND user_id = $2",
                    str(platform),
                    user_id,
                )
            return _count(status) > 0

        return await self._tx(body)

    async def is_banned(self, platform: Platform, user_id: str) -> bool:
        async def body(conn: Conn) -> bool:
            row = await conn.fetchval(
                "SELECT 1 FROM bans WHERE platform = $1 AND user_id = $2", str(platform), user_id
            )
            return row is not None

        return await self._read(body)

    # -- feeds ----------------------------------------------------------------------------

    async def add_feed(self, new: NewFeed, now: datetime) -> tuple[Feed, bool]:
        async def body(conn: Conn) -> tuple[Feed, bool]:
            tags = " ".join(new.tags)
            row = await conn.fetchrow(
                "INSERT INTO feeds (url, tags, interval_s, backfill, created_at, next_poll_at) "
                "VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (url) DO NOTHING "
                f"RETURNING {_FEED}",
                new.url,
                tags,
                new.interval,
                new.backfill,
                now,
            )
            changed = row is not None
            if row is None:
                row = await conn.fetchrow(
                    "UPDATE feeds SET active = true, tags = $2, interval_s = $3, "
                    "backfill = $4, errors = 0, last_error = NULL, deactivated_reason = NULL, "
                    "etag = NULL, last_modified = NULL, last_success_at = NULL, "
                    f"next_poll_at = $5 WHERE url = $1 AND NOT active RETURNING {_FEED}",
                    new.url,
                    tags,
                    new.interval,
                    new.backfill,
                    now,
                )
                changed = row is not None
            if row is None:
                row = await conn.fetchrow(f"SELECT {_FEED} FROM feeds WHERE url = $1", new.url)
            assert row is not None
            seen = await conn.fetchval(
                "SELECT count(*) FROM feed_items WHERE feed_id = $1", row[0]
            )
            return _feed(row, int(seen)), changed

        return await self._tx(body)

    async def list_feeds(self) -> list[Feed]:
        async def body(conn: Conn) -> list[Feed]:
            rows = await conn.fetch(
                f"SELECT {_FEED}, (SELECT count(*) FROM feed_items i WHERE i.feed_id = f.id) "
                "FROM feeds f ORDER BY id"
            )
            return [_feed(r, int(r[17])) for r in rows]

        return await self._read(body)

    async def save_feed(self, feed: Feed) -> None:
        async def body(conn: Conn) -> None:
            await conn.execute(
                "UPDATE feeds SET url = $1, title = $2, tags = $3, interval_s = $4, "
                "backfill = $5, active = $6, next_poll_at = $7, last_poll_at = $8, "
                "last_success_at = $9, last_status = $10, etag = $11, last_modified = $12, "
                "errors = $13, last_error = $14, deactivated_reason = $15 WHERE id = $16",
                feed.url,
                feed.title,
                " ".join(feed.tags),
                feed.interval,
                feed.backfill,
                feed.active,
                feed.next_poll_at,
                feed.last_poll_at,
                feed.last_success_at,
                feed.last_status,
                feed.etag,
                feed.last_modified,
                feed.errors,
                feed.last_error,
                feed.deactivated_reason,
                feed.id,
            )

        await self._tx(body)

    async def remove_feed(self, feed_id: FeedId) -> bool:
        async def body(conn: Conn) -> bool:
            await conn.execute("DELETE FROM feed_items WHERE feed_id = $1", feed_id)
            done = await conn.execute("DELETE FROM feeds WHERE id = $1", feed_id)
            return str(done) != "DELETE 0"

        return await self._tx(body)

    async def feed_items(self, feed_id: FeedId, keys: Sequence[str]) -> dict[str, FeedItem]:
        async def body(conn: Conn) -> dict[str, FeedItem]:
            rows = await conn.fetch(
                "SELECT key, article_id, fingerprint, seen_at, edited_at FROM feed_items "
                "WHERE feed_id = $1 AND key = ANY($2::text[])",
                feed_id,
                list(keys),
            )
            return {
                r[0]: FeedItem(
                    feed_id,
                    r[0],
                    None if r[1] is None else ArticleId(r[1]),
                    r[2],
                    r[3],
                    r[4],
                )
                for r in rows
            }

        return await self._read(body)

    async def save_feed_items(self, items: Sequence[FeedItem]) -> None:
        if not items:
            return

        async def body(conn: Conn) -> None:
            await conn.executemany(
                "INSERT INTO feed_items (feed_id, key, article_id, fingerprint, seen_at, "
                "edited_at) SELECT $1, $2, $3, $4, $5, $6 "
                "WHERE EXISTS (SELECT 1 FROM feeds WHERE id = $1) "
                "ON CONFLICT (feed_id, key) DO UPDATE SET article_id = excluded.article_id, "
                "fingerprint = excluded.fingerprint, edited_at = excluded.edited_at",
                [
                    (i.feed_id, i.key, i.article_id, i.fingerprint, i.seen_at, i.edited_at)
                    for i in items
                ],
            )

        await self._tx(body)

    async def get_state(self, key: str) -> str | None:
        async def body(conn: Conn) -> str | None:
            value = await conn.fetchval("SELECT value FROM state WHERE key = $1", key)
            return None if value is None else str(value)

        return await self._read(body)

    async def set_state(self, key: str, value: str) -> None:
        async def body(conn: Conn) -> None:
            await conn.execute(
                "INSERT INTO state (key, value) VALUES ($1, $2) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                key,
                value,
            )

        await self._tx(body)

    async def setdefault_state(self, key: str, value: str) -> str:
        async def body(conn: Conn) -> str:
            # Two statements: the SELECT takes a snapshot after the INSERT waited for any
            # concurrent insert of the same key, so it sees the value that won.
            await conn.execute(
                "INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                key,
                value,
            )
            return str(await conn.fetchval("SELECT value FROM state WHERE key = $1", key))

        return await self._tx(body)

    async def take_slot(self, key: str, limit: int, window: float, now: datetime) -> float:
        async def body(conn: Conn) -> float:
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _SLOT_CLASS, key)
            await conn.execute(
                "DELETE FROM rate_slots WHERE key = $1 AND taken_at <= $2",
                key,
                now - timedelta(seconds=window),
            )
            # Expired slots of other keys too (one-off keys, such as a visitor's address, are
            # never asked again), a bounded batch per call: more than each call adds. Rows
            # another call is deleting are skipped, never waited for.
            await conn.execute(
                "DELETE FROM rate_slots WHERE ctid = ANY (ARRAY("
                "SELECT ctid FROM rate_slots WHERE expires_at <= $1 "
                "LIMIT $2 FOR UPDATE SKIP LOCKED))",
                now,
                _SLOT_PRUNE,
            )
            row = await conn.fetchrow(
                "SELECT count(*), min(taken_at) FROM rate_slots WHERE key = $1", key
            )
            assert row is not None
            taken, oldest = row[0], row[1]
            if taken < limit:
                await conn.execute(
                    "INSERT INTO rate_slots (key, taken_at, expires_at) VALUES ($1, $2, $3)",
                    key,
                    now,
                    now + timedelta(seconds=window),
                )
                return 0.0
            if oldest is None:
                return float(window)
            wait: float = (oldest - now).total_seconds() + window
            return max(wait, 0.001)

        return await self._tx(body)

    # -- workers and roles ----------------------------------------------------------------

    async def heartbeat(self, worker: WorkerInfo) -> None:
        async def body(conn: Conn) -> None:
            await conn.execute(
                "INSERT INTO workers (id, host, pid, started_at, heartbeat_at, roles) "
                "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (id) DO UPDATE SET "
                "heartbeat_at = excluded.heartbeat_at, roles = excluded.roles",
                worker.id,
                worker.host,
                worker.pid,
                worker.started_at,
                worker.heartbeat_at,
                " ".join(worker.roles),
            )

        await self._tx(body)

    async def remove_worker(self, worker_id: str) -> None:
        async def body(conn: Conn) -> None:
            await conn.execute("DELETE FROM workers WHERE id = $1", worker_id)

        await self._tx(body)

    async def list_workers(self, since: datetime) -> list[WorkerInfo]:
        async def body(conn: Conn) -> list[WorkerInfo]:
            rows = await conn.fetch(
                "SELECT id, host, pid, started_at, heartbeat_at, roles FROM workers "
                "WHERE heartbeat_at >= $1 ORDER BY started_at, id",
                since,
            )
            return [WorkerInfo(r[0], r[1], r[2], r[3], r[4], _tags(r[5])) for r in rows]

        return await self._read(body)

    async def acquire_role(
        self, role: str, worker: str, now: datetime, lease: float
    ) -> RoleLease | None:
        until = now + timedelta(seconds=lease)

        async def body(conn: Conn) -> RoleLease | None:
            # One statement: concurrent claimants queue on the row, and each sees the winner.
            epoch = await conn.fetchval(
                "INSERT INTO roles AS r (role, holder, lease_until, epoch) VALUES ($1,$2,$3,1) "
                "ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, "
                "lease_until = excluded.lease_until, "
                "epoch = CASE WHEN r.holder = excluded.holder THEN r.epoch ELSE r.epoch + 1 END "
                "WHERE r.holder = excluded.holder OR r.lease_until < $4 RETURNING epoch",
                role,
                worker,
                until,
                now,
            )
            return None if epoch is None else RoleLease(role, worker, _utc(until), epoch)

        return await self._tx(body)

    async def release_role(self, role: str, worker: str) -> bool:
        async def body(conn: Conn) -> bool:
            # Expired, not deleted: the epoch keeps growing across holders.
            status = await conn.execute(
                "UPDATE roles SET lease_until = $1 WHERE role = $2 AND holder = $3",
                datetime.min.replace(tzinfo=UTC),
                role,
                worker,
            )
            return _count(status) > 0

        return await self._tx(body)

    async def list_roles(self) -> list[RoleLease]:
        async def body(conn: Conn) -> list[RoleLease]:
            rows = await conn.fetch(
                "SELECT role, holder, lease_until, epoch FROM roles ORDER BY role"
            )
            return [RoleLease(r[0], r[1], r[2], r[3]) for r in rows]

        return await self._read(body)

    # -- changes made by other processes --------------------------------------------------

    def watch(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)
        if self._pool is not None:
            self._start_watching()

    def _start_watching(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._listen(), name="postgres-listen")

    def _report(self, topic: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(topic)
            except Exception:
                log.exception("a change listener failed")

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self._report(str(payload))

    async def _listen(self) -> None:
        """LISTEN on a connection of its own, checked every few seconds; after losing it,
        connect again and report ``"*"``: anything may have changed meanwhile."""
        delay, reconnecting = 0.1, False
        while True:
            conn: asyncpg.Connection[asyncpg.Record] | None = None
            try:
                conn = await asyncpg.connect(
                    self.dsn,
                    timeout=self.connect_timeout,
                    command_timeout=self.command_timeout,
                    server_settings=self._settings(),
                )
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._heard)
                self.listening.set()
                if reconnecting:
                    log.info("change listener reconnected", extra={"database": self.name})
                    self._report("*")
                delay, reconnecting = 0.1, True
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), _PING_INTERVAL)
                    if not lost.is_set():
                        await conn.fetchval("SELECT 1")
            except Exception as exc:  # the listener must outlive any failure
                if reconnecting:
                    log.warning(
                        "change listener lost the database; reconnecting",
                        extra={"database": self.name, "error": type(exc).__name__},
                    )
                reconnecting = True
            finally:
                self.listening.clear()
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _rollback(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """What a connection needs on its way back to the pool: the end of a transaction a
    failure left open. Nothing else changes session state here, and asyncpg's default reset
    (``RESET ALL``, ``UNLISTEN *``, ...) would cost every call one more round trip."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def _topics(article_id: int, queued: int) -> list[str]:
    return [f"article:{article_id}", *(["outbox"] if queued else [])]


async def _request(conn: Conn, key: str) -> int | None:
    """The article a request (a command carried out once) was about, if it was carried out.

    Holds the request's lock to the end of the transaction, so that the same request arriving
    twice at once is carried out once.
    """
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _REQUEST_CLASS, key)
    value = await conn.fetchval("SELECT article_id FROM requests WHERE key = $1", key)
    return None if value is None else int(value)


async def _comment_by_source(conn: Conn, source: MessageRef) -> Comment | None:
    row = await conn.fetchrow(
        f"SELECT {_COMMENT} FROM comments WHERE source_platform = $1 "
        "AND source_chat_id = $2 AND source_message_id = $3",
        str(source.platform),
        source.chat_id,
        source.message_id,
    )
    return None if row is None else _comment(row)


# When a delivery going back to pending is due: the time given, or later if it is a comment
# edit held (``not_before``) by the moderation hold or the intake pace.
_HELD = "CASE WHEN op = 'edit' AND not_before > {0} THEN not_before ELSE {0} END"


async def _hold_edit(conn: Conn, comment_id: int, held: datetime, now: datetime) -> int:
    """Re-enqueue a comment's copies as edits, none of them sent before ``held``
    (``Store.edit_comment``); return how many. Rows are locked in id order as in
    ``_reenqueue``."""
    await conn.execute(
        "SELECT 1 FROM deliveries WHERE comment_id = $1 ORDER BY id FOR UPDATE", comment_id
    )
    count = _count(
        await conn.execute(
            "UPDATE deliveries SET op = 'edit', state = 'pending', due_at = $2, attempts = 0, "
            "generation = generation + 1, last_error = NULL, updated_at = $3, not_before = $2 "
            "WHERE comment_id = $1 AND message_id IS NOT NULL AND state = 'sent' "
            "AND op != 'delete'",
            comment_id,
            held,
            now,
        )
    )
    count += _count(
        await conn.execute(
            "UPDATE deliveries SET due_at = GREATEST(due_at, $2), "
            "not_before = GREATEST(not_before, $2) "
            "WHERE comment_id = $1 AND state IN ('pending', 'failed') AND op != 'delete'",
            comment_id,
            held,
        )
    )
    count += _count(
        await conn.execute(
            "UPDATE deliveries SET op = 'edit', generation = generation + 1, updated_at = $3, "
            "not_before = GREATEST(not_before, $2) "
            "WHERE comment_id = $1 AND state = 'sending' AND op != 'delete'",
            comment_id,
            held,
            now,
        )
    )
    return count


async def _reenqueue(conn: Conn, where: str, key: int, op: DeliveryOp, now: datetime) -> int:
    """Re-enqueue deliveries matching ``where`` (on ``$1``) as ``op``; return how many.

    Sent (and, for deletes, waiting) messages get the new op, due now; sends in flight get the
    new op and a new generation, so they come back pending once they finish; for a delete,
    posts that never went out are cancelled.

    The rows are locked first, in id order: a claim committing meanwhile is waited for, so
    the updates below see it ``sending`` (and bump its generation) instead of a ``pending``
    row whose claim already read the old content.
    """
    await conn.execute(f"SELECT 1 FROM deliveries WHERE {where} ORDER BY id FOR UPDATE", key)
    if op is DeliveryOp.DELETE:
        await conn.execute(
            "UPDATE deliveries SET state = 'dead', due_at = NULL, updated_at = $2, "
            "last_error = 'cancelled: removed before it was sent' "
            f"WHERE {where} AND message_id IS NULL AND state IN ('pending', 'failed')",
            key,
            now,
        )
        settled = "('sent', 'pending', 'failed')"
    else:
        settled = "('sent')"
    count = _count(
        await conn.execute(
            "UPDATE deliveries SET op = $2, state = 'pending', due_at = $3, attempts = 0, "
            "generation = generation + 1, last_error = NULL, updated_at = $3 "
            f"WHERE {where} AND message_id IS NOT NULL AND state IN {settled} AND op != 'delete'",
            key,
            str(op),
            now,
        )
    )
    count += _count(
        await conn.execute(
            "UPDATE deliveries SET op = $2, generation = generation + 1, updated_at = $3 "
            f"WHERE {where} AND state = 'sending' AND op != 'delete'",
            key,
            str(op),
            now,
        )
    )
    return count


# -- group-commit ingestion ----------------------------------------------------------------

# What the intake needs for a batch (``newsbot.intake.Needs``), in one statement: the comments
# already stored for its messages, its banned authors, what each message it replies to is (a
# link to a post or a mirror first, else a stored comment), which of the articles named or
# replied to are published, their own posts, their deliveries' count, the links to their posts
# (discussion copies among them), the (article, root) of each parent, and the first of the ids
# for its new comments (every comment writer holds the lock, so the range is ours; ids of
# comments refused later stay unused). Each key is one index probe through a LATERAL subquery
# with a LIMIT, which keeps the planner from turning it into a join: a hash join over a freshly
# grown table scanned all of it (9 ms for 100 keys at 30,000 comments), and "id = ANY($1)" got
# a sequential scan in the generic plan cached while the table was empty.
_LOOKUP = (
    "WITH link AS (SELECT k.p, k.ch, k.m, f.article_id, f.comment_id, f.destination_id "
    "FROM unnest($6::text[], $7::text[], $8::text[]) AS k(p, ch, m) CROSS JOIN LATERAL ("
    "SELECT 1 AS rank, article_id, comment_id, destination_id FROM message_links "
    "WHERE platform = k.p AND chat_id = k.ch AND message_id = k.m UNION ALL "
    "SELECT 2, article_id, id, NULL FROM comments WHERE source_platform = k.p "
    "AND source_chat_id = k.ch AND source_message_id = k.m ORDER BY 1 LIMIT 1) AS f), "
    "old AS (SELECT c.* FROM unnest($1::text[], $2::text[], $3::text[]) AS k(p, ch, m) "
    f"CROSS JOIN LATERAL (SELECT {_COMMENT} FROM comments WHERE source_platform = k.p "
    "AND source_chat_id = k.ch AND source_message_id = k.m LIMIT 1) AS c), "
    "art AS (SELECT a.id FROM (SELECT unnest($9::bigint[]) UNION SELECT article_id FROM link) "
    "AS k(id) CROSS JOIN LATERAL (SELECT id FROM articles WHERE id = k.id "
    "AND status = 'published' LIMIT 1) AS a), "
    "fresh AS (SELECT cardinality($1::text[]) - (SELECT count(*) FROM old) AS n) "
    "SELECT ARRAY(SELECT ROW(o.*) FROM old o), "
    "ARRAY(SELECT ROW(k.p, k.u) FROM unnest($4::text[], $5::text[]) AS k(p, u) "
    "WHERE EXISTS (SELECT 1 FROM bans WHERE platform = k.p AND user_id = k.u)), "
    "ARRAY(SELECT ROW(l.*) FROM link l), "
    "ARRAY(SELECT id FROM art), "
    "ARRAY(SELECT ROW(a.id, d.id, t.id, t.platform, t.chat_id, d.thread_id, t.active, "
    "d.state = 'sent' AND d.op != 'delete', d.updated_at) FROM art a CROSS JOIN LATERAL ("
    "SELECT id, destination_id, thread_id, state, op, updated_at FROM deliveries "
    "WHERE article_id = a.id AND comment_id IS NULL AND message_id IS NOT NULL) AS d "
    "CROSS JOIN LATERAL (SELECT id, platform, chat_id, active FROM destinations "
    "WHERE id = d.destination_id LIMIT 1) AS t ORDER BY d.id), "
    "ARRAY(SELECT ROW(a.id, (SELECT count(*) FROM deliveries WHERE article_id = a.id "
    "AND comment_id IS NULL)) FROM art a), "
    "ARRAY(SELECT ROW(l.platform, l.chat_id, l.message_id, l.article_id, l.destination_id) "
    "FROM art a CROSS JOIN LATERAL (SELECT platform, chat_id, message_id, article_id, "
    "destination_id FROM message_links WHERE article_id = a.id AND comment_id IS NULL "
    "AND destination_id IS NOT NULL) AS l ORDER BY l.platform, l.chat_id, l.message_id), "
    "ARRAY(SELECT ROW(c.*) FROM (SELECT unnest($10::bigint[]) UNION SELECT comment_id "
    "FROM link WHERE comment_id IS NOT NULL) AS k(id) CROSS JOIN LATERAL ("
    "SELECT id, article_id, COALESCE(root_id, id) FROM comments WHERE id = k.id LIMIT 1) AS c), "
    "CASE WHEN n > 0 THEN setval(pg_get_serial_sequence('comments', 'id'), "
    "nextval(pg_get_serial_sequence('comments', 'id')) + n - 1) - n + 1 END FROM fresh"
)
# Then the plan, in one statement: the mirrors, the count refreshes and the notifications;
# with the new comments too (_WRITE_ALL) when they are few, else they go first by COPY.
_WRITE = (
    "ins AS (INSERT INTO deliveries (article_id, comment_id, destination_id, platform, "
    "op, state, due_at, created_at, updated_at) "
    "SELECT u.a, u.c, t.id, t.platform, 'post', 'pending', u.due, u.due, u.due "
    "FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::bigint[]) "
    "WITH ORDINALITY AS u(a, c, due, d, n) CROSS JOIN LATERAL (SELECT id, platform "
    "FROM destinations WHERE id = u.d AND active LIMIT 1) AS t "
    "ORDER BY u.n ON CONFLICT DO NOTHING RETURNING 1), "
    "upd AS (UPDATE deliveries d SET op = 'edit', state = 'pending', attempts = 0, "
    "due_at = u.due, generation = d.generation + 1, updated_at = u.at "
    "FROM unnest($5::bigint[], $6::timestamptz[], $7::timestamptz[]) AS u(id, due, at) "
    "WHERE d.id = u.id AND d.state = 'sent' AND d.op != 'delete' RETURNING 1), "
    "queued AS (SELECT (SELECT count(*) FROM ins) + (SELECT count(*) FROM upd) AS n) "
    "SELECT n, ARRAY(SELECT pg_notify($8, topic)::text FROM unnest($9::text[] "
    "|| CASE WHEN n > 0 THEN ARRAY['outbox'] ELSE ARRAY[]::text[] END) AS topic) FROM queued"
)
_INGEST_COLUMNS = (
    "id",
    "article_id",
    "parent_id",
    "root_id",
    "author_name",
    "author_platform",
    "author_user_id",
    "text",
    "source_platform",
    "source_chat_id",
    "source_message_id",
    "status",
    "created_at",
)
_WRITE_ALL = (
    f"WITH new AS (INSERT INTO comments ({', '.join(_INGEST_COLUMNS)}) SELECT * FROM unnest("
    "$10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[], $15::text[], "
    "$16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], "
    f"$22::timestamptz[]) RETURNING 1), {_WRITE}"
)
_COPY_FROM = 200  # rows; below, one INSERT costs fewer round trips than COPY's two


async def _ingest(
    conn: Conn, items: Sequence[IncomingComment]
) -> list[tuple[Comment, bool] | None]:
    """Store a group-commit batch in a transaction that holds the comment writers' lock (so
    nothing looked up here changes under us): the intake's lookups in one statement, its
    decision (``newsbot.intake``), and the plan in one more (two with a COPY, for many).

    Round trips, not rows, are what a batch costs at the rates the service sees: each waits
    for the event loop, busy with the callers.
    """
    needs = intake.needs(items)
    row = await conn.fetchrow(
        _LOOKUP,
        *_columns(_keys(needs.sources), 3),
        *_columns(((str(p), u) for p, u in needs.authors), 2),
        *_columns(_keys(needs.replies), 3),
        sorted(needs.articles),
        sorted(needs.parents),
    )
    assert row is not None
    links = {}
    for r in row[2]:
        ref = MessageRef(_PLATFORMS[r[0]], r[1], r[2])
        links[ref] = MessageLink(ref, r[3], r[4], r[5])
    posts: dict[ArticleId, list[ArticlePost]] = {a: [] for a in row[3]}
    for r in row[4]:
        posts[r[0]].append(ArticlePost(r[1], r[2], _PLATFORMS[r[3]], r[4], r[5], r[6], r[7], r[8]))
    post_links: dict[ArticleId, list[MessageLink]] = {}
    for r in row[6]:
        link = MessageLink(MessageRef(_PLATFORMS[r[0]], r[1], r[2]), r[3], None, r[4])
        post_links.setdefault(link.article_id, []).append(link)
    plan = intake.decide(
        items,
        Lookups(
            next_id=row[8] or 0,
            stored={c.source: c for c in map(_comment, row[0])},
            banned={(r[0], r[1]) for r in row[1]},
            links=links,
            published=posts.keys(),
            posts=posts,
            post_links=post_links,
            post_counts={r[0]: r[1] for r in row[5]},
            parents={r[0]: Lineage(r[1], r[2]) for r in row[7]},
        ),
    )
    if plan.accepted:
        await _write_plan(conn, items, plan)
    return intake.results(items, plan.outcomes)


def _keys(refs: Iterable[MessageRef]) -> Iterable[tuple[str, str, str]]:
    return ((str(r.platform), r.chat_id, r.message_id) for r in refs)


async def _write_plan(conn: Conn, items: Sequence[IncomingComment], plan: Plan) -> None:
    rows: list[tuple[Any, ...]] = []
    mirrors: list[tuple[int, int, datetime, int]] = []
    for new in plan.accepted:
        item = items[new.index]
        source, author = item.source, item.author
        rows.append(
            (
                new.id,
                new.article_id,
                new.parent_id,
                new.root_id,
                author.name,
                str(author.platform),
                author.user_id,
                item.text,
                str(source.platform),
                source.chat_id,
                source.message_id,
                "hidden" if new.hidden else "visible",
                item.created_at,
            )
        )
        mirrors += [(new.article_id, new.id, new.mirror_due, d) for d in new.mirror_to]
    refreshes = [
        (post.delivery_id, refresh.due(post), refresh.at)
        for refresh in plan.refreshes
        for post in refresh.posts
    ]
    args = [
        *_columns(mirrors, 4),
        *_columns(refreshes, 3),
        CHANNEL,
        sorted({f"article:{new.article_id}" for new in plan.accepted}),
    ]
    if len(rows) >= _COPY_FROM:
        await conn.copy_records_to_table("comments", records=rows, columns=_INGEST_COLUMNS)
        await conn.fetchrow(f"WITH {_WRITE}", *args)
    else:
        await conn.fetchrow(_WRITE_ALL, *args, *_columns(rows, 13))


def _columns(rows: Iterable[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows turned into one list per column, for ``unnest``."""
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns


def _by_ids(table: str, columns: str) -> str:
    """Rows of ``table`` by the ids in ``$1``, one primary-key probe each: a plain
    ``id = ANY($1)`` may keep the sequential scan its generic plan got on an empty table."""
    return (
        f"SELECT r.* FROM unnest($1::bigint[]) AS k(id) CROSS JOIN LATERAL "
        f"(SELECT {columns} FROM {table} WHERE id = k.id LIMIT 1) AS r"
    )


async def _jobs(conn: Conn, ids: list[int]) -> list[Job]:
    deliveries = [_delivery(r) for r in await conn.fetch(_by_ids("deliveries", _DELIVERY), ids)]
    deliveries.sort(key=lambda d: (d.next_attempt_at or d.updated_at, d.id))
    dest_ids = sorted({d.destination_id for d in deliveries})
    destinations = {
        d.id: d
        for d in map(
            _destination,
            await conn.fetch(_by_ids("destinations", _DESTINATION), dest_ids),
        )
    }
    article_ids = sorted({d.article_id for d in deliveries})
    articles = {
        a.id: a
        for a in map(
            _article,
            await conn.fetch(_by_ids("articles", _ARTICLE), article_ids),
        )
    }
    counts = {
        r[0]: r[1]
        for r in await conn.fetch(
            "SELECT article_id, count(*) FROM comments WHERE status = 'visible' AND "
            "article_id = ANY($1::bigint[]) GROUP BY article_id",
            article_ids,
        )
    }
    # For mirrored comments: the article's own post in each destination and the links to
    # it (copies in discussion groups among them), the comments and their parents' copies.
    posts: dict[tuple[int, int], tuple[str | None, str | None]] = {}
    post_links: dict[int, list[MessageLink]] = {}
    comments: dict[int, Comment] = {}
    copies: dict[tuple[int, int], str | None] = {}
    mirrors = [d for d in deliveries if d.comment_id is not None]
    if mirrors:
        posts = {
            (r[0], r[1]): (r[2], r[3])
            for r in await conn.fetch(
                "SELECT article_id, destination_id, message_id, thread_id FROM deliveries "
                "WHERE comment_id IS NULL AND article_id = ANY($1::bigint[])",
                article_ids,
            )
        }
        for r in await conn.fetch(
            "SELECT platform, chat_id, message_id, article_id, destination_id FROM message_links "
            "WHERE comment_id IS NULL AND destination_id IS NOT NULL "
            "AND article_id = ANY($1::bigint[]) ORDER BY platform, chat_id, message_id",
            article_ids,
        ):
            link = MessageLink(MessageRef(_PLATFORMS[r[0]], r[1], r[2]), r[3], None, r[4])
            post_links.setdefault(link.article_id, []).append(link)
        wanted = {d.comment_id for d in mirrors if d.comment_id is not None}
        comments = {
            r[0]: _comment(r)
            for r in await conn.fetch(_by_ids("comments", _COMMENT), sorted(wanted))
        }
        missing = {c.parent_id for c in comments.values() if c.parent_id is not None}
        if missing - comments.keys():
            comments |= {
                r[0]: _comment(r)
                for r in await conn.fetch(
                    _by_ids("comments", _COMMENT),
                    sorted(missing - comments.keys()),
                )
            }
        pairs = {
            (parent_id, d.destination_id)
            for d in mirrors
            if d.comment_id in comments
            and (parent_id := comments[d.comment_id].parent_id) is not None
        }
        if pairs:
            copies = {
                (r[0], r[1]): r[2]
                for r in await conn.fetch(
                    "SELECT u.c, u.t, d.message_id FROM unnest($1::bigint[], $2::bigint[]) "
                    "AS u(c, t) CROSS JOIN LATERAL (SELECT message_id FROM deliveries "
                    "WHERE comment_id = u.c AND destination_id = u.t LIMIT 1) AS d",
                    *_columns(pairs, 2),
                )
            }
    jobs = []
    for delivery in deliveries:
        comment = None if delivery.comment_id is None else comments.get(delivery.comment_id)
        parent_id = None if comment is None else comment.parent_id
        post_message, post_thread = posts.get(
            (delivery.article_id, delivery.destination_id), (None, None)
        )
        jobs.append(
            mirroring.job(
                delivery,
                destinations[delivery.destination_id],
                articles[delivery.article_id],
                comment,
                None if parent_id is None else comments.get(parent_id),
                post_message=post_message,
                post_thread=post_thread,
                post_links=post_links.get(delivery.article_id, ()),
                parent_copy=copies.get((parent_id or 0, delivery.destination_id)),
                comment_count=counts.get(delivery.article_id, 0),
            )
        )
    return jobs
