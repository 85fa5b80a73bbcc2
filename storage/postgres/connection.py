"""The PostgreSQL store's connections: a pool whose every method is one transaction (reads
are single statements, so each sees one snapshot), and a connection of its own on which
``watch`` LISTENs. A lost server surfaces as ``StorageError`` within the connect or command
timeout; the pool opens fresh connections once it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from newsbot.errors import SchemaTooNew, StorageError
from storage.base import SqlStoreBase
from storage.statements import Statement
from storage.units import CommonUnits, Tx

log = logging.getLogger("newsbot.storage")

T = TypeVar("T")
if TYPE_CHECKING:  # asyncpg's classes are generic only in its stubs
    Conn = PoolConnectionProxy[asyncpg.Record]
else:
    Conn = PoolConnectionProxy

CHANNEL = "newsbot"
# Advisory lock keys. The one-argument (bigint) and two-argument (int, int) forms never
# collide with each other; the numbers only need to be newsbot's own.
_MIGRATION_LOCK = 0x6E62_7301
_PING_INTERVAL = 5.0
_MIGRATION_TIMEOUT = 3600.0
_RETRIES = 3  # of a transaction that lost a deadlock or a serialisation conflict
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


def describe(dsn: str) -> str:
    """The server and database of a URL, without its password (for messages and logs)."""
    parts = urlsplit(dsn)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"postgresql://{user}{host}{port}{parts.path}"


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is UTC else value.astimezone(UTC)


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


async def _rollback(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """What a connection needs on its way back to the pool: the end of a transaction a
    failure left open. Nothing else changes session state here, and asyncpg's default reset
    (``RESET ALL``, ``UNLISTEN *``, ...) would cost every call one more round trip."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class _PostgresTx:
    """``storage.units.Tx`` on a pooled connection inside its transaction."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    async def rows(self, sql: str, *args: Any) -> list[Any]:
        return await self._conn.fetch(sql, *args)

    async def row(self, sql: str, *args: Any) -> Any | None:
        return await self._conn.fetchrow(sql, *args)

    async def run(self, sql: str, *args: Any) -> int:
        return _count(await self._conn.execute(sql, *args))

    async def many(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, list(args))

    async def lock(self, sql: str, *args: Any) -> None:
        await self._conn.execute(sql, *args)

    async def notify(self, topics: Iterable[str]) -> None:
        await _notify(self._conn, topics)


class PostgresConnections(SqlStoreBase, CommonUnits):
    """The pool and the LISTEN connection of a ``PostgresStore`` (see its arguments)."""

    _reader_lock = "SELECT pg_advisory_xact_lock($1, hashtext($2))"

    _WATCH_TASK = "postgres-listen"

    def __init__(
        self,
        dsn: str,
        *,
        synchronous: str,
        pool_size: int,
        connect_timeout: float,
        command_timeout: float,
    ) -> None:
        super().__init__(synchronous)
        self.dsn = dsn
        self.name = describe(dsn)
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self.listening = asyncio.Event()  # set while the LISTEN connection is up

    _PACKAGE = "storage.postgres"

    def _is_open(self) -> bool:
        return self._pool is not None

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

    async def _connect(self) -> None:
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

    async def _migrate(self) -> None:
        known = self.migrations()
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

    async def _disconnect(self) -> None:
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

    async def _atomic(self, body: Callable[[Tx], Awaitable[T]]) -> T:
        return await self._tx(lambda conn: body(_PostgresTx(conn)))

    async def _rows(self, sql: str, *args: Any) -> list[Any]:
        async def body(conn: Conn) -> list[Any]:
            return await conn.fetch(sql, *args)

        return await self._read(body)

    async def _row(self, sql: str, *args: Any) -> Any | None:
        async def body(conn: Conn) -> Any | None:
            return await conn.fetchrow(sql, *args)

        return await self._read(body)

    async def _change(self, *statements: Statement) -> list[int]:
        async def body(conn: Conn) -> list[int]:
            return [_count(await conn.execute(sql, *args)) for sql, args in statements]

        return await self._tx(body)

    # -- changes made by other processes --------------------------------------------------

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self._report(str(payload))

    async def _watch_changes(self) -> None:
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
