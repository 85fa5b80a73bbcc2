"""The Store contract's shared helpers: backends, locations and rows to test with.

Add a backend by adding a factory to ``BACKENDS``; the tests only use the ``Store`` protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsbot import (
    ArticleDraft,
    ArticleId,
    Author,
    DestinationId,
    DestinationKind,
    MessageRef,
    NewDestination,
    Platform,
    Posted,
    Store,
)
from newsbot.models import (
    IncomingComment,
    NewComment,
)
from storage import SqliteStore
from storage.memory import MemoryDatabase, MemoryStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AUTHOR = Author("Ada", Platform.CLI, "operator")


async def _sqlite(database: str) -> Store:
    store = SqliteStore(database)
    await store.open()
    return store


async def _postgres(database: str) -> Store:
    from storage.postgres import PostgresStore

    store = PostgresStore(database)
    await store.open()
    return store


_MEMORY: dict[str, MemoryDatabase] = {}


async def _memory(database: str) -> Store:
    store = MemoryStore(_MEMORY.setdefault(database, MemoryDatabase()))
    await store.open()
    return store


# Each backend opens a store on a database location: a file path, or a server's URL (for
# memory, a name: stores opened on one name share its rows, as workers share a database).
BACKENDS: dict[str, Callable[[str], Awaitable[Store]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgres": _postgres,
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def dest(store: Store, chat: str, platform: Platform = Platform.TELEGRAM) -> DestinationId:
    d, _ = await store.add_destination(
        NewDestination(platform, chat, DestinationKind.CHANNEL, title=chat), T0
    )
    return d.id


async def article(store: Store, *destinations: DestinationId, when: float = 0) -> ArticleId:
    a, _ = await store.add_article(
        ArticleDraft("Title", "Body"), AUTHOR, at(when), list(destinations)
    )
    return a.id


def comment(
    article_id: ArticleId, msg: str, parent: int | None = None, when: float = 1
) -> NewComment:
    return NewComment(
        article_id=article_id,
        parent_id=parent,  # type: ignore[arg-type]
        author=Author("Rita", Platform.TELEGRAM, "7"),
        text=f"comment {msg}",
        source=MessageRef(Platform.TELEGRAM, "-100", msg),
        created_at=at(when),
    )


def incoming(msg: str, reply_to: MessageRef | None = None, **kw: object) -> IncomingComment:
    return IncomingComment(
        source=MessageRef(Platform.TELEGRAM, "-100", msg),
        author=Author("Rita", Platform.TELEGRAM, str(kw.pop("user", "7"))),
        text=f"text {msg}",
        created_at=at(5),
        reply_to=reply_to,
        **kw,  # type: ignore[arg-type]
    )


async def posted_article(store: Store, *chats: str) -> tuple[ArticleId, dict[str, MessageRef]]:
    ids = [await dest(store, c) for c in chats]
    article_id = await article(store, *ids)
    refs = {}
    for job in await store.claim_deliveries(Platform.TELEGRAM, at(1), 100):
        ref = MessageRef(Platform.TELEGRAM, job.destination.chat_id, f"p{job.destination.id}")
        await store.complete_delivery(job.delivery, Posted(ref.message_id, links=(ref,)), at(2))
        refs[job.destination.chat_id] = ref
    return article_id, refs


def _location(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if name == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "contract.db")
