"""Reactions in a memory store: per message, readers' rows and anonymous counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from newsbot import reaction_batch, reactions
from newsbot.models import (
    ArticleId,
    ArticleStatus,
    CommentId,
    CommentStatus,
    CountRefresh,
    DeliveryId,
    DeliveryOp,
    DeliveryState,
    MessageLink,
    Platform,
)
from newsbot.reactions import (
    AnonymousRow,
    MessageReactions,
    ReactionCounts,
    ReactionEvent,
    ReaderRow,
    Target,
)
from storage.memory.tables import MemoryBase, MemoryDatabase, StoredReactions, _utc


class Reactions(MemoryBase):
    """The ``ReactionStore`` in memory."""

    async def record_reactions(
        self,
        events: Sequence[ReactionEvent],
        *,
        allowed: Sequence[str] | None = None,
        refresh: CountRefresh | None = None,
    ) -> list[Target | None]:
        db = self._db
        links = {e.message: self._reacted(e) for e in events}
        current = {
            ref: MessageReactions(frozenset(stored.readers), dict(stored.anonymous))
            for ref in links
            if (stored := db.reactions.get(ref)) is not None
        }
        plan = reaction_batch.decide_batch(events, links, current, allowed=allowed)
        for change in plan.changes:
            stored = db.reactions.get(change.message)
            if stored is None:
                stored = db.reactions[change.message] = StoredReactions(change.target)
            for key in change.remove:
                stored.readers.pop(key, None)
            for reader, emoji, at in change.add:
                stored.readers[(reader, emoji)] = _utc(at)
            if change.anonymous is not None:
                stored.anonymous = dict(change.anonymous)
                stored.counted_at = _utc(change.at)
            self._changed()
        if refresh is not None:
            for article_id, at in plan.articles().items():
                self._refresh(article_id, refresh, _utc(at))
        return list(plan.landed)

    def _refresh(self, article_id: ArticleId, pace: CountRefresh, at: datetime) -> None:
        posts = [
            d
            for d in self._db.deliveries.values()
            if d.article_id == article_id and d.comment_id is None
        ]
        settled = [
            (d.id, d.state is DeliveryState.SENT and d.op is not DeliveryOp.DELETE, d.updated_at)
            for d in posts
        ]
        for d in posts:  # an edit being sent: again once done (see storage.reactions)
            if d.state is DeliveryState.SENDING and d.op is DeliveryOp.EDIT:
                self._put(d, generation=d.generation + 1)
        for delivery_id, due in reactions.refreshes(settled, pace, at):
            current = self._db.deliveries[DeliveryId(delivery_id)]
            if current.state is DeliveryState.SENT:
                self._put(
                    current,
                    op=DeliveryOp.EDIT,
                    state=DeliveryState.PENDING,
                    next_attempt_at=_utc(due),
                    attempts=0,
                    generation=current.generation + 1,
                    updated_at=_utc(at),
                )

    def _reacted(self, event: ReactionEvent) -> MessageLink | None:
        db = self._db
        target = event.target
        if target is None:
            link = db.links.get(event.message)
            if link is not None:
                return link
            comment_id = db.sources.get(event.message)
            if comment_id is None:
                return None
            return MessageLink(event.message, db.comments[comment_id].article_id, comment_id)
        article = db.articles.get(target.article_id)
        if article is None or article.status is not ArticleStatus.PUBLISHED:
            return None
        if target.comment_id is not None:
            comment = db.comments.get(target.comment_id)
            if (
                comment is None
                or comment.article_id != target.article_id
                or comment.status is not CommentStatus.VISIBLE
            ):
                return None
        return MessageLink(event.message, target.article_id, target.comment_id)

    async def reaction_counts(self, article_id: ArticleId) -> ReactionCounts:
        return counts_in(self._db, article_id)

    async def reader_reactions(
        self, article_id: ArticleId, platform: Platform, reader: str
    ) -> dict[CommentId | None, tuple[str, ...]]:
        found: dict[CommentId | None, list[tuple[datetime, str]]] = {}
        for ref, stored in self._db.reactions.items():
            if ref.platform is not platform or stored.target.article_id != article_id:
                continue
            for (who, emoji), at in stored.readers.items():
                if who == reader:
                    found.setdefault(stored.target.comment_id, []).append((at, emoji))
        return {
            key: tuple(dict.fromkeys(e for _, e in sorted(chosen)))
            for key, chosen in found.items()
        }

    async def reaction_totals(self) -> dict[Platform, int]:
        totals: dict[Platform, int] = {}
        for ref, stored in self._db.reactions.items():
            count = len(stored.readers) + sum(stored.anonymous.values())
            if count:
                totals[ref.platform] = totals.get(ref.platform, 0) + count
        return dict(sorted(totals.items()))

    async def reaction_times(self, article_id: ArticleId) -> list[tuple[datetime, Platform, int]]:
        times: list[tuple[datetime, Platform, int]] = []
        for ref, stored in self._db.reactions.items():
            if stored.target.article_id != article_id:
                continue
            times += [(at, ref.platform, 1) for at in stored.readers.values()]
            if stored.counted_at is not None:
                times += [(stored.counted_at, ref.platform, n) for n in stored.anonymous.values()]
        return sorted(times, key=lambda item: (item[0], item[1]))


def counts_in(db: MemoryDatabase, article_id: ArticleId) -> ReactionCounts:
    """An article's counts (``reactions.tally``), also for the claims' count lines."""
    readers: list[ReaderRow] = []
    anonymous: list[AnonymousRow] = []
    for ref, stored in db.reactions.items():
        target = stored.target
        if target.article_id != article_id:
            continue
        for reader, emoji in stored.readers:
            banned = (str(ref.platform), reader) in db.bans
            readers.append(ReaderRow(target.comment_id, ref.platform, reader, emoji, banned))
        for emoji, count in stored.anonymous.items():
            anonymous.append(AnonymousRow(target.comment_id, ref.platform, emoji, count))
    hidden = [
        c.id
        for c in db.comments.values()
        if c.article_id == article_id and c.status is not CommentStatus.VISIBLE
    ]
    return reactions.tally(article_id, readers, anonymous, hidden)
