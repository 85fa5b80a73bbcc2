"""PostgreSQL for the tests: one fresh database per test session, emptied before each test.

The server is ``NEWSBOT_TEST_POSTGRES`` (a URL whose database is one we may connect to in
order to create ours, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``), else that same
default URL. With the variable set, a server that does not answer fails the PostgreSQL tests
(CI must run them); without it, they are skipped and the session ends with one line saying
why.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

ENV = "NEWSBOT_TEST_POSTGRES"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BOTH = ("sqlite", "postgres")
T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a loop of its own, whatever loop the caller is in."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def with_database(url: str, name: str, **query: str) -> str:
    """``url`` naming another database (and with ``query`` as its query string)."""
    parts = urlsplit(url)
    return urlunsplit(
        parts._replace(path=f"/{name}", query="&".join(f"{k}={v}" for k, v in query.items()))
    )


class Server:
    """The session's database on the test server, or why there is none."""

    def __init__(self) -> None:
        self.admin_url = os.environ.get(ENV) or DEFAULT_URL
        self.required = bool(os.environ.get(ENV))
        self.url: str | None = None
        self.name = f"newsbot_test_{secrets.token_hex(4)}"
        self.reason: str | None = None
        self.skipped = 0

    def start(self) -> None:
        try:
            import asyncpg
        except ImportError:
            self.reason = "asyncpg is not installed (pip install 'newsbot[postgres]')"
            return

        async def create() -> None:
            conn = await asyncpg.connect(self.admin_url, timeout=3)
            try:
                await conn.execute(f'CREATE DATABASE "{self.name}"')
            finally:
                await conn.close()

        try:
            run_sync(create())
        except Exception as exc:
            where = urlsplit(self.admin_url)
            self.reason = (
                f"no PostgreSQL server answered at {where.hostname}:{where.port or 5432} "
                f"({type(exc).__name__}: {exc}); set {ENV} to a server's URL to run them"
            )
            return
        self.url = with_database(self.admin_url, self.name)

    def stop(self) -> None:
        if self.url is None:
            return
        import asyncpg

        async def drop() -> None:
            conn = await asyncpg.connect(self.admin_url, timeout=5)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            finally:
                await conn.close()

        run_sync(drop())
        self.url = None

    def empty(self) -> str:
        """Empty every newsbot table (ids start again at 1); return the database's URL."""
        assert self.url is not None
        url = self.url
        import asyncpg

        async def truncate() -> None:
            conn = await asyncpg.connect(url, timeout=5)
            try:
                tables = [
                    r[0]
                    for r in await conn.fetch(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename != 'schema_migrations'"
                    )
                ]
                if not tables:
                    return
                names = ", ".join(f'"{t}"' for t in tables)
                await conn.execute("SET lock_timeout = '2s'")
                try:
                    await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                except asyncpg.LockNotAvailableError:
                    # A store a test left open (or a killed child's session) holds a lock.
                    await conn.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid != pg_backend_pid()"
                    )
                    await conn.execute("SET lock_timeout = '10s'")
                    await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            finally:
                await conn.close()

        run_sync(truncate())
        return url

    def fresh_schema(self) -> str:
        """The URL of the session's database with an empty schema of its own first on the
        search path, for tests of migrations."""
        assert self.url is not None
        url = self.url
        schema = f"s_{secrets.token_hex(4)}"
        import asyncpg

        async def create() -> None:
            conn = await asyncpg.connect(url, timeout=5)
            try:
                await conn.execute(f'CREATE SCHEMA "{schema}"')
            finally:
                await conn.close()

        run_sync(create())
        return with_database(url, self.name, search_path=schema)


SERVER = Server()


def through(url: str, port: int) -> str:
    """``url`` with its server replaced by 127.0.0.1:``port`` (a ``Proxy`` in front of it)."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


class Proxy:
    """A TCP relay in front of the PostgreSQL server that can fail the way networks and
    servers do: ``refuse()`` drops every connection and refuses new ones (a server down or
    restarting), ``hang()`` stops relaying bytes and leaves connections open (a network
    partition), ``restore()`` ends either."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.mode = "up"
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def refuse(self) -> None:
        self.mode = "refused"
        self._drop()

    def hang(self) -> None:
        self.mode = "hung"
        self._flowing.clear()

    def restore(self) -> None:
        self.mode = "up"
        self._flowing.set()

    def _drop(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "refused":
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._relay(reader, up_writer), self._relay(up_reader, writer), return_exceptions=True
        )
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.transport.abort()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            await self._flowing.wait()
            writer.write(data)
            await writer.drain()
        writer.transport.abort()
