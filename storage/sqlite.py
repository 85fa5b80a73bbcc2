"""The ``Store`` on SQLite through aiosqlite: WAL, foreign keys, IMMEDIATE write transactions.

Each store method is one unit of work run as a single function on aiosqlite's connection
thread: one thread hand-off per method instead of one per statement (each hand-off costs
0.1 to 0.3 ms, more than the SQL). Comments arriving together are written by one writer in
batched transactions (group commit), so a burst of replies costs one fsync per batch; that
writer runs in a child process (``storage.ingest``) so its Python does not share our GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from newsbot import intake, mirroring
from newsbot.errors import SchemaTooNew, StorageError
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
from storage.ingest import IngestProcess
from storage.sqlite_rows import (
    _COMMENT,
    Conn,
    T,
    _chunks,
    _comment,
    _marks,
    _post_links,
    _select_in,
    _ts,
    _write,
)

log = logging.getLogger("newsbot.storage")

_ARTICLE = (
    "id, title, body, summary, url, image_url, author_name, author_platform, author_user_id, "
    "tags, status, created_at, published_at, updated_at, revision"
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
PENDING_REASON = "waiting for a newsbot admin's approval"
_WATCH_INTERVAL = 0.05
_BATCH_MAX = 2000
_READ_CACHE_KIB = 16 * 1024
_SLOT_PRUNE = 100  # expired rate slots deleted per take_slot at most


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _tags(value: str) -> tuple[str, ...]:
    return tuple(value.split()) if value else ()


def _article(row: Sequence[Any]) -> Article:
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
        created_at=datetime.fromisoformat(row[11]),
        published_at=_dt(row[12]),
        updated_at=datetime.fromisoformat(row[13]),
        revision=row[14],
    )


def _destination(row: Sequence[Any]) -> Destination:
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


def _delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(
        id=DeliveryId(row[0]),
        article_id=ArticleId(row[1]),
        comment_id=None if row[2] is None else CommentId(row[2]),
        destination_id=DestinationId(row[3]),
        platform=Platform(row[4]),
        op=DeliveryOp(row[5]),
        state=DeliveryState(row[6]),
        attempts=row[7],
        next_attempt_at=_dt(row[8]),
        last_error=row[9],
        message_id=row[10],
        thread_id=row[11],
        generation=row[12],
        updated_at=datetime.fromisoformat(row[13]),
        claimed_by=row[14],
    )


def _feed(row: Sequence[Any], items_seen: int = 0) -> Feed:
    return Feed(
        id=FeedId(row[0]),
        url=row[1],
        title=row[2],
        tags=_tags(row[3]),
        interval=float(row[4]),
        backfill=row[5],
        active=bool(row[6]),
        created_at=datetime.fromisoformat(row[7]),
        next_poll_at=datetime.fromisoformat(row[8]),
        last_poll_at=_dt(row[9]),
        last_success_at=_dt(row[10]),
        last_status=row[11],
        etag=row[12],
        last_modified=row[13],
        errors=row[14],
        last_error=row[15],
        deactivated_reason=row[16],
        items_seen=items_seen,
    )


def _opt_ts(value: datetime | None) -> str | None:
    return None if value is None else _ts(value)


def migrations() -> list[tuple[int, str]]:
    """The numbered migration scripts shipped in ``storage/migrations``, in order."""
    found = []
    for entry in resources.files("storage").joinpath("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _private_files(path: Path) -> None:
    """Create the database file readable by its owner only, and take group and other rights
    away from an existing one and from its WAL and shared-memory files (SQLite creates those
    with the database file's mode).

    No symbolic link is followed: whoever can write to the folder could point
    ``news.db-shm`` at someone else's file. A database path that is a link (the operator's
    choice; SQLite follows it) keeps its mode, with a warning; a WAL or shared-memory file
    that is a link (SQLite refuses those) stops the store with the reason. The file is opened
    only when it does not exist yet: closing any descriptor of a database file drops every
    POSIX lock this process holds on it, SQLite's included.

    Raises:
        StorageError: the WAL or shared-memory file is a symbolic link.
    """
    with contextlib.suppress(OSError):  # O_EXCL: an existing file or link is left alone
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            info = name.lstat()
        except OSError:
            continue
        if stat.S_ISLNK(info.st_mode):
            if name != path:
                raise StorageError(
                    f"{name} is a symbolic link; newsbot follows no link beside its database "
                    "(nor does SQLite): remove it"
                )
            log.warning(
                "database path is a symbolic link: its mode is left as it is",
                extra={"path": str(name)},
            )
            continue
        mode = stat.S_IMODE(info.st_mode)
        if not stat.S_ISREG(info.st_mode) or not mode & 0o077:
            continue
        try:
            # Not through a link that replaced the file since the lstat (lchmod; where the
            # platform has none, the file keeps its mode).
            os.chmod(name, mode & 0o700, follow_symlinks=False)
        except (NotImplementedError, OSError) as exc:
            log.warning(
                "database file mode left as it is", extra={"path": str(name), "error": str(exc)}
            )
            continue
        log.info("database file made private", extra={"path": str(name)})


class SqliteStore:
    """A ``Store`` in one SQLite file.

    Two aiosqlite connections: one writes, one reads (``query_only``), so that a read never
    waits behind a write, nor behind a database another process holds locked. Each method is
    one unit of work on one of them, and writes run in ``BEGIN IMMEDIATE`` transactions so that
    readers and the command line in other processes never meet a half-done change. Incoming
    comments are batched and written by the ingest process (``storage.ingest``), its batches
    queued with this connection's writes behind one write lock.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
    ) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown synchronous mode {synchronous!r}")
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._reader: aiosqlite.Connection | None = None
        self._read_lock = asyncio.Lock()
        self._incoming: list[tuple[IncomingComment, asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._incoming_ready = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._ingester = IngestProcess(self.path, self.synchronous, busy_timeout_ms)
        self._listeners: list[Callable[[str], None]] = []
        self._watcher: asyncio.Task[None] | None = None
        # For monitoring: failures raised as StorageError, and each comment batch's time.
        self.errors = 0
        self.observe_batch: Callable[[float, int], None] | None = None

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def schema_version(self) -> int:
        """The newest schema version this code knows."""
        return migrations()[-1][0]

    async def open(self) -> None:
        if self._db is not None:
            return
        _private_files(self.path)
        try:
            db = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        self._db = db
        try:
            await self._run(self._prepare)
        except BaseException:
            self._db = None
            await db.close()
            raise
        try:
            reader = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            self._db = None
            await db.close()
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        self._reader = reader
        try:
            await self._read(self._prepare_reader)
        except BaseException:
            self._db = self._reader = None
            await reader.close()
            await db.close()
            raise
        self._writer = asyncio.create_task(self._write_incoming(), name="sqlite-group-commit")
        if self._listeners:
            self._start_watching()

    def _prepare_reader(self, conn: Conn) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA query_only = ON")
        conn.execute(f"PRAGMA cache_size = {-_READ_CACHE_KIB}")

    def _prepare(self, conn: Conn) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            log.warning("WAL journal unavailable", extra={"journal_mode": mode})
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        try:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.path} is not a newsbot database: {exc}") from exc
        known = migrations()
        newest = known[-1][0]
        if current > newest:
            raise SchemaTooNew(
                f"{self.path} has schema version {current}, newer than this newsbot "
                f"understands ({newest}); upgrade newsbot or use another NEWSBOT_DATABASE."
            )
        for version, script in known:
            if version > current:
                try:
                    conn.executescript(
                        f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;"
                    )
                except sqlite3.Error:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise
                log.info("database migrated", extra={"version": version, "path": str(self.path)})
        _private_files(self.path)  # the WAL and its index exist now

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
        await self._ingester.stop()
        for _, future in self._incoming:
            if not future.done():
                future.set_exception(StorageError("the store was closed"))
        self._incoming.clear()
        db, self._db = self._db, None
        reader, self._reader = self._reader, None
        for connection in (reader, db):
            if connection is not None:
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await connection.close()

    # -- running work on the connection thread --------------------------------------------

    async def _run(self, fn: Callable[[Conn], T]) -> T:
        """Run ``fn`` on the writing connection's thread."""
        return await self._call(self._db, self._lock, fn)

    async def _read(self, fn: Callable[[Conn], T]) -> T:
        """Run ``fn`` on the reading connection's thread: reads never queue behind a write
        (in WAL mode they read the last commit while a write is under way)."""
        return await self._call(self._reader, self._read_lock, fn)

    async def _call(
        self, db: aiosqlite.Connection | None, lock: asyncio.Lock, fn: Callable[[Conn], T]
    ) -> T:
        async with lock:
            if db is None or self._db is None:
                raise StorageError("the store is not open")
            try:
                # aiosqlite has no public way to run a function on its connection thread;
                # _execute and _conn are the calls its own methods are built on.
                result: T = await db._execute(lambda: fn(db._conn))  # type: ignore[no-untyped-call]
            except sqlite3.Error as exc:
                self.errors += 1
                raise StorageError(f"database error on {self.path}: {exc}") from exc
            except UnicodeEncodeError as exc:
                raise StorageError(
                    f"text that is not valid Unicode cannot be stored: {exc}"
                ) from exc
            except ValueError as exc:  # aiosqlite: "Connection closed"
                raise StorageError(f"database {self.path} is closed: {exc}") from exc
            return result

    async def _tx(self, body: Callable[[Conn], T]) -> T:
        # Writes queue here, first come first served, with the ingest process's batches,
        # rather than in SQLite's busy handler, where each would poll for the other's lock.
        async with self._write_lock:
            return await self._run(lambda conn: _write(conn, body))

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
        stamp = _ts(now)

        def body(conn: Conn) -> tuple[Article, bool]:
            if request is not None:
                done = _request(conn, request)
                if done is not None:
                    row = conn.execute(f"SELECT {_ARTICLE} FROM articles WHERE id = ?", (done,))
                    return _article(row.fetchone()), False
            cursor = conn.execute(
                "INSERT INTO articles (title, body, summary, url, image_url, author_name, "
                "author_platform, author_user_id, tags, status, created_at, published_at, "
                "updated_at, revision) VALUES (?,?,?,?,?,?,?,?,?,'published',?,?,?,1)",
                (
                    draft.title,
                    draft.body,
                    draft.summary,
                    draft.url,
                    draft.image_url,
                    author.name,
                    str(author.platform),
                    author.user_id,
                    " ".join(draft.tags),
                    stamp,
                    stamp,
                    stamp,
                ),
            )
            article_id = cursor.lastrowid
            conn.executemany(
                "INSERT INTO deliveries (article_id, destination_id, platform, op, state, "
                "due_at, created_at, updated_at) SELECT ?, id, platform, 'post', 'pending', "
                "?, ?, ? FROM destinations WHERE id = ? AND active = 1",
                ((article_id, stamp, stamp, stamp, d) for d in deliver_to),
            )
            if request is not None:
                conn.execute(
                    "INSERT INTO requests (key, kind, article_id, created_at) VALUES (?,?,?,?)",
                    (request, "publish", article_id, stamp),
                )
            row = conn.execute(f"SELECT {_ARTICLE} FROM articles WHERE id = ?", (article_id,))
            return _article(row.fetchone()), True

        return await self._tx(body)

    async def update_article(
        self,
        article_id: ArticleId,
        draft: ArticleDraft,
        now: datetime,
        *,
        request: str | None = None,
    ) -> int | None:
        stamp = _ts(now)

        def body(conn: Conn) -> int | None:
            if request is not None:
                if _request(conn, request) is not None:
                    return None
                conn.execute(
                    "INSERT INTO requests (key, kind, article_id, created_at) VALUES (?,?,?,?)",
                    (request, "edit", article_id, stamp),
                )
            conn.execute(
                "UPDATE articles SET title = ?, body = ?, summary = ?, url = ?, image_url = ?, "
                "tags = ?, updated_at = ?, revision = revision + 1 WHERE id = ?",
                (
                    draft.title,
                    draft.body,
                    draft.summary,
                    draft.url,
                    draft.image_url,
                    " ".join(draft.tags),
                    stamp,
                    article_id,
                ),
            )
            return _reenqueue(
                conn, "article_id = ? AND comment_id IS NULL", article_id, DeliveryOp.EDIT, stamp
            )

        return await self._tx(body)

    async def retract_article(self, article_id: ArticleId, now: datetime) -> int:
        stamp = _ts(now)

        def body(conn: Conn) -> int:
            conn.execute(
                "UPDATE articles SET status = 'retracted', updated_at = ? WHERE id = ?",
                (stamp, article_id),
            )
            return _reenqueue(conn, "article_id = ?", article_id, DeliveryOp.DELETE, stamp)

        return await self._tx(body)

    async def get_article(self, article_id: ArticleId) -> Article | None:
        def body(conn: Conn) -> Article | None:
            row = conn.execute(
                f"SELECT {_ARTICLE} FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
            return None if row is None else _article(row)

        return await self._read(body)

    async def latest_articles(self, limit: int, before: ArticleCursor | None) -> list[Article]:
        sql = f"SELECT {_ARTICLE} FROM articles WHERE status = 'published'"
        params: list[Any] = []
        if before is not None:
            sql += " AND (published_at, id) < (?, ?)"
            params += [_ts(before.published_at), before.article_id]
        sql += " ORDER BY published_at DESC, id DESC LIMIT ?"
        params.append(limit)
        return await self._read(
            lambda conn: [_article(r) for r in conn.execute(sql, params).fetchall()]
        )

    async def count_comments(self, article_id: ArticleId) -> int:
        return await self._read(lambda conn: _count(conn, article_id))

    # -- destinations ---------------------------------------------------------------------

    async def add_destination(
        self, new: NewDestination, now: datetime, *, pending: bool = False
    ) -> tuple[Destination, bool]:
        stamp = _ts(now)
        key = (str(new.platform), new.chat_id, new.thread_id or "")
        select = (
            f"SELECT {_DESTINATION} FROM destinations "
            "WHERE platform = ? AND chat_id = ? AND thread_id = ?"
        )
        active, reason = (0, PENDING_REASON) if pending else (1, None)

        def body(conn: Conn) -> tuple[Destination, bool]:
            row = conn.execute(select, key).fetchone()
            if row is not None and (row[6] or (pending and row[9])):
                return _destination(row), False
            conn.execute(
                "INSERT INTO destinations (platform, chat_id, thread_id, title, kind, active, "
                "pending, deactivated_reason, tags, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (platform, chat_id, thread_id) DO UPDATE SET "
                "active = excluded.active, pending = excluded.pending, "
                "title = excluded.title, kind = excluded.kind, tags = excluded.tags, "
                "updated_at = excluded.updated_at, "
                "deactivated_reason = excluded.deactivated_reason",
                (
                    *key,
                    new.title,
                    str(new.kind),
                    active,
                    1 - active,
                    reason,
                    " ".join(new.tags),
                    stamp,
                    stamp,
                ),
            )
            return _destination(conn.execute(select, key).fetchone()), True

        return await self._tx(body)

    async def approve_destination(self, destination_id: DestinationId, now: datetime) -> bool:
        params = (_ts(now), destination_id)
        return await self._tx(
            lambda conn: (
                conn.execute(
                    "UPDATE destinations SET active = 1, pending = 0, deactivated_reason = NULL, "
                    "updated_at = ? WHERE id = ? AND pending = 1",
                    params,
                ).rowcount
                > 0
            )
        )

    async def get_destination(
        self, platform: Platform, chat_id: str, thread_id: str | None = None
    ) -> Destination | None:
        def body(conn: Conn) -> Destination | None:
            row = conn.execute(
                f"SELECT {_DESTINATION} FROM destinations "
                "WHERE platform = ? AND chat_id = ? AND thread_id = ?",
                (str(platform), chat_id, thread_id or ""),
            ).fetchone()
            return None if row is None else _destination(row)

        return await self._read(body)

    async def deactivate_destination(
        self, destination_id: DestinationId, reason: str, now: datetime
    ) -> bool:
        stamp = _ts(now)

        def body(conn: Conn) -> bool:
            cursor = conn.execute(
                "UPDATE destinations SET active = 0, pending = 0, deactivated_reason = ?, "
                "updated_at = ? WHERE id = ? AND (active = 1 OR pending = 1)",
                (reason, stamp, destination_id),
            )
            conn.execute(
                "UPDATE deliveries SET state = 'dead', due_at = NULL, updated_at = ?, "
                "last_error = ? WHERE destination_id = ? AND state IN ('pending', 'failed')",
                (stamp, f"destination inactive: {reason}", destination_id),
            )
            return cursor.rowcount > 0

        return await self._tx(body)

    async def list_destinations(
        self, platform: Platform | None = None, *, active_only: bool = True
    ) -> list[Destination]:
        sql = f"SELECT {_DESTINATION} FROM destinations WHERE 1 = 1"
        params: list[Any] = []
        if active_only:
            sql += " AND active = 1"
        if platform is not None:
            sql += " AND platform = ?"
            params.append(str(platform))
        sql += " ORDER BY id"
        return await self._read(
            lambda conn: [_destination(r) for r in conn.execute(sql, params).fetchall()]
        )

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
        stamp = _ts(now)
        expiry = _ts(now + timedelta(seconds=lease))

        def body(conn: Conn) -> list[Job]:
            # A 'sending' delivery's due_at is its lease expiry: an expired claim is due again.
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM deliveries WHERE platform = ? AND due_at IS NOT NULL "
                    "AND due_at <= ? ORDER BY due_at, id LIMIT ?",
                    (str(platform), stamp, limit),
                ).fetchall()
            ]
            if not ids:
                return []
            for chunk in _chunks(ids):
                conn.execute(
                    "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, "
                    "due_at = ?, claimed_by = ?, updated_at = ? "
                    f"WHERE id IN ({_marks(len(chunk))})",
                    (expiry, worker, stamp, *chunk),
                )
            return _jobs(conn, ids)

        return await self._tx(body)

    async def renew_claims(self, worker: str, now: datetime, lease: float) -> int:
        params = (_ts(now + timedelta(seconds=lease)), worker)
        return await self._tx(
            lambda conn: (
                conn.execute(
                    "UPDATE deliveries SET due_at = ? WHERE claimed_by = ? AND state = 'sending'",
                    params,
                ).rowcount
            )
        )

    async def next_due(self, platform: Platform) -> datetime | None:
        def body(conn: Conn) -> datetime | None:
            row = conn.execute(
                "SELECT MIN(due_at) FROM deliveries WHERE platform = ? AND due_at IS NOT NULL",
                (str(platform),),
            ).fetchone()
            return _dt(row[0]) if row else None

        return await self._read(body)

    async def complete_delivery(
        self, delivery: Delivery, posted: Posted | None, now: datetime
    ) -> None:
        stamp = _ts(now)

        def body(conn: Conn) -> None:
            # Recorded even if another worker took the claim over meanwhile: the message exists.
            conn.execute(
                "UPDATE deliveries SET message_id = COALESCE(?, message_id), "
                "thread_id = COALESCE(?, thread_id), last_error = NULL, updated_at = ?, "
                "claimed_by = NULL, "
                "state = CASE WHEN generation = ? THEN 'sent' ELSE 'pending' END, "
                f"due_at = CASE WHEN generation = ? THEN NULL ELSE {_HELD} END WHERE id = ?",
                (
                    posted.message_id if posted else None,
                    posted.thread_id if posted else None,
                    stamp,
                    delivery.generation,
                    delivery.generation,
                    stamp,
                    stamp,
                    delivery.id,
                ),
            )
            if posted is None:
                return
            links = posted.links
            if not links:
                chat = conn.execute(
                    "SELECT chat_id FROM destinations WHERE id = ?", (delivery.destination_id,)
                ).fetchone()[0]
                links = (MessageRef(delivery.platform, chat, posted.message_id),)
            conn.executemany(
                "INSERT OR IGNORE INTO message_links (platform, chat_id, message_id, "
                "article_id, comment_id, destination_id) VALUES (?,?,?,?,?,?)",
                [
                    (
                        str(ref.platform),
                        ref.chat_id,
                        ref.message_id,
                        delivery.article_id,
                        delivery.comment_id,
                        delivery.destination_id,
                    )
                    for ref in links
                ],
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
        params = (
            "failed" if count_attempt else "pending",
            _ts(due_at),
            _ts(due_at),
            error,
            _ts(now),
            0 if count_attempt else 1,
            delivery.id,
            delivery.claimed_by or "",
        )
        await self._tx(
            lambda conn: conn.execute(
                f"UPDATE deliveries SET state = ?, due_at = {_HELD}, last_error = ?, "
                "updated_at = ?, attempts = attempts - ?, claimed_by = NULL "
                "WHERE id = ? AND state = 'sending' AND claimed_by = ?",
                params,
            )
        )

    async def fail_delivery(self, delivery: Delivery, error: str, now: datetime) -> None:
        params = (error, _ts(now), delivery.id, delivery.claimed_by or "")
        await self._tx(
            lambda conn: conn.execute(
                "UPDATE deliveries SET state = 'dead', due_at = NULL, last_error = ?, "
                "updated_at = ?, claimed_by = NULL "
                "WHERE id = ? AND state = 'sending' AND claimed_by = ?",
                params,
            )
        )

    async def release_claims(self, worker: str, platform: Platform | None = None) -> int:
        sql = (
            "UPDATE deliveries SET state = 'pending', claimed_by = NULL, "
            f"due_at = {_HELD.replace('?', 'updated_at')}, "
            "attempts = MAX(attempts - 1, 0) WHERE state = 'sending' AND claimed_by = ?"
        )
        params: tuple[str, ...] = (worker,)
        if platform is not None:
            sql += " AND platform = ?"
            params = (worker, str(platform))
        return await self._tx(lambda conn: conn.execute(sql, params).rowcount)

    async def _statuses(self, where: str, key: int) -> list[DeliveryStatus]:
        columns = ", ".join(f"d.{c.strip()}" for c in _DELIVERY.split(","))
        dest_columns = ", ".join(f"t.{c.strip()}" for c in _DESTINATION.split(","))
        width = len(_DELIVERY.split(","))
        sql = (
            f"SELECT {columns}, {dest_columns} FROM deliveries d "
            f"JOIN destinations t ON t.id = d.destination_id WHERE {where} ORDER BY d.id"
        )
        return await self._read(
            lambda conn: [
                DeliveryStatus(_delivery(r[:width]), _destination(r[width:]))
                for r in conn.execute(sql, (key,)).fetchall()
            ]
        )

    async def delivery_counts(self) -> dict[tuple[Platform, DeliveryState], int]:
        def body(conn: Conn) -> dict[tuple[Platform, DeliveryState], int]:
            rows = conn.execute(
                "SELECT platform, state, COUNT(*) FROM deliveries GROUP BY platform, state"
            ).fetchall()
            return {(Platform(r[0]), DeliveryState(r[1])): int(r[2]) for r in rows}

        return await self._read(body)

    async def deliveries_for_article(self, article_id: ArticleId) -> list[DeliveryStatus]:
        return await self._statuses("d.article_id = ? AND d.comment_id IS NULL", article_id)

    async def deliveries_for_comment(self, comment_id: CommentId) -> list[DeliveryStatus]:
        return await self._statuses("d.comment_id = ?", comment_id)

    # -- message links --------------------------------------------------------------------

    async def resolve_message(self, ref: MessageRef) -> MessageLink | None:
        return await self._read(lambda conn: _resolve(conn, ref))

    async def add_link(self, link: MessageLink) -> bool:
        params = (
            str(link.ref.platform),
            link.ref.chat_id,
            link.ref.message_id,
            link.article_id,
            link.comment_id,
            link.destination_id,
        )
        return await self._tx(
            lambda conn: (
                conn.execute(
                    "INSERT OR IGNORE INTO message_links (platform, chat_id, message_id, "
                    "article_id, comment_id, destination_id) VALUES (?,?,?,?,?,?)",
                    params,
                ).rowcount
                > 0
            )
        )

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

    async def ingest_comment(self, incoming: IncomingComment) -> tuple[Comment, bool] | None:
        if self._writer is None or self._writer.done():
            raise StorageError("the store is not open")
        future: asyncio.Future[tuple[Comment, bool] | None]
        future = asyncio.get_running_loop().create_future()
        self._incoming.append((incoming, future))
        self._incoming_ready.set()
        return await future

    async def _write_incoming(self) -> None:
        """The group-commit writer: every comment queued meanwhile goes in one transaction,
        written by the ingest process (see ``storage.ingest``)."""
        while True:
            await self._incoming_ready.wait()
            self._incoming_ready.clear()
            while self._incoming:
                batch = self._incoming[:_BATCH_MAX]
                del self._incoming[:_BATCH_MAX]
                started = time.perf_counter()
                try:
                    items = [i for i, _ in batch]
                    frame = self._ingester.encode(items)  # before the lock: others write
                    async with self._write_lock:
                        outcomes = await self._ingester.write(frame)
                except Exception as exc:  # the writer must outlive any one batch
                    self.errors += 1
                    failure = (
                        exc
                        if isinstance(exc, StorageError)
                        else StorageError(f"the comments could not be stored: {exc!r}")
                    )
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(failure)
                    continue
                except asyncio.CancelledError:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(StorageError("the store was closed"))
                    raise
                for (_, future), result in zip(
                    batch, intake.results(items, outcomes), strict=True
                ):
                    if not future.done():
                        future.set_result(result)
                if self.observe_batch is not None:
                    self.observe_batch(time.perf_counter() - started, len(batch))
                log.debug("comments written", extra={"batch": len(batch)})

    async def get_comment(self, comment_id: CommentId) -> Comment | None:
        return await self._read(lambda conn: _get_comment(conn, comment_id))

    async def get_comment_by_source(self, source: MessageRef) -> Comment | None:
        return await self._read(lambda conn: _comment_by_source(conn, source))

    async def edit_comment(
        self, comment_id: CommentId, text: str, now: datetime, *, due: datetime | None = None
    ) -> Comment:
        stamp, held = _ts(now), _ts(max(due or now, now))

        def body(conn: Conn) -> Comment:
            conn.execute(
                "UPDATE comments SET text = ?, edited_at = ? WHERE id = ?",
                (text, stamp, comment_id),
            )
            _hold_edit(conn, comment_id, held, stamp)
            return _require_comment(conn, comment_id)

        return await self._tx(body)

    async def set_comment_status(
        self, comment_id: CommentId, status: CommentStatus, now: datetime
    ) -> Comment:
        stamp = _ts(now)

        def body(conn: Conn) -> Comment:
            conn.execute(
                "UPDATE comments SET status = ?, deleted_at = ? WHERE id = ?",
                (str(status), None if status is CommentStatus.VISIBLE else stamp, comment_id),
            )
            if status is not CommentStatus.VISIBLE:
                _reenqueue(conn, "comment_id = ?", comment_id, DeliveryOp.DELETE, stamp)
            return _require_comment(conn, comment_id)

        return await self._tx(body)

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
            roots = [_comment(r) for r in conn.execute(sql, params).fetchall()]
            return (
                roots,
                _replies(conn, article_id, [c.id for c in roots]),
                _count(conn, article_id),
            )

        return await self._read(body)

    async def comments_by_author(self, platform: Platform, user_id: str) -> list[Comment]:
        return await self._read(
            lambda conn: [
                _comment(r)
                for r in conn.execute(
                    f"SELECT {_COMMENT} FROM comments WHERE author_platform = ? "
                    "AND author_user_id = ? AND status = 'visible' ORDER BY id",
                    (str(platform), user_id),
                ).fetchall()
            ]
        )

    # -- bans and small state -------------------------------------------------------------

    async def set_ban(self, platform: Platform, user_id: str, banned: bool, now: datetime) -> bool:
        if banned:
            sql = "INSERT OR IGNORE INTO bans (platform, user_id, created_at) VALUES (?,?,?)"
            params: tuple[str, ...] = (str(platform), user_id, _ts(now))
        else:
            sql = "DELETE FROM bans WHERE platform = ? AND user_id = ?"
            params = (str(platform), user_id)
        return await self._tx(lambda conn: conn.execute(sql, params).rowcount > 0)

    async def is_banned(self, platform: Platform, user_id: str) -> bool:
        return await self._read(lambda conn: _banned(conn, str(platform), user_id))

    async def get_state(self, key: str) -> str | None:
        def body(conn: Conn) -> str | None:
            row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])

        return await self._read(body)

    async def set_state(self, key: str, value: str) -> None:
        await self._tx(
            lambda conn: conn.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        )

    async def setdefault_state(self, key: str, value: str) -> str:
        def body(conn: Conn) -> str:
            conn.execute("INSERT OR IGNORE INTO state (key, value) VALUES (?, ?)", (key, value))
            return str(conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()[0])

        return await self._tx(body)

    async def take_slot(self, key: str, limit: int, window: float, now: datetime) -> float:
        stamp, horizon = _ts(now), _ts(now - timedelta(seconds=window))
        expires = _ts(now + timedelta(seconds=window))

        def body(conn: Conn) -> float:
            conn.execute("DELETE FROM rate_slots WHERE key = ? AND taken_at <= ?", (key, horizon))
            # Expired slots of other keys too (one-off keys, such as a visitor's address, are
            # never asked again), a bounded batch per call: more than each call adds.
            conn.execute(
                "DELETE FROM rate_slots WHERE rowid IN "
                "(SELECT rowid FROM rate_slots WHERE expires_at <= ? LIMIT ?)",
                (stamp, _SLOT_PRUNE),
            )
            taken = conn.execute(
                "SELECT taken_at FROM rate_slots WHERE key = ? ORDER BY taken_at LIMIT ?",
                (key, max(limit, 1)),
            ).fetchall()
            if len(taken) < limit:
                conn.execute(
                    "INSERT INTO rate_slots (key, taken_at, expires_at) VALUES (?, ?, ?)",
                    (key, stamp, expires),
                )
                return 0.0
            oldest = datetime.fromisoformat(taken[0][0])
            return max((oldest - now).total_seconds() + window, 0.001)

        return await self._tx(body)

    # -- workers and roles ----------------------------------------------------------------

    async def heartbeat(self, worker: WorkerInfo) -> None:
        params = (
            worker.id,
            worker.host,
            worker.pid,
            _ts(worker.started_at),
            _ts(worker.heartbeat_at),
            " ".join(worker.roles),
        )
        await self._tx(
            lambda conn: conn.execute(
                "INSERT INTO workers (id, host, pid, started_at, heartbeat_at, roles) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET "
                "heartbeat_at = excluded.heartbeat_at, roles = excluded.roles",
                params,
            )
        )

    async def remove_worker(self, worker_id: str) -> None:
        await self._tx(lambda conn: conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,)))

    async def list_workers(self, since: datetime) -> list[WorkerInfo]:
        def body(conn: Conn) -> list[WorkerInfo]:
            rows = conn.execute(
                "SELECT id, host, pid, started_at, heartbeat_at, roles FROM workers "
                "WHERE heartbeat_at >= ? ORDER BY started_at, id",
                (_ts(since),),
            ).fetchall()
            return [
                WorkerInfo(
                    r[0],
                    r[1],
                    r[2],
                    datetime.fromisoformat(r[3]),
                    datetime.fromisoformat(r[4]),
                    _tags(r[5]),
                )
                for r in rows
            ]

        return await self._read(body)

    async def acquire_role(
        self, role: str, worker: str, now: datetime, lease: float
    ) -> RoleLease | None:
        stamp, until = _ts(now), _ts(now + timedelta(seconds=lease))

        def body(conn: Conn) -> RoleLease | None:
            row = conn.execute(
                "SELECT holder, lease_until, epoch FROM roles WHERE role = ?", (role,)
            ).fetchone()
            if row is None:
                epoch = 1
                conn.execute(
                    "INSERT INTO roles (role, holder, lease_until, epoch) VALUES (?,?,?,?)",
                    (role, worker, until, epoch),
                )
            elif row[0] == worker or row[1] < stamp:
                epoch = row[2] if row[0] == worker else row[2] + 1
                conn.execute(
                    "UPDATE roles SET holder = ?, lease_until = ?, epoch = ? WHERE role = ?",
                    (worker, until, epoch, role),
                )
            else:
                return None
            return RoleLease(role, worker, datetime.fromisoformat(until), epoch)

        return await self._tx(body)

    async def release_role(self, role: str, worker: str) -> bool:
        # Expired, not deleted: the epoch keeps growing across holders.
        return await self._tx(
            lambda conn: (
                conn.execute(
                    "UPDATE roles SET lease_until = ? WHERE role = ? AND holder = ?",
                    (_ts(datetime.min.replace(tzinfo=UTC)), role, worker),
                ).rowcount
                > 0
            )
        )

    async def list_roles(self) -> list[RoleLease]:
        def body(conn: Conn) -> list[RoleLease]:
            return [
                RoleLease(r[0], r[1], datetime.fromisoformat(r[2]), r[3])
                for r in conn.execute(
                    "SELECT role, holder, lease_until, epoch FROM roles ORDER BY role"
                ).fetchall()
            ]

        return await self._read(body)

    # -- feeds ----------------------------------------------------------------------------

    async def add_feed(self, new: NewFeed, now: datetime) -> tuple[Feed, bool]:
        stamp = _ts(now)

        def body(conn: Conn) -> tuple[Feed, bool]:
            row = conn.execute(f"SELECT {_FEED} FROM feeds WHERE url = ?", (new.url,)).fetchone()
            changed = True
            if row is None:
                conn.execute(
                    "INSERT INTO feeds (url, tags, interval_s, backfill, created_at, "
                    "next_poll_at) VALUES (?,?,?,?,?,?)",
                    (new.url, " ".join(new.tags), new.interval, new.backfill, stamp, stamp),
                )
            elif not row[6]:
                conn.execute(
                    "UPDATE feeds SET active = 1, tags = ?, interval_s = ?, backfill = ?, "
                    "errors = 0, last_error = NULL, deactivated_reason = NULL, etag = NULL, "
                    "last_modified = NULL, last_success_at = NULL, next_poll_at = ? "
                    "WHERE id = ?",
                    (" ".join(new.tags), new.interval, new.backfill, stamp, row[0]),
                )
            else:
                changed = False
            row = conn.execute(f"SELECT {_FEED} FROM feeds WHERE url = ?", (new.url,)).fetchone()
            seen = conn.execute(
                "SELECT COUNT(*) FROM feed_items WHERE feed_id = ?", (row[0],)
            ).fetchone()[0]
            return _feed(row, int(seen)), changed

        return await self._tx(body)

    async def list_feeds(self) -> list[Feed]:
        def body(conn: Conn) -> list[Feed]:
            counts = dict(
                conn.execute("SELECT feed_id, COUNT(*) FROM feed_items GROUP BY feed_id")
            )
            rows = conn.execute(f"SELECT {_FEED} FROM feeds ORDER BY id").fetchall()
            return [_feed(r, int(counts.get(r[0], 0))) for r in rows]

        return await self._read(body)

    async def save_feed(self, feed: Feed) -> None:
        params = (
            feed.url,
            feed.title,
            " ".join(feed.tags),
            feed.interval,
            feed.backfill,
            int(feed.active),
            _ts(feed.next_poll_at),
            _opt_ts(feed.last_poll_at),
            _opt_ts(feed.last_success_at),
            feed.last_status,
            feed.etag,
            feed.last_modified,
            feed.errors,
            feed.last_error,
            feed.deactivated_reason,
            feed.id,
        )
        await self._tx(
            lambda conn: conn.execute(
                "UPDATE feeds SET url = ?, title = ?, tags = ?, interval_s = ?, backfill = ?, "
                "active = ?, next_poll_at = ?, last_poll_at = ?, last_success_at = ?, "
                "last_status = ?, etag = ?, last_modified = ?, errors = ?, last_error = ?, "
                "deactivated_reason = ? WHERE id = ?",
                params,
            )
        )

    async def remove_feed(self, feed_id: FeedId) -> bool:
        def body(conn: Conn) -> bool:
            conn.execute("DELETE FROM feed_items WHERE feed_id = ?", (feed_id,))
            return conn.execute("DELETE FROM feeds WHERE id = ?", (feed_id,)).rowcount > 0

        return await self._tx(body)

    async def feed_items(self, feed_id: FeedId, keys: Sequence[str]) -> dict[str, FeedItem]:
        def body(conn: Conn) -> dict[str, FeedItem]:
            found: dict[str, FeedItem] = {}
            for chunk in _chunks(list(keys)):
                rows = conn.execute(
                    "SELECT key, article_id, fingerprint, seen_at, edited_at FROM feed_items "
                    f"WHERE feed_id = ? AND key IN ({_marks(len(chunk))})",
                    (feed_id, *chunk),
                ).fetchall()
                for r in rows:
                    found[r[0]] = FeedItem(
                        feed_id,
                        r[0],
                        None if r[1] is None else ArticleId(r[1]),
                        r[2],
                        datetime.fromisoformat(r[3]),
                        _dt(r[4]),
                    )
            return found

        return await self._read(body)

    async def save_feed_items(self, items: Sequence[FeedItem]) -> None:
        rows = [
            (
                i.feed_id,
                i.key,
                i.article_id,
                i.fingerprint,
                _ts(i.seen_at),
                _opt_ts(i.edited_at),
                i.feed_id,
            )
            for i in items
        ]
        if not rows:
            return
        await self._tx(
            lambda conn: conn.executemany(
                "INSERT INTO feed_items (feed_id, key, article_id, fingerprint, seen_at, "
                "edited_at) SELECT ?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM feeds WHERE id = ?) "
                "ON CONFLICT (feed_id, key) DO UPDATE SET article_id = excluded.article_id, "
                "fingerprint = excluded.fingerprint, edited_at = excluded.edited_at",
                rows,
            )
        )

    # -- changes made by other processes --------------------------------------------------

    def watch(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)
        if self._db is not None:
            self._start_watching()

    def _start_watching(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch(), name="sqlite-watch")

    async def _watch(self) -> None:
        """Poll ``PRAGMA data_version``, which changes when another connection (the command
        line, another worker, our own writer or ingest process) commits: a change is seen
        within ``_WATCH_INTERVAL`` at the cost of one cheap read."""
        last: int | None = None
        while True:
            version: int | None
            try:
                version = await self._read(
                    lambda conn: int(conn.execute("PRAGMA data_version").fetchone()[0])
                )
            except StorageError:
                version = last
            if last is not None and version != last:
                for listener in list(self._listeners):
                    try:
                        listener("*")
                    except Exception:
                        log.exception("a change listener failed")
            last = version
            await asyncio.sleep(_WATCH_INTERVAL)


