"""The ``Store`` on SQLite through aiosqlite: WAL, foreign keys, IMMEDIATE write transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

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
    Job,
    MessageLink,
    MessageRef,
    NewComment,
    NewDestination,
    Platform,
    Posted,
    ThreadCursor,
)

log = logging.getLogger("newsbot.storage")

_ARTICLE = (
    "id, title, body, summary, url, image_url, author_name, author_platform, author_user_id, "
    "tags, status, created_at, published_at, updated_at, revision"
)
_COMMENT = (
    "id, article_id, parent_id, author_name, author_platform, author_user_id, text, "
    "source_platform, source_chat_id, source_message_id, status, created_at, edited_at, "
    "deleted_at"
)
_DESTINATION = "id, platform, chat_id, thread_id, title, kind, active, tags, deactivated_reason"
_DELIVERY = (
    "id, article_id, comment_id, destination_id, platform, op, state, attempts, due_at, "
    "last_error, message_id, thread_id, generation, updated_at"
)
_SQL_VARIABLES = 500


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _req_dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _tags(value: str) -> tuple[str, ...]:
    return tuple(value.split()) if value else ()


def _article(row: sqlite3.Row) -> Article:
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
        created_at=_req_dt(row[11]),
        published_at=_dt(row[12]),
        updated_at=_req_dt(row[13]),
        revision=row[14],
    )


def _comment(row: sqlite3.Row) -> Comment:
    return Comment(
        id=CommentId(row[0]),
        article_id=ArticleId(row[1]),
        parent_id=None if row[2] is None else CommentId(row[2]),
        author=Author(row[3], Platform(row[4]), row[5]),
        text=row[6],
        source=MessageRef(Platform(row[7]), row[8], row[9]),
        status=CommentStatus(row[10]),
        created_at=_req_dt(row[11]),
        edited_at=_dt(row[12]),
        deleted_at=_dt(row[13]),
    )


def _destination(row: sqlite3.Row) -> Destination:
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
    )


def _delivery(row: sqlite3.Row) -> Delivery:
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
        updated_at=_req_dt(row[13]),
    )


def _chunks(items: Sequence[int], size: int = _SQL_VARIABLES) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    return ",".join("?" * count)


def migrations() -> list[tuple[int, str]]:
    """The numbered migration scripts shipped in ``storage/migrations``, in order."""
    found = []
    for entry in resources.files("storage").joinpath("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SqliteStore:
    """A ``Store`` in one SQLite file.

    One connection serves every call; an ``asyncio.Lock`` makes each method one unit of work,
    and write methods run in ``BEGIN IMMEDIATE`` transactions so that readers and the command
    line in other processes never meet a half-done change.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5000,
    ) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown synchronous mode {synchronous!r}")
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

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
        try:
            db = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        self._db = db
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            await db.execute("PRAGMA foreign_keys = ON")
            mode = await (await db.execute("PRAGMA journal_mode = WAL")).fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                log.warning("WAL journal unavailable", extra={"journal_mode": mode})
            await db.execute(f"PRAGMA synchronous = {self.synchronous}")
            await self._migrate(db)
        except BaseException as exc:
            self._db = None
            await db.close()
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"cannot use {self.path} as a newsbot database: {exc}") from exc
            raise

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        try:
            row = await (await db.execute("PRAGMA user_version")).fetchone()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.path} is not a newsbot database: {exc}") from exc
        current = int(row[0]) if row else 0
        known = migrations()
        newest = known[-1][0]
        if current > newest:
            raise SchemaTooNew(
                f"{self.path} has schema version {current}, newer than this newsbot "
                f"understands ({newest}); upgrade newsbot or use another NEWSBOT_DATABASE."
            )
        for version, script in known:
            if version <= current:
                continue
            try:
                await db.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;"
                )
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
                raise StorageError(f"migration {version} failed on {self.path}: {exc}") from exc
            log.info("database migrated", extra={"version": version, "path": str(self.path)})

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await db.close()

    # -- transactions ---------------------------------------------------------------------

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StorageError("the store is not open")
        return self._db

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            db = self._conn()
            try:
                await db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"cannot start a write on {self.path}: {exc}") from exc
            try:
                yield db
                await db.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(f"database write failed: {exc}") from exc
                raise

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            try:
                yield self._conn()
            except sqlite3.Error as exc:
                raise StorageError(f"database read failed: {exc}") from exc

    @staticmethod
    async def _all(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with db.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    @staticmethod
    async def _one(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
        async with db.execute(sql, params) as cursor:
            return await cursor.fetchone()

    # -- articles -------------------------------------------------------------------------

    async def add_article(
        self,
        draft: ArticleDraft,
        author: Author,
        now: datetime,
        deliver_to: Sequence[DestinationId],
    ) -> Article:
        stamp = _ts(now)
        async with self._write() as db:
            cursor = await db.execute(
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
            await db.executemany(
                "INSERT INTO deliveries (article_id, destination_id, platform, op, state, "
                "due_at, created_at, updated_at) SELECT ?, id, platform, 'post', 'pending', "
                "?, ?, ? FROM destinations WHERE id = ? AND active = 1",
                ((article_id, stamp, stamp, stamp, d) for d in deliver_to),
            )
            row = await self._one(
                db, f"SELECT {_ARTICLE} FROM articles WHERE id = ?", (article_id,)
            )
        return _article(row)

    async def update_article(
        self, article_id: ArticleId, draft: ArticleDraft, now: datetime
    ) -> int:
        stamp = _ts(now)
        async with self._write() as db:
            await db.execute(
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
            return await self._reenqueue(
                db, "article_id = ? AND comment_id IS NULL", article_id, DeliveryOp.EDIT, stamp
            )

    async def _reenqueue(
        self, db: aiosqlite.Connection, where: str, key: int, op: DeliveryOp, stamp: str
    ) -> int:
        """Re-enqueue deliveries matching ``where`` as ``op``; return how many were affected.

        Sent (and, for deletes, waiting) messages get the new op, due now; sends in flight get
        the new op and a new generation, so they come back pending once they finish; for a
        delete, posts that never went out are cancelled.
        """
        if op is DeliveryOp.DELETE:
            await db.execute(
                f"UPDATE deliveries SET state = 'dead', due_at = NULL, updated_at = ?, "
                f"last_error = 'cancelled: removed before it was sent' "
                f"WHERE {where} AND message_id IS NULL AND state IN ('pending', 'failed')",
                (stamp, key),
            )
            settled = "('sent', 'pending', 'failed')"
        else:
            settled = "('sent')"
        cursor = await db.execute(
            f"UPDATE deliveries SET op = ?, state = 'pending', due_at = ?, attempts = 0, "
            f"generation = generation + 1, last_error = NULL, updated_at = ? "
            f"WHERE {where} AND message_id IS NOT NULL AND state IN {settled} "
            f"AND op != 'delete'",
            (str(op), stamp, stamp, key),
        )
        count = cursor.rowcount
        cursor = await db.execute(
            f"UPDATE deliveries SET op = ?, generation = generation + 1, updated_at = ? "
            f"WHERE {where} AND state = 'sending' AND op != 'delete'",
            (str(op), stamp, key),
        )
        return count + cursor.rowcount

    async def retract_article(self, article_id: ArticleId, now: datetime) -> int:
        stamp = _ts(now)
        async with self._write() as db:
            await db.execute(
                "UPDATE articles SET status = 'retracted', updated_at = ? WHERE id = ?",
                (stamp, article_id),
            )
            return await self._reenqueue(
                db, "article_id = ?", article_id, DeliveryOp.DELETE, stamp
            )

    async def get_article(self, article_id: ArticleId) -> Article | None:
        async with self._read() as db:
            row = await self._one(
                db, f"SELECT {_ARTICLE} FROM articles WHERE id = ?", (article_id,)
            )
        return None if row is None else _article(row)

    async def latest_articles(self, limit: int, before: ArticleCursor | None) -> list[Article]:
        sql = f"SELECT {_ARTICLE} FROM articles WHERE status = 'published'"
        params: list[Any] = []
        if before is not None:
            sql += " AND (published_at, id) < (?, ?)"
            params += [_ts(before.published_at), before.article_id]
        sql += " ORDER BY published_at DESC, id DESC LIMIT ?"
        async with self._read() as db:
            rows = await self._all(db, sql, [*params, limit])
        return [_article(r) for r in rows]

    async def count_comments(self, article_id: ArticleId) -> int:
        async with self._read() as db:
            row = await self._one(
                db,
                "SELECT COUNT(*) FROM comments WHERE article_id = ? AND status = 'visible'",
                (article_id,),
            )
        return int(row[0])

    # -- destinations ---------------------------------------------------------------------

    async def add_destination(
        self, new: NewDestination, now: datetime
    ) -> tuple[Destination, bool]:
        stamp = _ts(now)
        key = (str(new.platform), new.chat_id, new.thread_id or "")
        async with self._write() as db:
            row = await self._one(
                db,
                f"SELECT {_DESTINATION} FROM destinations "
                "WHERE platform = ? AND chat_id = ? AND thread_id = ?",
                key,
            )
            if row is not None and row[6]:
                return _destination(row), False
            await db.execute(
                "INSERT INTO destinations (platform, chat_id, thread_id, title, kind, active, "
                "tags, created_at, updated_at) VALUES (?,?,?,?,?,1,?,?,?) "
                "ON CONFLICT (platform, chat_id, thread_id) DO UPDATE SET active = 1, "
                "title = excluded.title, kind = excluded.kind, tags = excluded.tags, "
                "updated_at = excluded.updated_at, deactivated_reason = NULL",
                (*key, new.title, str(new.kind), " ".join(new.tags), stamp, stamp),
            )
            row = await self._one(
                db,
                f"SELECT {_DESTINATION} FROM destinations "
                "WHERE platform = ? AND chat_id = ? AND thread_id = ?",
                key,
            )
        return _destination(row), True

    async def get_destination(
        self, platform: Platform, chat_id: str, thread_id: str | None = None
    ) -> Destination | None:
        async with self._read() as db:
            row = await self._one(
                db,
                f"SELECT {_DESTINATION} FROM destinations "
                "WHERE platform = ? AND chat_id = ? AND thread_id = ?",
                (str(platform), chat_id, thread_id or ""),
            )
        return None if row is None else _destination(row)

    async def deactivate_destination(
        self, destination_id: DestinationId, reason: str, now: datetime
    ) -> bool:
        stamp = _ts(now)
        async with self._write() as db:
            cursor = await db.execute(
                "UPDATE destinations SET active = 0, deactivated_reason = ?, updated_at = ? "
                "WHERE id = ? AND active = 1",
                (reason, stamp, destination_id),
            )
            changed = cursor.rowcount > 0
            await db.execute(
                "UPDATE deliveries SET state = 'dead', due_at = NULL, updated_at = ?, "
                "last_error = ? WHERE destination_id = ? AND state IN ('pending', 'failed')",
                (stamp, f"destination inactive: {reason}", destination_id),
            )
        return changed

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
        async with self._read() as db:
            rows = await self._all(db, sql + " ORDER BY id", params)
        return [_destination(r) for r in rows]

    # -- the outbox -----------------------------------------------------------------------

    async def claim_deliveries(self, platform: Platform, now: datetime, limit: int) -> list[Job]:
        stamp = _ts(now)
        async with self._write() as db:
            rows = await self._all(
                db,
                "SELECT id FROM deliveries WHERE platform = ? AND due_at IS NOT NULL "
                "AND due_at <= ? ORDER BY due_at, id LIMIT ?",
                (str(platform), stamp, limit),
            )
            ids = [r[0] for r in rows]
            if not ids:
                return []
            await db.execute(
                f"UPDATE deliveries SET state = 'sending', attempts = attempts + 1, "
                f"due_at = NULL, updated_at = ? WHERE id IN ({_marks(len(ids))})",
                (stamp, *ids),
            )
            return await self._jobs(db, ids)

    async def _jobs(self, db: aiosqlite.Connection, ids: list[int]) -> list[Job]:
        marks = _marks(len(ids))
        deliveries = [
            _delivery(r)
            for r in await self._all(
                db,
                f"SELECT {_DELIVERY} FROM deliveries WHERE id IN ({marks}) ORDER BY due_at, id",
                ids,
            )
        ]
        dest_ids = sorted({d.destination_id for d in deliveries})
        destinations = {
            d.id: d
            for d in map(
                _destination,
                await self._all(
                    db,
                    f"SELECT {_DESTINATION} FROM destinations "
                    f"WHERE id IN ({_marks(len(dest_ids))})",
                    dest_ids,
                ),
            )
        }
        article_ids = sorted({d.article_id for d in deliveries})
        articles = {
            a.id: a
            for a in map(
                _article,
                await self._all(
                    db,
                    f"SELECT {_ARTICLE} FROM articles WHERE id IN ({_marks(len(article_ids))})",
                    article_ids,
                ),
            )
        }
        counts = {
            r[0]: r[1]
            for r in await self._all(
                db,
                "SELECT article_id, COUNT(*) FROM comments WHERE status = 'visible' AND "
                f"article_id IN ({_marks(len(article_ids))}) GROUP BY article_id",
                article_ids,
            )
        }
        # The article's own post in each destination: where mirrored comments go.
        posts = {
            (r[0], r[1]): (r[2], r[3])
            for r in await self._all(
                db,
                "SELECT article_id, destination_id, message_id, thread_id FROM deliveries "
                f"WHERE comment_id IS NULL AND article_id IN ({_marks(len(article_ids))})",
                article_ids,
            )
        }
        jobs = []
        for delivery in deliveries:
            destination = destinations[delivery.destination_id]
            article = articles[delivery.article_id]
            post_message, post_thread = posts.get((article.id, destination.id), (None, None))
            comment = parent = None
            reply_to = post_message
            if delivery.comment_id is not None:
                comment = await self._get_comment(db, delivery.comment_id)
                if comment is not None and comment.parent_id is not None:
                    parent = await self._get_comment(db, comment.parent_id)
                    reply_to = await self._reply_target(db, parent, destination) or post_message
            nonce_kind = "a" if comment is None else "c"
            nonce_id = article.id if comment is None else comment.id
            jobs.append(
                Job(
                    delivery=delivery,
                    destination=destination,
                    article=article,
                    comment=comment,
                    parent=parent,
                    reply_to=reply_to,
                    thread_id=post_thread,
                    comment_count=counts.get(article.id, 0),
                    article_url="",
                    nonce=f"nb{nonce_kind}{nonce_id}d{destination.id}"[:25],
                )
            )
        return jobs

    async def _reply_target(
        self, db: aiosqlite.Connection, parent: Comment | None, destination: Destination
    ) -> str | None:
        if parent is None:
            return None
        if parent.source.platform is destination.platform and parent.source.chat_id in (
            destination.chat_id,
            destination.thread_id,
        ):
            return parent.source.message_id
        row = await self._one(
            db,
            "SELECT message_id FROM deliveries WHERE comment_id = ? AND destination_id = ?",
            (parent.id, destination.id),
        )
        return None if row is None else row[0]

    async def next_due(self, platform: Platform) -> datetime | None:
        async with self._read() as db:
            row = await self._one(
                db,
                "SELECT MIN(due_at) FROM deliveries WHERE platform = ? AND due_at IS NOT NULL",
                (str(platform),),
            )
        return _dt(row[0]) if row else None

    async def complete_delivery(
        self, delivery: Delivery, posted: Posted | None, now: datetime
    ) -> None:
        stamp = _ts(now)
        async with self._write() as db:
            await db.execute(
                "UPDATE deliveries SET message_id = COALESCE(?, message_id), "
                "thread_id = COALESCE(?, thread_id), last_error = NULL, updated_at = ?, "
                "state = CASE WHEN generation = ? THEN 'sent' ELSE 'pending' END, "
                "due_at = CASE WHEN generation = ? THEN NULL ELSE ? END WHERE id = ?",
                (
                    posted.message_id if posted else None,
                    posted.thread_id if posted else None,
                    stamp,
                    delivery.generation,
                    delivery.generation,
                    stamp,
                    delivery.id,
                ),
            )
            if posted is not None:
                links = posted.links
                if not links:
                    row = await self._one(
                        db,
                        "SELECT chat_id FROM destinations WHERE id = ?",
                        (delivery.destination_id,),
                    )
                    links = (MessageRef(delivery.platform, row[0], posted.message_id),)
                await db.executemany(
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

    async def retry_delivery(
        self,
        delivery: Delivery,
        error: str,
        due_at: datetime,
        now: datetime,
        *,
        count_attempt: bool = True,
    ) -> None:
        async with self._write() as db:
            await db.execute(
                "UPDATE deliveries SET state = ?, due_at = ?, last_error = ?, updated_at = ?, "
                "attempts = attempts - ? WHERE id = ? AND state = 'sending'",
                (
                    "failed" if count_attempt else "pending",
                    _ts(due_at),
                    error,
                    _ts(now),
                    0 if count_attempt else 1,
                    delivery.id,
                ),
            )

    async def fail_delivery(self, delivery: Delivery, error: str, now: datetime) -> None:
        async with self._write() as db:
            await db.execute(
                "UPDATE deliveries SET state = 'dead', due_at = NULL, last_error = ?, "
                "updated_at = ? WHERE id = ?",
                (error, _ts(now), delivery.id),
            )

    async def release_claims(self, platform: Platform | None = None) -> int:
        sql = (
            "UPDATE deliveries SET state = 'pending', due_at = updated_at WHERE state = 'sending'"
        )
        params: tuple[str, ...] = ()
        if platform is not None:
            sql += " AND platform = ?"
            params = (str(platform),)
        async with self._write() as db:
            cursor = await db.execute(sql, params)
            return cursor.rowcount

    async def _statuses(self, where: str, key: int) -> list[DeliveryStatus]:
        columns = ", ".join(f"d.{c.strip()}" for c in _DELIVERY.split(","))
        dest_columns = ", ".join(f"t.{c.strip()}" for c in _DESTINATION.split(","))
        async with self._read() as db:
            rows = await self._all(
                db,
                f"SELECT {columns}, {dest_columns} FROM deliveries d "
                f"JOIN destinations t ON t.id = d.destination_id WHERE {where} ORDER BY d.id",
                (key,),
            )
        width = len(_DELIVERY.split(","))
        return [DeliveryStatus(_delivery(r[:width]), _destination(r[width:])) for r in rows]

    async def deliveries_for_article(self, article_id: ArticleId) -> list[DeliveryStatus]:
        return await self._statuses("d.article_id = ? AND d.comment_id IS NULL", article_id)

    async def deliveries_for_comment(self, comment_id: CommentId) -> list[DeliveryStatus]:
        return await self._statuses("d.comment_id = ?", comment_id)

    # -- message links --------------------------------------------------------------------

    async def resolve_message(self, ref: MessageRef) -> MessageLink | None:
        key = (str(ref.platform), ref.chat_id, ref.message_id)
        async with self._read() as db:
            row = await self._one(
                db,
                "SELECT article_id, comment_id, destination_id FROM message_links "
                "WHERE platform = ? AND chat_id = ? AND message_id = ?",
                key,
            )
            if row is not None:
                return MessageLink(
                    ref,
                    ArticleId(row[0]),
                    None if row[1] is None else CommentId(row[1]),
                    None if row[2] is None else DestinationId(row[2]),
                )
            row = await self._one(
                db,
                "SELECT article_id, id FROM comments WHERE source_platform = ? "
                "AND source_chat_id = ? AND source_message_id = ?",
                key,
            )
        if row is None:
            return None
        return MessageLink(ref, ArticleId(row[0]), CommentId(row[1]))

    async def add_link(self, link: MessageLink) -> bool:
        async with self._write() as db:
            cursor = await db.execute(
                "INSERT OR IGNORE INTO message_links (platform, chat_id, message_id, article_id, "
                "comment_id, destination_id) VALUES (?,?,?,?,?,?)",
                (
                    str(link.ref.platform),
                    link.ref.chat_id,
                    link.ref.message_id,
                    link.article_id,
                    link.comment_id,
                    link.destination_id,
                ),
            )
            return cursor.rowcount > 0

    # -- comments -------------------------------------------------------------------------

    async def add_comment(
        self,
        new: NewComment,
        mirror_to: Sequence[DestinationId] = (),
        mirror_due: datetime | None = None,
    ) -> tuple[Comment, bool]:
        source = (str(new.source.platform), new.source.chat_id, new.source.message_id)
        async with self._write() as db:
            root_id = None
            if new.parent_id is not None:
                row = await self._one(
                    db, "SELECT COALESCE(root_id, id) FROM comments WHERE id = ?", (new.parent_id,)
                )
                root_id = None if row is None else row[0]
            cursor = await db.execute(
                "INSERT INTO comments (article_id, parent_id, root_id, author_name, "
                "author_platform, author_user_id, text, source_platform, source_chat_id, "
                "source_message_id, status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,'visible',?) "
                "ON CONFLICT (source_platform, source_chat_id, source_message_id) DO NOTHING",
                (
                    new.article_id,
                    new.parent_id if root_id is not None else None,
                    root_id,
                    new.author.name,
                    str(new.author.platform),
                    new.author.user_id,
                    new.text,
                    *source,
                    _ts(new.created_at),
                ),
            )
            created = cursor.rowcount > 0
            if created and mirror_to:
                stamp = _ts(mirror_due or new.created_at)
                await db.executemany(
                    "INSERT OR IGNORE INTO deliveries (article_id, comment_id, destination_id, "
                    "platform, op, state, due_at, created_at, updated_at) SELECT ?, ?, id, "
                    "platform, 'post', 'pending', ?, ?, ? FROM destinations "
                    "WHERE id = ? AND active = 1",
                    (
                        (new.article_id, cursor.lastrowid, stamp, stamp, stamp, d)
                        for d in mirror_to
                    ),
                )
            row = await self._one(
                db,
                f"SELECT {_COMMENT} FROM comments WHERE source_platform = ? "
                "AND source_chat_id = ? AND source_message_id = ?",
                source,
            )
        return _comment(row), created

    async def _get_comment(self, db: aiosqlite.Connection, comment_id: int) -> Comment | None:
        row = await self._one(db, f"SELECT {_COMMENT} FROM comments WHERE id = ?", (comment_id,))
        return None if row is None else _comment(row)

    async def get_comment(self, comment_id: CommentId) -> Comment | None:
        async with self._read() as db:
            return await self._get_comment(db, comment_id)

    async def get_comment_by_source(self, source: MessageRef) -> Comment | None:
        async with self._read() as db:
            row = await self._one(
                db,
                f"SELECT {_COMMENT} FROM comments WHERE source_platform = ? "
                "AND source_chat_id = ? AND source_message_id = ?",
                (str(source.platform), source.chat_id, source.message_id),
            )
        return None if row is None else _comment(row)

    async def edit_comment(self, comment_id: CommentId, text: str, now: datetime) -> Comment:
        stamp = _ts(now)
        async with self._write() as db:
            await db.execute(
                "UPDATE comments SET text = ?, edited_at = ? WHERE id = ?",
                (text, stamp, comment_id),
            )
            await self._reenqueue(db, "comment_id = ?", comment_id, DeliveryOp.EDIT, stamp)
            comment = await self._get_comment(db, comment_id)
        if comment is None:
            raise StorageError(f"comment {comment_id} vanished")
        return comment

    async def set_comment_status(
        self, comment_id: CommentId, status: CommentStatus, now: datetime
    ) -> Comment:
        stamp = _ts(now)
        async with self._write() as db:
            await db.execute(
                "UPDATE comments SET status = ?, deleted_at = ? WHERE id = ?",
                (str(status), None if status is CommentStatus.VISIBLE else stamp, comment_id),
            )
            if status is not CommentStatus.VISIBLE:
                await self._reenqueue(db, "comment_id = ?", comment_id, DeliveryOp.DELETE, stamp)
            comment = await self._get_comment(db, comment_id)
        if comment is None:
            raise StorageError(f"comment {comment_id} vanished")
        return comment

    async def thread_roots(
        self,
        article_id: ArticleId,
        limit: int,
        after: ThreadCursor | None,
        *,
        newest_first: bool,
    ) -> list[Comment]:
        sql = f"SELECT {_COMMENT} FROM comments WHERE article_id = ? AND parent_id IS NULL"
        params: list[Any] = [article_id]
        if after is not None:
            sql += " AND (created_at, id) " + ("<" if newest_first else ">") + " (?, ?)"
            params += [_ts(after.created_at), after.comment_id]
        order = "DESC" if newest_first else "ASC"
        sql += f" ORDER BY created_at {order}, id {order} LIMIT ?"
        async with self._read() as db:
            rows = await self._all(db, sql, [*params, limit])
        return [_comment(r) for r in rows]

    async def thread_replies(
        self, article_id: ArticleId, root_ids: Sequence[CommentId]
    ) -> list[Comment]:
        found: list[Comment] = []
        async with self._read() as db:
            for chunk in _chunks(list(root_ids)):
                rows = await self._all(
                    db,
                    f"SELECT {_COMMENT} FROM comments WHERE root_id IN ({_marks(len(chunk))}) "
                    "ORDER BY created_at, id",
                    chunk,
                )
                found += [_comment(r) for r in rows if r[1] == article_id]
        found.sort(key=lambda c: (c.created_at, c.id))
        return found

    async def comments_by_author(self, platform: Platform, user_id: str) -> list[Comment]:
        async with self._read() as db:
            rows = await self._all(
                db,
                f"SELECT {_COMMENT} FROM comments WHERE author_platform = ? "
                "AND author_user_id = ? AND status = 'visible' ORDER BY id",
                (str(platform), user_id),
            )
        return [_comment(r) for r in rows]

    # -- bans and small state -------------------------------------------------------------

    async def set_ban(self, platform: Platform, user_id: str, banned: bool, now: datetime) -> bool:
        async with self._write() as db:
            if banned:
                cursor = await db.execute(
                    "INSERT OR IGNORE INTO bans (platform, user_id, created_at) VALUES (?,?,?)",
                    (str(platform), user_id, _ts(now)),
                )
            else:
                cursor = await db.execute(
                    "DELETE FROM bans WHERE platform = ? AND user_id = ?", (str(platform), user_id)
                )
            return cursor.rowcount > 0

    async def is_banned(self, platform: Platform, user_id: str) -> bool:
        async with self._read() as db:
            row = await self._one(
                db,
                "SELECT 1 FROM bans WHERE platform = ? AND user_id = ?",
                (str(platform), user_id),
            )
        return row is not None

    async def get_state(self, key: str) -> str | None:
        async with self._read() as db:
            row = await self._one(db, "SELECT value FROM state WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def set_state(self, key: str, value: str) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
