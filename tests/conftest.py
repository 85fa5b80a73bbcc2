from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from newsbot import (
    Actor,
    ArticleDraft,
    DestinationKind,
    Dispatcher,
    NewDestination,
    NewsService,
    Platform,
)
from newsbot.ports import Store
from storage import SqliteStore, open_store
from storage.memory import MemoryStore
from tests.fakes.publisher import RecordingPublisher
from tests.pg import SERVER

if TYPE_CHECKING:
    from storage.postgres import PostgresStore


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a module's store-backed tests on every backend it names in ``STORE_BACKENDS``."""
    names = getattr(metafunc.module, "STORE_BACKENDS", None)
    if names and "backend_name" in metafunc.fixturenames:
        metafunc.parametrize("backend_name", names)


def pytest_sessionfinish(session: pytest.Session) -> None:
    SERVER.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SERVER.skipped:
        terminalreporter.write_line(
            f"PostgreSQL: {SERVER.skipped} test(s) skipped: {SERVER.reason}", yellow=True
        )


def _pg_server() -> str:
    """The session's PostgreSQL database (created on first use, dropped at the end)."""
    if SERVER.url is None and SERVER.reason is None:
        SERVER.start()
    if SERVER.url is None:
        if SERVER.required:
            pytest.fail(f"PostgreSQL is required here but unavailable: {SERVER.reason}")
        SERVER.skipped += 1
        pytest.skip(f"PostgreSQL unavailable: {SERVER.reason}")
    return SERVER.url


@pytest.fixture
def pg_url() -> str:
    """An empty newsbot database on PostgreSQL for this test."""
    _pg_server()
    return SERVER.empty()


@pytest.fixture
def pg_schema_url() -> str:
    """A PostgreSQL URL whose search path starts with a new empty schema (no tables)."""
    _pg_server()
    return SERVER.fresh_schema()


@pytest.fixture
def backend_name() -> str:
    """The store backend of a test; modules opt into more with ``STORE_BACKENDS``."""
    return "sqlite"


@pytest.fixture
def database(backend_name: str, db_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the test's store lives: an SQLite path or a PostgreSQL URL."""
    if backend_name == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(db_path)


class FakeClock:
    """A clock that moves only when told; starts at a fixed instant."""

    def __init__(self) -> None:
        self.current = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


ADMIN = Actor(Platform.TELEGRAM, "42", "Ada Admin")
READER = Actor(Platform.TELEGRAM, "7", "Rita Reader")


def draft(title: str = "Hello", body: str = "World **bold**", **kw: object) -> ArticleDraft:
    return ArticleDraft(title=title, body=body, **kw)  # type: ignore[arg-type]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "newsbot.db"


@pytest.fixture
async def store(database: str, backend_name: str) -> AsyncIterator[Store]:
    if backend_name == "memory":
        async with MemoryStore() as memory:
            yield memory
        return
    async with open_store(database) as s:
        yield s


def open_again(store: Store, database: str) -> MemoryStore | SqliteStore | PostgresStore:
    """Another handle on the test's database, as another process (the command line) has;
    not yet opened (``async with``)."""
    if isinstance(store, MemoryStore):
        return MemoryStore(store.database)
    return open_store(database)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(store: Store) -> NewsService:
    return NewsService(
        store,
        admins={Platform.TELEGRAM: {"42"}, Platform.DISCORD: {"99"}},
        public_url="https://news.example/",
    )


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher(Platform.TELEGRAM)


@pytest.fixture
async def dispatcher(
    store: Store, service: NewsService, publisher: RecordingPublisher
) -> AsyncIterator[Dispatcher]:
    d = Dispatcher(
        store,
        {Platform.TELEGRAM: publisher},
        poll_interval=0.05,
        backoff_base=0.01,
        backoff_cap=0.05,
        article_url=service.article_url,
        closing=service.desk.closing,
    )
    service.on_enqueue(d.wake)
    await d.start()
    yield d
    await d.stop()


async def subscribe(
    service: NewsService,
    chat_id: str,
    platform: Platform = Platform.TELEGRAM,
    kind: DestinationKind = DestinationKind.CHANNEL,
    tags: tuple[str, ...] = (),
) -> int:
    result = await service.subscribe(
        Actor.operator(),
        NewDestination(platform, chat_id, kind, title=f"chat {chat_id}", tags=tags),
    )
    return result.destination.id