# -- the units of work, run on the connection thread ---------------------------------------


def _roots_query(
    article_id: int, limit: int, after: ThreadCursor | None, newest_first: bool
) -> tuple[str, list[Any]]:
    sql = f"SELECT {_COMMENT} FROM comments WHERE article_id = ? AND parent_id IS NULL"
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
    rows = _select_in(conn, f"SELECT {_COMMENT} FROM comments WHERE root_id IN ({{}})", root_ids)
    found = [_comment(r) for r in rows if r[1] == article_id]
    found.sort(key=lambda c: (c.created_at, c.id))
    return found


def _count(conn: Conn, article_id: int) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM comments WHERE article_id = ? AND status = 'visible'", (article_id,)
    ).fetchone()
    return int(row[0])


def _request(conn: Conn, key: str) -> int | None:
    """The article a request (a command carried out once) was about, if it was carried out."""
    row = conn.execute("SELECT article_id FROM requests WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def _banned(conn: Conn, platform: str, user_id: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM bans WHERE platform = ? AND user_id = ?", (platform, user_id)
    ).fetchone()
    return row is not None


def _get_comment(conn: Conn, comment_id: int) -> Comment | None:
    row = conn.execute(f"SELECT {_COMMENT} FROM comments WHERE id = ?", (comment_id,)).fetchone()
    return None if row is None else _comment(row)


