"""``DeskStore`` in memory: the moderation queue, reports, approvals and the audit log."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from newsbot import mirroring
from newsbot.errors import StorageError
from newsbot.mirroring import ArticlePost
from newsbot.models import (
    ArticleId,
    ArticleStatus,
    Comment,
    CommentId,
    CommentStatus,
    CountRefresh,
    DeliveryOp,
    DeliveryState,
    DestinationId,
)
from newsbot.policy import CommentPolicy
from newsbot.review import (
    AuditEntry,
    Decision,
    QueuePosition,
    Reason,
    ReviewItem,
    View,
    merge_items,
    merge_reasons,
)
from storage.memory.tables import _DEAD, _PENDING, _SENT, MemoryBase, _utc


@dataclass
class DeskTables:
    """The desk's rows: queue items (without their comment), reports, the audit log."""

    items: dict[CommentId, ReviewItem] = field(default_factory=dict)
    reports: dict[CommentId, dict[str, tuple[str, datetime]]] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    policies: dict[ArticleId, CommentPolicy] = field(default_factory=dict)


def _held(item: ReviewItem, status: CommentStatus, reports: int) -> bool:
    return item.decision is Decision.OPEN and status is CommentStatus.HIDDEN


def _reported(item: ReviewItem, status: CommentStatus, reports: int) -> bool:
    return item.decision is Decision.OPEN and reports > 0 and status is not CommentStatus.DELETED


def _recent(item: ReviewItem, status: CommentStatus, reports: int) -> bool:
    return item.decided_at is not None


_IN_VIEW = {View.HELD: _held, View.REPORTED: _reported, View.RECENT: _recent}


def _key(view: View, at: datetime, comment_id: int, reports: int) -> tuple[object, ...]:
    """A position in ``view``, ordered as the tab is (recent decisions in reverse)."""
    if view is View.REPORTED:
        return (-reports, at, comment_id)
    return (at, comment_id)


