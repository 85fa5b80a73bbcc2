"""The moderation desk's storage port: the queue of comments waiting for a moderator, the
readers' reports, approving a held comment, the audit log, and each story's comment policy.

Every method follows the rules of ``newsbot.ports.store`` (one atomic unit of work, UTC
times, ``StorageError`` on failure). What enters the queue and why is decided by the core
(``newsbot.review``, ``newsbot.desk``); a backend only records it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from newsbot import slowmode
from newsbot.models import ArticleId, Comment, CommentId, CountRefresh
from newsbot.policy import CommentPolicy
from newsbot.review import AuditEntry, Decision, QueuePosition, ReviewItem, View


class DeskStore(Protocol):
    """The moderation queue, reports, approvals and the audit log."""

    async def hold_comment(
        self, comment_id: CommentId, reasons: Sequence[str], now: datetime
    ) -> None:
        """Put a comment in the queue for ``reasons``, or add them to its item.

        An item already decided is opened again (a new reason asks for a new look); its
        ``entered_at`` stays the first time it entered.
        """
        ...

    async def hold_comments(
        self, items: Sequence[tuple[CommentId, Sequence[str]]], now: datetime
    ) -> None:
        """``hold_comment`` for each ``(comment, reasons)`` of ``items``, in one unit of work
        (the held comments of a moment entering the queue together; a comment named twice
        gets both lists of reasons)."""
        ...

    async def report_comment(
        self, comment_id: CommentId, reporter: str, reason: str, now: datetime
    ) -> int:
        """Record one reader's report of a comment and open its queue item with the reason
        ``reported``. A reader reporting the same comment again changes nothing. Returns
        how many readers reported it."""
        ...

    async def review_item(self, comment_id: CommentId) -> ReviewItem | None:
        """The comment's queue item, whatever its decision, or ``None``."""
        ...

    async def review_queue(
        self, view: View, limit: int, after: QueuePosition | None = None
    ) -> list[ReviewItem]:
        """One tab of the queue, at most ``limit`` items (see ``View``): held items oldest
        first, reported ones most reported first, recent decisions newest first; with
        ``after``, those that come after that position in the tab's order (keyset paging:
        the cost of a page does not grow with the queue)."""
        ...

    async def decide_review(
        self, comment_id: CommentId, decision: Decision, actor: str, now: datetime
    ) -> bool:
        """Record a moderator's decision on a queue item (``Decision.OPEN`` opens it
        again). A comment not in the queue gets an item with no reason. Returns whether
        the decision changed."""
        ...

    async def release_comment(
        self,
        comment_id: CommentId,
        now: datetime,
        due: datetime,
        *,
        mirror: bool = True,
        count_refresh: CountRefresh | None = None,
    ) -> Comment | None:
        """Show a hidden comment and mirror it as if it had just been written: a post of
        it is enqueued, due at ``due``, to every destination ``newsbot.mirroring.
        mirror_targets`` names for its source (copies deleted when it was hidden are
        posted again); without ``mirror``, nothing is enqueued. Only the call that finds
        it hidden does this, so concurrent approvals in several workers mirror it once.
        Returns the comment, or ``None`` when it was not hidden (or its article is not
        published: it stays hidden). With ``count_refresh``, the article's sent posts are
        re-enqueued as edits showing the new count, paced as ``newsbot.mirroring.
        count_refreshes`` says."""
        ...

    async def add_audit(
        self, actor: str, action: str, comment_id: CommentId, detail: str, now: datetime
    ) -> None:
        """Append an entry to the audit log."""
        ...

    async def audit_log(self, limit: int) -> list[AuditEntry]:
        """The latest ``limit`` entries of the audit log, newest first."""
        ...

    async def set_policy(
        self, article_id: ArticleId, policy: CommentPolicy | None, now: datetime
    ) -> None:
        """Set a story's own comment policy (``None``: the default applies again). Arriving
        comments meet it from the next batch on (``Store.ingest_comment`` looks it up)."""
        ...

    async def get_policy(self, article_id: ArticleId) -> CommentPolicy | None:
        """A story's own comment policy, if one was set."""
        ...

    async def refresh_posts(self, article_id: ArticleId, pace: CountRefresh, now: datetime) -> int:
        """Re-enqueue the article's sent posts as edits (their count line shows whether the
        story is closed), paced as ``newsbot.mirroring.count_refreshes`` says, and have its
        posts and edits being sent now sent again once done (their job was built before).
        Returns the edits queued."""
        ...

    async def set_slow_mode(self, article_id: ArticleId, seconds: int, now: datetime) -> int:
        """Set a story's slow mode, in seconds (0: off), kept beside its policy whatever that
        is. Arriving comments meet it from the next batch on (``Store.ingest_comment`` looks
        it up with the policy, and ``newsbot.slowmode`` what it needs). The story's sent
        Discord posts are re-enqueued as edits (the edit sets their threads' slow mode), in
        the same unit of work; returns how many."""
        ...

    async def get_slow_mode(self, article_id: ArticleId) -> int:
        """A story's slow mode in seconds (0: off)."""
        ...

    async def slow_lookups(
        self, article_id: ArticleId, authors: Collection[tuple[str, str]]
    ) -> slowmode.Lookups:
        """What ``newsbot.slowmode`` needs to know of ``authors`` (``(platform, user_id)``)
        on the story: every account of the people behind them, and the latest visible
        comment on the story of each of their author ids (``slowmode.author_ids``)."""
        ...