def _require_comment(conn: Conn, comment_id: int) -> Comment:
    comment = _get_comment(conn, comment_id)
    if comment is None:
        raise StorageError(f"comment {comment_id} vanished")
    return comment


def _comment_by_source(conn: Conn, source: MessageRef) -> Comment | None:
    row = conn.execute(
        f"SELECT {_COMMENT} FROM comments WHERE source_platform = ? "
        "AND source_chat_id = ? AND source_message_id = ?",
        (str(source.platform), source.chat_id, source.message_id),
    ).fetchone()
    return None if row is None else _comment(row)


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
            new.author.name,
            str(new.author.platform),
            new.author.user_id,
            new.text,
            str(new.source.platform),
            new.source.chat_id,
            new.source.message_id,
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
        Comment(
            id=CommentId(comment_id or 0),
            article_id=new.article_id,
            parent_id=new.parent_id if root_id is not None else None,
            author=new.author,
            text=new.text,
            source=new.source,
            status=CommentStatus.VISIBLE,
            created_at=datetime.fromisoformat(_ts(new.created_at)),
        ),
        True,
    )


def _reenqueue(conn: Conn, where: str, key: int, op: DeliveryOp, stamp: str) -> int:
    """Re-enqueue deliveries matching ``where`` as ``op``; return how many were affected.

    Sent (and, for deletes, waiting) messages get the new op, due now; sends in flight get the
    new op and a new generation, so they come back pending once they finish; for a delete,
    posts that never went out are cancelled.
    """
    if op is DeliveryOp.DELETE:
        conn.execute(
            "UPDATE deliveries SET state = 'dead', due_at = NULL, updated_at = ?, "
            "last_error = 'cancelled: removed before it was sent' "
            f"WHERE {where} AND message_id IS NULL AND state IN ('pending', 'failed')",
            (stamp, key),
        )
        settled = "('sent', 'pending', 'failed')"
    else:
        settled = "('sent')"
    count: int = conn.execute(
        "UPDATE deliveries SET op = ?, state = 'pending', due_at = ?, attempts = 0, "
        "generation = generation + 1, last_error = NULL, updated_at = ? "
        f"WHERE {where} AND message_id IS NOT NULL AND state IN {settled} AND op != 'delete'",
        (str(op), stamp, stamp, key),
    ).rowcount
    count += conn.execute(
        "UPDATE deliveries SET op = ?, generation = generation + 1, updated_at = ? "
        f"WHERE {where} AND state = 'sending' AND op != 'delete'",
        (str(op), stamp, key),
    ).rowcount
    return count


