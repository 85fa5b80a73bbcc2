"""The rows of a memory store, and what its parts share: opening, change reports, and the
outbox rules every part applies (enqueue once, re-enqueue as an edit or a delete)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Self

from newsbot.errors import StorageError
from newsbot.models import (
    Article,
    ArticleId,
    Comment,
    CommentId,
    CommentStatus,
    Delivery,
    DeliveryId,
    DeliveryOp,
    DeliveryState,
    Destination,
    DestinationId,
    Feed,
    FeedId,
    FeedItem,
    MessageLink,
    MessageRef,
    Platform,
    RoleLease,
    WorkerInfo,
)
from newsbot.notifications import Key, Prefs
from newsbot.people import Person, PersonId
from newsbot.reactions import Target

log = logging.getLogger("newsbot.storage")

PENDING_REASON = "waiting for a newsbot admin's approval"
_SENT, _PENDING, _FAILED = DeliveryState.SENT, DeliveryState.PENDING, DeliveryState.FAILED
_SENDING, _DEAD = DeliveryState.SENDING, DeliveryState.DEAD
_NEVER = datetime.min.replace(tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is UTC else value.astimezone(UTC)


@dataclass
class StoredReactions:
    """One message's reactions (readers' and anonymous) and what they count for."""

    target: Target
    readers: dict[tuple[str, str], datetime] = field(default_factory=dict)
    anonymous: dict[str, int] = field(default_factory=dict)
    counted_at: datetime | None = None


@dataclass
class NoticeRow:
    """One notice outbox row (``storage.memory.notices``)."""

    platform: Platform
    account_id: str
    items: str
    count: int
    sending: bool
    attempts: int
    due_at: datetime
    error: str = ""
    worker: str | None = None  # the claim's holder while sending


@dataclass
class MemoryDatabase:
    """The rows of a memory store, shared by every handle opened on it."""

    articles: dict[ArticleId, Article] = field(default_factory=dict)
    requests: dict[str, ArticleId] = field(default_factory=dict)
    destinations: dict[DestinationId, Destination] = field(default_factory=dict)
    deliveries: dict[DeliveryId, Delivery] = field(default_factory=dict)
    comments: dict[CommentId, Comment] = field(default_factory=dict)
    roots: dict[CommentId, CommentId | None] = field(default_factory=dict)
    sources: dict[MessageRef, CommentId] = field(default_factory=dict)
    links: dict[MessageRef, MessageLink] = field(default_factory=dict)
    bans: set[tuple[str, str]] = field(default_factory=set)
    state: dict[str, str] = field(default_factory=dict)
    not_before: dict[DeliveryId, datetime] = field(default_factory=dict)  # edits held
    settings: dict[str, dict[DestinationId, str]] = field(default_factory=dict)  # routing
    slots: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    workers: dict[str, WorkerInfo] = field(default_factory=dict)
    roles: dict[str, RoleLease] = field(default_factory=dict)
    feeds: dict[FeedId, Feed] = field(default_factory=dict)
    feed_items: dict[tuple[FeedId, str], FeedItem] = field(default_factory=dict)
    people: dict[PersonId, Person] = field(default_factory=dict)  # storage.memory.people
    tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    reactions: dict[MessageRef, StoredReactions] = field(default_factory=dict)
    notify_accounts: dict[Key, Prefs] = field(default_factory=dict)  # storage.memory.notices
    notices: dict[int, NoticeRow] = field(default_factory=dict)
    sent_at: dict[DeliveryId, datetime] = field(default_factory=dict)  # first sent
    views: dict[tuple[ArticleId, str], int] = field(default_factory=dict)  # by source
    listeners: list[Callable[[str], None]] = field(default_factory=list)
    last_id: Counter[str] = field(default_factory=Counter)

    def new_id(self, table: str) -> int:
        """The next id of ``table`` (ids are never reused)."""
        self.last_id[table] += 1
        return self.last_id[table]


class MemoryBase:
    """What every part of a memory store stands on: its database, open or not."""

    def __init__(self, database: MemoryDatabase | None = None) -> None:
        self.database = database if database is not None else MemoryDatabase()
        self._open = False
        self._listeners: list[Callable[[str], None]] = []

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False
        for listener in self._listeners:
            with contextlib.suppress(ValueError):
                self.database.listeners.remove(listener)
        self._listeners.clear()

    @property
    def _db(self) -> MemoryDatabase:
        if not self._open:
            raise StorageError("the store is not open")
        return self.database

    def _changed(self) -> None:
        """Tell every handle's listeners, once the current unit of work is over."""
        loop = asyncio.get_running_loop()
        for listener in self.database.listeners:
            loop.call_soon(_report, listener)

    def watch(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)
        self.database.listeners.append(listener)

    def _count(self, article_id: ArticleId) -> int:
        return sum(
            1
            for c in self._db.comments.values()
            if c.article_id == article_id and c.status is CommentStatus.VISIBLE
        )

    def _post_links(self, article_id: ArticleId) -> list[MessageLink]:
        found = [
            link
            for link in self.database.links.values()
            if link.article_id == article_id
            and link.comment_id is None
            and link.destination_id is not None
        ]
        found.sort(
            key=lambda link: (str(link.ref.platform), link.ref.chat_id, link.ref.message_id)
        )
        return found

    def _held(self, delivery: Delivery, due: datetime) -> datetime:
        """When a delivery going back to pending is due: ``due``, or later for a comment
        edit held by the moderation hold or the intake pace (``Store.edit_comment``)."""
        held = self.database.not_before.get(delivery.id)
        if delivery.op is DeliveryOp.EDIT and held is not None and held > due:
            return held
        return due

    def _put(self, delivery: Delivery, **changes: object) -> Delivery:
        changed = replace(delivery, **changes)  # type: ignore[arg-type]
        self.database.deliveries[delivery.id] = changed
        return changed

    def _resend_count_edits(self, article_id: ArticleId) -> None:
        """A count edit of the article's posts being sent carries the counts read at its
        claim: its generation moves on, so it is sent again once done."""
        for d in list(self.database.deliveries.values()):
            if (
                d.article_id == article_id
                and d.comment_id is None
                and d.state is _SENDING
                and d.op is DeliveryOp.EDIT
            ):
                self._put(d, generation=d.generation + 1)

    def _enqueue(
        self,
        article_id: ArticleId,
        comment_id: CommentId | None,
        destination_id: DestinationId,
        due: datetime,
    ) -> bool:
        """Enqueue a post to an active destination, once per article or comment there."""
        db = self.database
        destination = db.destinations.get(destination_id)
        if destination is None or not destination.active:
            return False
        if any(
            d.destination_id == destination_id
            and d.comment_id == comment_id
            and (comment_id is not None or d.article_id == article_id)
            for d in db.deliveries.values()
        ):
            return False
        delivery_id = DeliveryId(db.new_id("deliveries"))
        db.deliveries[delivery_id] = Delivery(
            delivery_id,
            article_id,
            comment_id,
            destination_id,
            destination.platform,
            DeliveryOp.POST,
            _PENDING,
            0,
            due,
            None,
            None,
            None,
            0,
            due,
        )
        return True

    def _reenqueue(self, deliveries: Iterable[Delivery], op: DeliveryOp, now: datetime) -> int:
        """As ``_reenqueue`` of the SQL stores: sent (and, for a delete, waiting) messages get
        ``op`` due now; sends in flight get it with a new generation; for a delete, posts that
        never went out are cancelled."""
        count = 0
        settled = (_SENT, _PENDING, _FAILED) if op is DeliveryOp.DELETE else (_SENT,)
        for d in list(deliveries):
            if op is DeliveryOp.DELETE and d.message_id is None and d.state in (_PENDING, _FAILED):
                self._put(
                    d,
                    state=_DEAD,
                    next_attempt_at=None,
                    updated_at=now,
                    last_error="cancelled: removed before it was sent",
                )
            elif d.op is DeliveryOp.DELETE:
                continue
            elif d.message_id is not None and d.state in settled:
                count += 1
                self._put(
                    d,
                    op=op,
                    state=_PENDING,
                    next_attempt_at=now,
                    attempts=0,
                    generation=d.generation + 1,
                    last_error=None,
                    updated_at=now,
                )
            elif d.state is _SENDING:
                count += 1
                self._put(d, op=op, generation=d.generation + 1, updated_at=now)
        return count


def _report(listener: Callable[[str], None]) -> None:
    try:
        listener("*")
    except Exception:
        log.exception("a change listener failed")