class Desk(MemoryBase):
    """The desk's methods on a memory database."""

    @property
    def _desk(self) -> DeskTables:
        db = self._db
        tables = getattr(db, "desk", None)
        if tables is None:
            tables = DeskTables()
            db.desk = tables  # type: ignore[attr-defined]
        return tables

    def _hold(self, comment_id: CommentId, reasons: Sequence[str], now: datetime) -> None:
        desk = self._desk
        old = desk.items.get(comment_id)
        comment = self.database.comments[comment_id]
        if old is None:
            desk.items[comment_id] = ReviewItem(comment, tuple(reasons), 0, (), _utc(now))
        else:
            desk.items[comment_id] = replace(
                old,
                reasons=merge_reasons(old.reasons, reasons),
                decision=Decision.OPEN,
                decided_by=None,
                decided_at=None,
            )

    async def hold_comment(
        self, comment_id: CommentId, reasons: Sequence[str], now: datetime
    ) -> None:
        self._hold(comment_id, reasons, now)

    async def hold_comments(
        self, items: Sequence[tuple[CommentId, Sequence[str]]], now: datetime
    ) -> None:
        merged = merge_items(items)
        missing = [c for c in merged if c not in self.database.comments]
        if missing:  # as a SQL store's foreign key: nothing of the batch is entered
            raise StorageError(f"no comment {missing[0]}")
        for comment_id, reasons in merged.items():
            self._hold(comment_id, reasons, now)

    async def report_comment(
        self, comment_id: CommentId, reporter: str, reason: str, now: datetime
    ) -> int:
        said = self._desk.reports.setdefault(comment_id, {})
        if reporter not in said:
            said[reporter] = (reason, _utc(now))
            self._hold(comment_id, [Reason.REPORTED], now)
        return len(said)

    def _full(self, item: ReviewItem) -> ReviewItem:
        said = sorted(
            self._desk.reports.get(item.comment.id, {}).items(), key=lambda r: (r[1][1], r[0])
        )
        return replace(
            item,
            comment=self.database.comments[item.comment.id],
            reports=len(said),
            report_reasons=tuple(reason for _, (reason, _) in said),
        )

    async def review_item(self, comment_id: CommentId) -> ReviewItem | None:
        item = self._desk.items.get(comment_id)
        return None if item is None else self._full(item)

    async def review_queue(
        self, view: View, limit: int, after: QueuePosition | None = None
    ) -> list[ReviewItem]:
        comments = self.database.comments
        reports = self._desk.reports
        found: list[tuple[tuple[Any, ...], ReviewItem]] = []
        for item in self._desk.items.values():
            status = comments[item.comment.id].status
            count = len(reports.get(item.comment.id, ()))
            if _IN_VIEW[view](item, status, count):
                at = item.decided_at if view is View.RECENT else item.entered_at
                found.append((_key(view, at or item.entered_at, item.comment.id, count), item))
        newest = view is View.RECENT
        if after is not None:
            mark = _key(view, after.at, after.comment_id, after.reports)
            found = [f for f in found if (f[0] < mark if newest else f[0] > mark)]
        pick = heapq.nlargest if newest else heapq.nsmallest
        # Only the page is completed with its comment and reports.
        return [self._full(item) for _, item in pick(limit, found, key=lambda f: f[0])]

    async def decide_review(
        self, comment_id: CommentId, decision: Decision, actor: str, now: datetime
    ) -> bool:
        desk = self._desk
        is_open = decision is Decision.OPEN
        by, at = (None, None) if is_open else (actor, _utc(now))
        old = desk.items.get(comment_id)
        if old is not None and old.decision is decision:
            return False
        if old is None:
            old = ReviewItem(self.database.comments[comment_id], (), 0, (), _utc(now))
        desk.items[comment_id] = replace(old, decision=decision, decided_by=by, decided_at=at)
        return True

    async def release_comment(
        self,
        comment_id: CommentId,
        now: datetime,
        due: datetime,
        *,
        mirror: bool = True,
        count_refresh: CountRefresh | None = None,
    ) -> Comment | None:
        db = self._db
        comment = db.comments.get(comment_id)
        if comment is None or comment.status is not CommentStatus.HIDDEN:
            return None
        article = db.articles.get(comment.article_id)
        if article is None or article.status is not ArticleStatus.PUBLISHED:
            return None
        comment = db.comments[comment_id] = replace(
            comment, status=CommentStatus.VISIBLE, deleted_at=None
        )
        posts = self._held_posts(comment)
        if mirror:
            for destination_id in mirroring.mirror_targets(
                posts, self._post_links(comment.article_id), comment.source, None
            ):
                self._mirror(comment, destination_id, _utc(now), _utc(due))
        if count_refresh is not None:
            self._resend_count_edits(comment.article_id)
            self._refresh_posts(posts, count_refresh, now)
        self._changed()
        return comment

    def _refresh_posts(self, posts: list[ArticlePost], pace: CountRefresh, now: datetime) -> int:
        db = self._db
        queued = 0
        for delivery_id, at in mirroring.count_refreshes(posts, pace, _utc(now)):
            current = db.deliveries[delivery_id]
            if current.state is _SENT and current.op is not DeliveryOp.DELETE:
                self._put(
                    current,
                    op=DeliveryOp.EDIT,
                    state=_PENDING,
                    next_attempt_at=_utc(at),
                    attempts=0,
                    generation=current.generation + 1,
                    updated_at=_utc(now),
                )
                queued += 1
        return queued

    async def refresh_posts(self, article_id: ArticleId, pace: CountRefresh, now: datetime) -> int:
        db = self._db
        for d in list(db.deliveries.values()):  # being sent: again once done (storage.desk)
            if (
                d.article_id == article_id
                and d.comment_id is None
                and d.state is DeliveryState.SENDING
                and d.op is not DeliveryOp.DELETE
            ):
                self._put(d, generation=d.generation + 1)
        queued = self._refresh_posts(self._article_posts(article_id), pace, now)
        self._changed()
        return queued

    def _held_posts(self, comment: Comment) -> list[ArticlePost]:
        return self._article_posts(comment.article_id)

    def _article_posts(self, article_id: ArticleId) -> list[ArticlePost]:
        db = self.database
        own = sorted(
            (
                d
                for d in db.deliveries.values()
                if d.article_id == article_id and d.comment_id is None and d.message_id
            ),
            key=lambda d: d.id,
        )
        return [
            ArticlePost(
                d.id,
                d.destination_id,
                db.destinations[d.destination_id].platform,
                db.destinations[d.destination_id].chat_id,
                d.thread_id,
                db.destinations[d.destination_id].active,
                d.state is _SENT and d.op is not DeliveryOp.DELETE,
                d.updated_at,
            )
            for d in own
        ]

    def _mirror(
        self, comment: Comment, destination_id: DestinationId, now: datetime, due: datetime
    ) -> None:
        """As the SQL stores' upsert: enqueue a post once; a copy deleted when the comment was
        hidden (or cancelled before it went out) is posted anew."""
        db = self.database
        for d in db.deliveries.values():
            if d.comment_id == comment.id and d.destination_id == destination_id:
                if d.state in (_SENT, _DEAD) and (
                    d.op is DeliveryOp.DELETE or d.message_id is None
                ):
                    db.not_before.pop(d.id, None)
                    self._put(
                        d,
                        op=DeliveryOp.POST,
                        state=_PENDING,
                        message_id=None,
                        thread_id=None,
                        next_attempt_at=due,
                        attempts=0,
                        generation=d.generation + 1,
                        last_error=None,
                        updated_at=now,
                        claimed_by=None,
                    )
                return
        self._enqueue(comment.article_id, comment.id, destination_id, due)

    async def add_audit(
        self, actor: str, action: str, comment_id: CommentId, detail: str, now: datetime
    ) -> None:
        log = self._desk.audit
        log.append(AuditEntry(len(log) + 1, _utc(now), actor, action, comment_id, detail))

    async def audit_log(self, limit: int) -> list[AuditEntry]:
        return list(reversed(self._desk.audit[-limit:])) if limit > 0 else []

    async def set_policy(
        self, article_id: ArticleId, policy: CommentPolicy | None, now: datetime
    ) -> None:
        if policy is None:
            self._desk.policies.pop(article_id, None)
        else:
            self._desk.policies[article_id] = policy
        self._changed()

    async def get_policy(self, article_id: ArticleId) -> CommentPolicy | None:
        return self._desk.policies.get(article_id)