# When a delivery going back to pending is due: the time given (the ``?`` twice), or later if
# it is a comment edit held (``not_before``) by the moderation hold or the intake pace.
_HELD = "CASE WHEN op = 'edit' AND not_before > ? THEN not_before ELSE ? END"


def _hold_edit(conn: Conn, comment_id: int, held: str, stamp: str) -> None:
    """Re-enqueue a comment's copies as edits, none of them sent before ``held``
    (``Store.edit_comment``)."""
    conn.execute(
        "UPDATE deliveries SET op = 'edit', state = 'pending', due_at = ?, attempts = 0, "
        "generation = generation + 1, last_error = NULL, updated_at = ?, not_before = ? "
        "WHERE comment_id = ? AND message_id IS NOT NULL AND state = 'sent' AND op != 'delete'",
        (held, stamp, held, comment_id),
    )
    conn.execute(
        "UPDATE deliveries SET due_at = MAX(COALESCE(due_at, ?), ?), "
        "not_before = MAX(COALESCE(not_before, ?), ?) "
        "WHERE comment_id = ? AND state IN ('pending', 'failed') AND op != 'delete'",
        (held, held, held, held, comment_id),
    )
    conn.execute(
        "UPDATE deliveries SET op = 'edit', generation = generation + 1, updated_at = ?, "
        "not_before = MAX(COALESCE(not_before, ?), ?) "
        "WHERE comment_id = ? AND state = 'sending' AND op != 'delete'",
        (stamp, held, held, comment_id),
    )


