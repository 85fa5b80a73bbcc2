"""The SQLite store's connections and the helpers its units of work share.

Claims, ingestion and reads are each one unit of work run as a single function on aiosqlite's
connection thread: one thread hand-off per method instead of one per statement (each hand-off
costs 0.1 to 0.3 ms, more than the SQL). The rarely-called writes written once in
``storage.units`` take one hand-off per statement. The ingest process
(``storage.sqlite.ingest``) runs the same helpers on its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
import stat
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

import storage.rows as rows
from newsbot.errors import SchemaTooNew, StorageError
from newsbot.models import MessageLink
from storage.base import SqlStoreBase
from storage.statements import Statement
from storage.units import CommonUnits, Tx

log = logging.getLogger("newsbot.storage")

T = TypeVar("T")
Conn = sqlite3.Connection

_SQL_VARIABLES = 500
_READ_CACHE_KIB = 16 * 1024
_WATCH_INTERVAL = 0.05


def _ts(value: datetime) -> str:
    """``value`` in UTC as ISO 8601 text with microseconds, as every timestamp is stored."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat() without arguments costs half as much as with timespec= (keyword parsing)
    # and writes the same text, unless the microseconds are 0 (then it leaves them out).
    text = value.isoformat()
    return text if len(text) == 32 else value.isoformat(timespec="microseconds")


def _opt_ts(value: datetime | None) -> str | None:
    return None if value is None else _ts(value)


@lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """``sql`` with PostgreSQL's ``$1`` placeholders as SQLite's ``?1``."""
    return re.sub(r"\$(\d+)", r"?\1", sql)


def _params(args: Sequence[Any]) -> tuple[Any, ...]:
    """Arguments as SQLite stores them: timestamps as ISO 8601 text in UTC."""
    return tuple(_ts(a) if isinstance(a, datetime) else a for a in args)


def _chunks(items: Sequence[Any], size: int = _SQL_VARIABLES) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _select_in(conn: Conn, sql: str, ids: Sequence[Any]) -> list[Any]:
    """Run ``sql`` (with one ``{}`` for the placeholders) over ``ids`` in chunks."""
    found: list[Any] = []
    for chunk in _chunks(ids):
        found += conn.execute(sql.format(_marks(len(chunk))), tuple(chunk)).fetchall()
    return found


def _write(conn: Conn, body: Callable[[Conn], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = body(conn)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return result


def _begin(conn: Conn) -> None:
    if conn.in_transaction:  # left open by a unit of work cancelled before its ROLLBACK ran
        conn.execute("ROLLBACK")
    conn.execute("BEGIN IMMEDIATE")


def _rollback(conn: Conn) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class _SqliteTx:
    """``storage.units.Tx`` on the writing connection: one thread hand-off per statement,
    acceptable for the rarely-called methods written once in ``storage.units`` (claims,
    ingestion and reads run as one function on the connection thread instead)."""

    def __init__(self, store: SqliteConnections) -> None:
        self._store = store

    async def rows(self, sql: str, *args: Any) -> list[Any]:
        query, params = _numbered(sql), _params(args)
        return await self._store._run(lambda conn: conn.execute(query, params).fetchall())

    async def row(self, sql: str, *args: Any) -> Any | None:
        found = await self.rows(sql, *args)
        return found[0] if found else None

    async def run(self, sql: str, *args: Any) -> int:
        query, params = _numbered(sql), _params(args)
        return await self._store._run(lambda conn: conn.execute(query, params).rowcount)

    async def many(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        query, params = _numbered(sql), [_params(a) for a in args]
        await self._store._run(lambda conn: conn.executemany(query, params))

    async def lock(self, sql: str, *args: Any) -> None:
        """Nothing: ``BEGIN IMMEDIATE`` holds the database's write lock already."""

    async def notify(self, topics: Iterable[str]) -> None:
        """Nothing: other processes see commits through ``PRAGMA data_version``."""


def _post_links(conn: Conn, article_ids: Sequence[int]) -> list[MessageLink]:
    """The links of the articles' own posts in their destinations (copies in discussion
    groups among them), ordered by message key."""
    found = _select_in(
        conn,
        f"SELECT {rows.POST_LINK} FROM message_links "
        "WHERE comment_id IS NULL AND destination_id IS NOT NULL AND article_id IN ({})",
        article_ids,
    )
    found.sort()
    return [rows.post_link(r) for r in found]


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


class SqliteConnections(SqlStoreBase, CommonUnits):
    """The two aiosqlite connections of a ``SqliteStore``: one writes, one reads
    (``query_only``), so that a read never waits behind a write, nor behind a database another
    process holds locked. Writes run in ``BEGIN IMMEDIATE`` transactions so that readers and
    the command line in other processes never meet a half-done change."""

    _WATCH_TASK = "sqlite-watch"

    def __init__(self, path: str | Path, *, synchronous: str, busy_timeout_ms: int) -> None:
        super().__init__(synchronous)
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._reader: aiosqlite.Connection | None = None
        self._read_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        # For monitoring: failures raised as StorageError.
        self.errors = 0

    _PACKAGE = "storage.sqlite"

    def _is_open(self) -> bool:
        return self._db is not None

    async def _connect(self) -> None:
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
        known = self.migrations()
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

    async def _disconnect(self) -> None:
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

    async def _atomic(self, body: Callable[[Tx], Awaitable[T]]) -> T:
        async with self._write_lock:
            await self._run(_begin)
            try:
                result = await body(_SqliteTx(self))
                await self._run(lambda conn: conn.execute("COMMIT"))
            except BaseException:
                with contextlib.suppress(StorageError):
                    await asyncio.shield(self._run(_rollback))
                raise
            return result

    async def _rows(self, sql: str, *args: Any) -> list[Any]:
        query, params = _numbered(sql), _params(args)
        return await self._read(lambda conn: conn.execute(query, params).fetchall())

    async def _row(self, sql: str, *args: Any) -> Any | None:
        query, params = _numbered(sql), _params(args)
        return await self._read(lambda conn: conn.execute(query, params).fetchone())

    async def _change(self, *statements: Statement) -> list[int]:
        prepared = [(_numbered(sql), _params(args)) for sql, args in statements]
        return await self._tx(
            lambda conn: [conn.execute(sql, params).rowcount for sql, params in prepared]
        )

    async def _watch_changes(self) -> None:
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
                self._report("*")
            last = version
            await asyncio.sleep(_WATCH_INTERVAL)
