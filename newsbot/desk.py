"""The moderation desk's use cases: the queue of comments waiting for a moderator, and what
a moderator does with them (approve, hide, delete everywhere, ban the author, undo), each
written to the audit log.

``NewsService.desk`` is the ``Desk`` adapters call. What enters the queue and why is decided
where comments arrive (``newsbot.comments``, by the rules of ``newsbot.review``) and when
readers report one (``Desk.report``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from newsbot import moderation, slowmode
from newsbot.closing import Closing
from newsbot.comments import Host, delete, policy_of
from newsbot.errors import InvalidInput, NotFound
from newsbot.i18n import N_
from newsbot.models import Actor, ArticleId, Comment, CommentId, CommentStatus
from newsbot.policy import CommentPolicy
from newsbot.review import (
    Action,
    AuditEntry,
    Decision,
    QueuePosition,
    ReviewItem,
    View,
    actor_key,
)
from newsbot.text import one_line, strip_control_chars

log = logging.getLogger("newsbot.service")

QUEUE_MAX = 200
"""The most items one tab of the queue shows."""
AUDIT_MAX = 1000
"""The most audit entries one call returns (and how far back ``undo`` looks)."""
REASON_MAX = 200
"""The longest report reason kept."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a moderator's action did.

    Attributes:
        action: what was done.
        comment: the comment afterwards.
        changed: whether anything changed (approving an approved comment does not).
        detail: what else the audit log kept (the banned author, the comments deleted).
    """

    action: Action
    comment: Comment
    changed: bool
    detail: str = ""


class Desk:
    """The moderation desk: every use case needs a newsbot admin, except ``report``."""

    def __init__(self, svc: Host) -> None:
        self._svc = svc
        self.closing = Closing(svc)  # what the posts show of a closed story

    async def queue(
        self, actor: Actor, view: View, limit: int = 50, after: QueuePosition | None = None
    ) -> list[ReviewItem]:
        """One tab of the queue (see ``View``), at most ``limit`` items (``QUEUE_MAX``),
        from the start or ``after`` a position (``review.position_of`` the last item of the
        page before).

        Raises:
            PermissionDenied: the actor is not an admin.
        """
        self._svc.require_admin(actor, N_("moderate comments"))
        return await self._svc.store.review_queue(view, max(1, min(limit, QUEUE_MAX)), after)

    async def item(self, actor: Actor, comment_id: CommentId) -> ReviewItem | None:
        """A comment's queue item, whatever its decision, or ``None``."""
        self._svc.require_admin(actor, N_("moderate comments"))
        return await self._svc.store.review_item(comment_id)

    async def history(self, actor: Actor, comment: Comment, limit: int = 20) -> list[Comment]:
        """The author's other visible comments, newest first (at most ``limit``)."""
        self._svc.require_admin(actor, N_("moderate comments"))
        found = await self._svc.store.comments_by_author(
            comment.author.platform, comment.author.user_id
        )
        return [c for c in reversed(found) if c.id != comment.id][:limit]

    async def audit(self, actor: Actor, limit: int = 100) -> list[AuditEntry]:
        """The latest entries of the audit log, newest first.

        Raises:
            PermissionDenied: the actor is not an admin.
        """
        self._svc.require_admin(actor, N_("read the audit log"))
        return await self._svc.store.audit_log(max(1, min(limit, AUDIT_MAX)))

    async def _comment(self, comment_id: CommentId) -> Comment:
        comment = await self._svc.store.get_comment(comment_id)
        if comment is None:
            raise NotFound(N_("There is no comment %(id)s."), id=comment_id)
        return comment

    async def _record(
        self, actor: Actor, action: Action, comment: Comment, changed: bool, detail: str = ""
    ) -> Outcome:
        svc = self._svc
        if changed:
            await svc.store.add_audit(
                actor_key(actor.platform, actor.user_id),
                action,
                comment.id,
                detail,
                svc.clock.now(),
            )
            log.info(
                "moderation",
                extra={
                    "action": str(action),
                    "comment_id": comment.id,
                    "by": actor_key(actor.platform, actor.user_id),
                },
            )
            svc._enqueued()
        return Outcome(action, comment, changed, detail)

    async def _decide(self, actor: Actor, comment_id: CommentId, decision: Decision) -> None:
        await self._svc.store.decide_review(
            comment_id, decision, actor_key(actor.platform, actor.user_id), self._svc.clock.now()
        )

    async def approve(self, actor: Actor, comment_id: CommentId) -> Outcome:
        """Show a held comment everywhere: it appears in its thread and is mirrored as if it
        had just been written (once, however many moderators or workers approve it).

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such comment.
            InvalidInput: the comment was deleted, or its article is not published.
        """
        self._svc.require_admin(actor, N_("approve comments"))
        return await self._show(actor, comment_id, Action.APPROVE, Decision.APPROVED)

    async def _show(
        self, actor: Actor, comment_id: CommentId, action: Action, decision: Decision
    ) -> Outcome:
        svc = self._svc
        comment = await self._comment(comment_id)
        if comment.status is CommentStatus.DELETED:
            raise InvalidInput(N_("Comment %(id)s was deleted."), id=comment_id)
        now = svc.clock.now()
        shown = await svc.store.release_comment(
            comment_id, now, now, mirror=svc.mirror, count_refresh=svc.count_refresh
        )
        if shown is None:
            comment = await self._comment(comment_id)
            if comment.status is not CommentStatus.VISIBLE:
                raise InvalidInput(N_("Its article is not published: the comment stays hidden."))
        await self._decide(actor, comment_id, decision)
        if shown is not None and shown.parent_id is not None:
            await svc.notifications.replied(shown)  # held until now: told now
        return await self._record(actor, action, shown or comment, shown is not None)

    async def hide(self, actor: Actor, comment_id: CommentId) -> Outcome:
        """Hide a comment everywhere (its copies are deleted) and close its queue item.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such comment.
            InvalidInput: the comment was deleted.
        """
        svc = self._svc
        svc.require_admin(actor, N_("hide comments"))
        comment = await self._comment(comment_id)
        if comment.status is CommentStatus.DELETED:
            raise InvalidInput(N_("Comment %(id)s was deleted."), id=comment_id)
        was = str(comment.status)
        if comment.status is CommentStatus.VISIBLE:
            comment = await svc.store.set_comment_status(
                comment_id, CommentStatus.HIDDEN, svc.clock.now()
            )
        await self._decide(actor, comment_id, Decision.HIDDEN)
        return await self._record(actor, Action.HIDE, comment, True, f"was {was}")

    async def delete(self, actor: Actor, comment_id: CommentId) -> Outcome:
        """Delete a comment everywhere it was mirrored and close its queue item.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such comment.
        """
        self._svc.require_admin(actor, N_("delete comments"))
        comment = await self._comment(comment_id)
        changed = comment.status is not CommentStatus.DELETED
        if changed:
            comment = await delete(self._svc, comment)
        await self._decide(actor, comment_id, Decision.DELETED)
        return await self._record(actor, Action.DELETE, comment, changed)

    async def ban(self, actor: Actor, comment_id: CommentId) -> Outcome:
        """Ban a comment's author (``NewsService.ban``: their comments are deleted
        everywhere and no new one is stored) and close the comment's queue item.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such comment.
        """
        self._svc.require_admin(actor, N_("ban authors"))
        comment = await self._comment(comment_id)
        author = comment.author
        deleted = await moderation.ban(self._svc, actor, author.platform, author.user_id)
        if comment.status is not CommentStatus.DELETED:
            comment = await delete(self._svc, comment)  # a hidden one is not among ``deleted``
        await self._decide(actor, comment_id, Decision.DELETED)
        detail = f"{actor_key(author.platform, author.user_id)} ({deleted} comments deleted)"
        return await self._record(actor, Action.BAN, comment, True, detail)

    async def undo(self, actor: Actor, comment_id: CommentId) -> Outcome:
        """Undo the latest approval or hiding of a comment: an approved comment is hidden
        again (its copies deleted), a hidden one shown again if it was visible before; either
        way it goes back to the queue.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such comment.
            InvalidInput: the comment was neither approved nor hidden lately, or deleted.
        """
        svc = self._svc
        svc.require_admin(actor, N_("undo moderation"))
        last = _last_decision(await svc.store.audit_log(AUDIT_MAX), comment_id)
        comment = await self._comment(comment_id)
        if last is None or comment.status is CommentStatus.DELETED:
            raise InvalidInput(
                N_("Comment %(id)s has no approval or hiding to undo."), id=comment_id
            )
        if last.action == Action.APPROVE:
            if comment.status is CommentStatus.VISIBLE:
                comment = await svc.store.set_comment_status(
                    comment_id, CommentStatus.HIDDEN, svc.clock.now()
                )
            await self._decide(actor, comment_id, Decision.OPEN)
            return await self._record(actor, Action.UNDO_APPROVE, comment, True)
        if last.detail == f"was {CommentStatus.VISIBLE}":
            now = svc.clock.now()
            shown = await svc.store.release_comment(
                comment_id, now, now, mirror=svc.mirror, count_refresh=svc.count_refresh
            )
            comment = shown or comment
        await self._decide(actor, comment_id, Decision.OPEN)
        return await self._record(actor, Action.UNDO_HIDE, comment, True)

    async def set_policy(
        self, actor: Actor, article_id: ArticleId, policy: CommentPolicy | None
    ) -> CommentPolicy:
        """Set a story's comment policy (``None``: back to the default setting); returns the
        policy its new comments now meet. Reopening restores: what a closed or pre-moderated
        story held stays in the queue for moderators. Closing or reopening edits the story's
        posts (``newsbot.closing``).

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such article.
        """
        svc = self._svc
        svc.require_admin(actor, N_("set comment policies"))
        article = await svc.article(article_id)
        was = await policy_of(svc, article.id)
        await svc.store.set_policy(article.id, policy, svc.clock.now())
        svc._enqueued()  # pages showing the form change
        now_meets = await policy_of(svc, article.id)
        await self.closing.changed(article.id, was, now_meets)  # the posts' line, the thread
        log.info(
            "comment policy set",
            extra={
                "article_id": article.id,
                "policy": str(policy or "default"),
                "effective": str(now_meets),
                "by": actor_key(actor.platform, actor.user_id),
            },
        )
        return now_meets

    async def set_slow_mode(self, actor: Actor, article_id: ArticleId, seconds: int) -> int:
        """Set a story's slow mode: one comment per reader per ``seconds`` on every surface
        (0: off; ``newsbot.slowmode``), beside its policy. Discord threads of the story get
        the same slow mode (its posts are re-sent as edits, which carry it). Returns the
        seconds now set.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such article.
            InvalidInput: not 0 to ``slowmode.SLOW_MAX`` seconds.
        """
        svc = self._svc
        svc.require_admin(actor, N_("set comment policies"))
        slowmode.check(seconds)
        article = await svc.article(article_id)
        now = svc.clock.now()
        await svc.store.set_slow_mode(article.id, seconds, now)
        svc._enqueued()  # pages showing the form change; the threads follow
        log.info(
            "slow mode set",
            extra={
                "article_id": article.id,
                "seconds": seconds,
                "by": actor_key(actor.platform, actor.user_id),
            },
        )
        return seconds

    async def slow_mode(self, article_id: ArticleId) -> int:
        """A story's slow mode in seconds (0: off); anyone may ask (the web form says it)."""
        return await self._svc.store.get_slow_mode(article_id)

    async def policy(self, article_id: ArticleId) -> CommentPolicy:
        """The comment policy a new comment on the story meets now (anyone may ask: the web
        form shows it)."""
        return await policy_of(self._svc, article_id)

    async def report(
        self, comment_id: CommentId, reporter: Actor, reason: str
    ) -> tuple[Comment, int]:
        """A reader reports a comment (each reader counts once). Once
        ``DeskSettings.reports_to_hide`` readers did, the comment is hidden pending review.
        Returns the comment and how many readers reported it.

        Raises:
            NotFound: no such comment, or it is not visible.
        """
        svc = self._svc
        comment = await svc.store.get_comment(comment_id)
        if comment is None or comment.status is not CommentStatus.VISIBLE:
            raise NotFound(N_("There is no comment %(id)s to report."), id=comment_id)
        reason = one_line(strip_control_chars(reason)).strip()[:REASON_MAX] or "no reason given"
        now = svc.clock.now()
        who = actor_key(reporter.platform, reporter.user_id)
        count = await svc.store.report_comment(comment_id, who, reason, now)
        threshold = svc.desk_settings.reports_to_hide
        if threshold > 0 and count == threshold:  # once: an approval afterwards holds
            comment = await svc.store.set_comment_status(comment_id, CommentStatus.HIDDEN, now)
            log.info("comment hidden by reports", extra={"comment_id": comment_id})
            svc._enqueued()
        log.info("comment reported", extra={"comment_id": comment_id, "reports": count})
        await svc.staffchat.reported(comment_id, count)
        return comment, count


def _last_decision(entries: Sequence[AuditEntry], comment_id: CommentId) -> AuditEntry | None:
    """The newest approval or hiding of the comment not undone since (entries newest first)."""
    for entry in entries:
        if entry.comment_id != comment_id:
            continue
        if entry.action in (Action.APPROVE, Action.HIDE):
            return entry
        if entry.action in (Action.UNDO_APPROVE, Action.UNDO_HIDE, Action.DELETE, Action.BAN):
            return None
    return None