def _jobs(conn: Conn, ids: list[int]) -> list[Job]:
    deliveries = [
        _delivery(r)
        for r in _select_in(conn, f"SELECT {_DELIVERY} FROM deliveries WHERE id IN ({{}})", ids)
    ]
    deliveries.sort(key=lambda d: (d.next_attempt_at or d.updated_at, d.id))
    dest_ids = sorted({d.destination_id for d in deliveries})
    destinations = {
        d.id: d
        for d in map(
            _destination,
            _select_in(
                conn, f"SELECT {_DESTINATION} FROM destinations WHERE id IN ({{}})", dest_ids
            ),
        )
    }
    article_ids = sorted({d.article_id for d in deliveries})
    articles = {
        a.id: a
        for a in map(
            _article,
            _select_in(conn, f"SELECT {_ARTICLE} FROM articles WHERE id IN ({{}})", article_ids),
        )
    }
    counts = {
        r[0]: r[1]
        for r in _select_in(
            conn,
            "SELECT article_id, COUNT(*) FROM comments WHERE status = 'visible' AND "
            "article_id IN ({}) GROUP BY article_id",
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
            for r in _select_in(
                conn,
                "SELECT article_id, destination_id, message_id, thread_id FROM deliveries "
                "WHERE comment_id IS NULL AND article_id IN ({})",
                article_ids,
            )
        }
        for link in _post_links(conn, article_ids):
            post_links.setdefault(link.article_id, []).append(link)
        wanted = {d.comment_id for d in mirrors if d.comment_id is not None}
        comments = _comments_by_ids(conn, wanted)
        parents = {c.parent_id for c in comments.values() if c.parent_id is not None}
        comments |= _comments_by_ids(conn, parents - comments.keys())
        for d in mirrors:
            comment = comments.get(d.comment_id or 0)
            if comment is not None and comment.parent_id is not None:
                row = conn.execute(
                    "SELECT message_id FROM deliveries WHERE comment_id = ? "
                    "AND destination_id = ?",
                    (comment.parent_id, d.destination_id),
                ).fetchone()
                copies[(comment.parent_id, d.destination_id)] = None if row is None else row[0]
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


def _comments_by_ids(conn: Conn, ids: Iterable[int]) -> dict[int, Comment]:
    rows = _select_in(conn, f"SELECT {_COMMENT} FROM comments WHERE id IN ({{}})", sorted(ids))
    return {row[0]: _comment(row) for row in rows}
