from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from storage import SqliteStore
from tests.fakes.publisher import RecordingPublisher


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
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(db_path) as s:
        yield s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(store: SqliteStore) -> NewsService:
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
    store: SqliteStore, service: NewsService, publisher: RecordingPublisher
) -> AsyncIterator[Dispatcher]:
    d = Dispatcher(
        store,
        {Platform.TELEGRAM: publisher},
        poll_interval=0.05,
        backoff_base=0.01,
        backoff_cap=0.05,
        article_url=service.article_url,
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
