"""The outbox of a memory store: claims as leases, completions, retries, and the jobs
(where each mirrored comment lands is ``newsbot.mirroring``'s to say)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from newsbot import mirroring
from newsbot.models import (
    ArticleId,
    CommentId,
    Delivery,
    DeliveryState,
    DeliveryStatus,
    DestinationId,
    Job,
    MessageLink,
    MessageRef,
    Platform,
    Posted,
)
from storage.memory.reactions import counts_in
from storage.memory.tables import _DEAD, _FAILED, _PENDING, _SENDING, _SENT, MemoryBase, _utc


class Outbox(MemoryBase):
    """The delivery outbox."""

    async def claim_deliveries(
        self,
        platform: Platform,
        now: datetime,
        limit: int,
        *,
        worker: str = "",
        lease: float = 30.0,
    ) -> list[Job]:
        due = sorted(  # the breaking-news lane first, then the rest
            (-d.lane, d.next_attempt_at, d.id)
            for d in self._db.deliveries.values()
            if d.platform is platform
            and d.next_attempt_at is not None
            and d.next_attempt_at <= now
        )[:limit]
        now = _utc(now)
        claimed = [
            self._put(
                self.database.deliveries[delivery_id],
                state=_SENDING,
                attempts=self.database.deliveries[delivery_id].attempts + 1,
                next_attempt_at=now + timedelta(seconds=lease),
                claimed_by=worker,
                updated_at=now,
            )
            for _, _, delivery_id in due
        ]
        return self._jobs(claimed)

    def _jobs(self, deliveries: list[Delivery]) -> list[Job]:
        db = self.database
        jobs = []
        for delivery in deliveries:
            article_id, destination_id = delivery.article_id, delivery.destination_id
            post = self._own_post(article_id, destination_id)
            comment = parent = None
            parent_copy = None
            if delivery.comment_id is not None:
                comment = db.comments.get(delivery.comment_id)
                if comment is not None and comment.parent_id is not None:
                    parent = db.comments.get(comment.parent_id)
                    copy = next(
                        (
                            d
                            for d in db.deliveries.values()
                            if d.comment_id == comment.parent_id
                            and d.destination_id == destination_id
                        ),
                        None,
                    )
                    parent_copy = None if copy is None else copy.message_id
            jobs.append(
                mirroring.job(
                    delivery,
                    db.destinations[destination_id],
                    db.articles[article_id],
                    comment,
                    parent,
                    post_message=None if post is None else post.message_id,
                    post_thread=None if post is None else post.thread_id,
                    post_links=self._post_links(article_id),
                    parent_copy=parent_copy,
                    comment_count=self._count(article_id),
                    reaction_count=(
                        counts_in(db, article_id).everything().total
                        if delivery.comment_id is None
                        else 0
                    ),
                )
            )
        return jobs

    def _own_post(self, article_id: ArticleId, destination_id: DestinationId) -> Delivery | None:
        key = (article_id, destination_id, None)
        found = (
            d
            for d in self.database.deliveries.values()
            if (d.article_id, d.destination_id, d.comment_id) == key
        )
        return next(found, None)

    async def renew_claims(self, worker: str, now: datetime, lease: float) -> int:
        mine = [
            d
            for d in self._db.deliveries.values()
            if d.claimed_by == worker and d.state is _SENDING
        ]
        for d in mine:
            self._put(d, next_attempt_at=_utc(now) + timedelta(seconds=lease))
        return len(mine)

    async def next_due(self, platform: Platform) -> datetime | None:
        return min(
            (
                d.next_attempt_at
                for d in self._db.deliveries.values()
                if d.platform is platform and d.next_attempt_at is not None
            ),
            default=None,
        )

    async def complete_delivery(
        self, delivery: Delivery, posted: Posted | None, now: datetime
    ) -> None:
        db = self._db
        now = _utc(now)
        current = db.deliveries[delivery.id]
        same = current.generation == delivery.generation
        self._put(
            current,
            message_id=(posted.message_id if posted else None) or current.message_id,
            thread_id=(posted.thread_id if posted else None) or current.thread_id,
            last_error=None,
            updated_at=now,
            claimed_by=None,
            state=_SENT if same else _PENDING,
            next_attempt_at=None if same else self._held(current, now),
        )
        if posted is not None:
            db.sent_at.setdefault(delivery.id, now)
            chat = db.destinations[delivery.destination_id].chat_id
            for ref in posted.links or (MessageRef(delivery.platform, chat, posted.message_id),):
                db.links.setdefault(
                    ref,
                    MessageLink(
                        ref, delivery.article_id, delivery.comment_id, delivery.destination_id
                    ),
                )
        self._changed()

    def _claimed(self, delivery: Delivery) -> Delivery | None:
        current = self._db.deliveries.get(delivery.id)
        if current is None or current.state is not _SENDING:
            return None
        return current if current.claimed_by == (delivery.claimed_by or "") else None

    async def retry_delivery(
        self,
        delivery: Delivery,
        error: str,
        due_at: datetime,
        now: datetime,
        *,
        count_attempt: bool = True,
    ) -> None:
        current = self._claimed(delivery)
        if current is not None:
            self._put(
                current,
                state=_FAILED if count_attempt else _PENDING,
                next_attempt_at=self._held(current, _utc(due_at)),
                last_error=error,
                updated_at=_utc(now),
                attempts=current.attempts - (0 if count_attempt else 1),
                claimed_by=None,
            )
            self._changed()

    async def fail_delivery(self, delivery: Delivery, error: str, now: datetime) -> None:
        current = self._claimed(delivery)
        if current is not None:
            self._put(
                current,
                state=_DEAD,
                next_attempt_at=None,
                last_error=error,
                updated_at=_utc(now),
                claimed_by=None,
            )

    async def release_claims(self, worker: str, platform: Platform | None = None) -> int:
        mine = [
            d
            for d in self._db.deliveries.values()
            if d.state is _SENDING
            and d.claimed_by == worker
            and (platform is None or d.platform is platform)
        ]
        for d in mine:
            self._put(
                d,
                state=_PENDING,
                next_attempt_at=self._held(d, d.updated_at),
                claimed_by=None,
                attempts=max(d.attempts - 1, 0),
            )
        if mine:
            self._changed()
        return len(mine)

    async def delivery_counts(self) -> dict[tuple[Platform, DeliveryState], int]:
        return dict(Counter((d.platform, d.state) for d in self._db.deliveries.values()))

    def _statuses(self, wanted: Callable[[Delivery], bool]) -> list[DeliveryStatus]:
        db = self._db
        return [
            DeliveryStatus(d, db.destinations[d.destination_id])
            for _, d in sorted(db.deliveries.items())
            if wanted(d)
        ]

    async def deliveries_for_article(self, article_id: ArticleId) -> list[DeliveryStatus]:
        return self._statuses(lambda d: d.article_id == article_id and d.comment_id is None)

    async def deliveries_for_comment(self, comment_id: CommentId) -> list[DeliveryStatus]:
        return self._statuses(lambda d: d.comment_id == comment_id)
