"""The ``ReactionStore`` on SQL, written once for SQLite and PostgreSQL (see ``storage.units``
for ``Tx`` and the placeholders): look up, ask ``newsbot.reactions``, write the plan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import storage.rows as rows
from newsbot import reactions
from newsbot.models import ArticleId, CommentId, CountRefresh, MessageLink, MessageRef, Platform
from newsbot.reactions import (
    AnonymousRow,
    MessageReactions,
    ReactionCounts,
    ReactionEvent,
    ReactionPlan,
    ReaderRow,
    Target,
)
from storage.units import Tx

T = TypeVar("T")
_LOCK_CLASS = 0x6E62_03  # advisory locks of one message's reactions (PostgreSQL)
_KEY = "platform = $1 AND chat_id = $2 AND message_id = $3"


COUNT_ROWS = (
    "SELECT 0, r.comment_id, r.platform, r.reader, r.emoji, "
    "CASE WHEN b.user_id IS NULL THEN 0 ELSE 1 END, 1 FROM reactions r "
    "LEFT JOIN bans b ON b.platform = r.platform AND b.user_id = r.reader "
    "WHERE r.article_id = $1 "
    "UNION ALL SELECT 1, comment_id, platform, '', emoji, 0, count "
    "FROM reaction_counts WHERE article_id = $1 "
    "UNION ALL SELECT 2, id, '', '', '', 0, 0 FROM comments "
    "WHERE article_id = $1 AND status <> 'visible'"
)
"""An article's reaction rows, bans and hidden comments, for ``tally_rows`` (one snapshot)."""


def tally_rows(article_id: ArticleId, found: Iterable[Any]) -> ReactionCounts:
    """``COUNT_ROWS``'s rows counted (``reactions.tally``)."""
    readers, anonymous, hidden = [], [], []
    for kind, comment, platform, reader, emoji, banned, count in found:
        comment_id = None if comment is None else CommentId(comment)
        if kind == 0:
            readers.append(ReaderRow(comment_id, Platform(platform), reader, emoji, bool(banned)))
        elif kind == 1:
            anonymous.append(AnonymousRow(comment_id, Platform(platform), emoji, int(count)))
        elif comment_id is not None:
            hidden.append(comment_id)
    return reactions.tally(article_id, readers, anonymous, hidden)


ANY_ROWS = (
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM reactions WHERE article_id = $1) "
    "OR EXISTS (SELECT 1 FROM reaction_counts WHERE article_id = $1)"
)
"""Whether an article has any reaction stored (one index probe each): most have none."""


def total_rows(found: Iterable[Any]) -> int:
    """``COUNT_ROWS``'s rows as a count line's total (``reactions.total``)."""
    readers, anonymous, hidden = [], [], []
    for kind, comment, platform, reader, emoji, banned, count in found:
        if kind == 0:
            readers.append((comment, platform, reader, emoji, bool(banned)))
        elif kind == 1:
            anonymous.append((comment, int(count)))
        else:
            hidden.append(comment)
    return reactions.total(readers, anonymous, hidden)


class SqlReactions:
    """Reactions on a backend's ``_atomic`` (writes) and ``_rows`` (reads)."""

    async def _atomic(self, body: Callable[[Tx], Awaitable[T]]) -> T:
        raise NotImplementedError

    async def _rows(self, sql: str, *args: Any) -> list[Any]:
        raise NotImplementedError

    async def record_reactions(
        self,
        events: Sequence[ReactionEvent],
        *,
        allowed: Sequence[str] | None = None,
        refresh: CountRefresh | None = None,
    ) -> list[Target | None]:
        async def body(tx: Tx) -> list[Target | None]:
            landed: list[Target | None] = []
            changed: dict[ArticleId, datetime] = {}
            for event in events:
                key = _key(event.message)
                await tx.lock(
                    "SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_CLASS, "|".join(key)
                )
                link = await _link(tx, event)
                current = await _current(tx, key) if link is not None else MessageReactions()
                plan = reactions.decide(event, link, current, allowed=allowed)
                if plan is not None:
                    await _write(tx, key, plan)
                    await tx.notify([f"article:{plan.target.article_id}"])
                    at = changed.get(plan.target.article_id, plan.at)
                    changed[plan.target.article_id] = max(at, plan.at)
                landed.append(None if plan is None else plan.target)
            if refresh is not None:
                for article_id, at in sorted(changed.items()):
                    await _refresh(tx, article_id, refresh, at)
            return landed

        return await self._atomic(body)

    async def reaction_counts(self, article_id: ArticleId) -> ReactionCounts:
        return tally_rows(article_id, await self._rows(COUNT_ROWS, article_id))

    async def reader_reactions(
        self, article_id: ArticleId, platform: Platform, reader: str
    ) -> dict[CommentId | None, tuple[str, ...]]:
        found: dict[CommentId | None, tuple[str, ...]] = {}
        for comment, emoji in await self._rows(
            "SELECT comment_id, emoji FROM reactions "
            "WHERE article_id = $1 AND platform = $2 AND reader = $3 ORDER BY reacted_at, emoji",
            article_id,
            str(platform),
            reader,
        ):
            key = None if comment is None else CommentId(comment)
            if emoji not in found.get(key, ()):
                found[key] = (*found.get(key, ()), emoji)
        return found

    async def reaction_totals(self) -> dict[Platform, int]:
        totals: dict[Platform, int] = {}
        for platform, count in await self._rows(
            "SELECT platform, COUNT(*) FROM reactions GROUP BY platform "
            "UNION ALL SELECT platform, SUM(count) FROM reaction_counts GROUP BY platform"
        ):
            totals[Platform(platform)] = totals.get(Platform(platform), 0) + int(count)
        return dict(sorted(totals.items()))

    async def reaction_times(self, article_id: ArticleId) -> list[tuple[datetime, Platform, int]]:
        found = await self._rows(
            "SELECT reacted_at, platform, 1 FROM reactions WHERE article_id = $1 "
            "UNION ALL SELECT counted_at, platform, count FROM reaction_counts "
            "WHERE article_id = $1",
            article_id,
        )
        times = [(rows.at(at), Platform(platform), int(count)) for at, platform, count in found]
        return sorted(times, key=lambda item: (item[0], item[1]))


def _key(ref: MessageRef) -> tuple[str, str, str]:
    return str(ref.platform), ref.chat_id, ref.message_id


async def _link(tx: Tx, event: ReactionEvent) -> MessageLink | None:
    """What the reacted message carries: the web's named target if it is published (and
    visible),
    else the message's link (a post, a copy) or the comment written as it."""
    target = event.target
    if target is not None:
        if target.comment_id is None:
            ok = await tx.row(
                "SELECT 1 FROM articles WHERE id = $1 AND status = 'published'", target.article_id
            )
        else:
            ok = await tx.row(
                "SELECT 1 FROM comments c JOIN articles a ON a.id = c.article_id "
                "WHERE c.id = $1 AND c.article_id = $2 AND c.status = 'visible' "
                "AND a.status = 'published'",
                target.comment_id,
                target.article_id,
            )
        return (
            None
            if ok is None
            else MessageLink(event.message, target.article_id, target.comment_id)
        )
    key = _key(event.message)
    row = await tx.row(f"SELECT article_id, comment_id FROM message_links WHERE {_KEY}", *key)
    if row is None:
        row = await tx.row(
            "SELECT article_id, id FROM comments WHERE source_platform = $1 "
            "AND source_chat_id = $2 AND source_message_id = $3",
            *key,
        )
    if row is None:
        return None
    return MessageLink(
        event.message, ArticleId(row[0]), None if row[1] is None else CommentId(row[1])
    )


async def _current(tx: Tx, key: tuple[str, str, str]) -> MessageReactions:
    readers = await tx.rows(f"SELECT reader, emoji FROM reactions WHERE {_KEY}", *key)
    counts = await tx.rows(f"SELECT emoji, count FROM reaction_counts WHERE {_KEY}", *key)
    return MessageReactions(frozenset((r, e) for r, e in readers), {e: int(n) for e, n in counts})


async def _write(tx: Tx, key: tuple[str, str, str], plan: ReactionPlan) -> None:
    if plan.remove:
        await tx.many(
            f"DELETE FROM reactions WHERE {_KEY} AND reader = $4 AND emoji = $5",
            [(*key, reader, emoji) for reader, emoji in plan.remove],
        )
    target = plan.target
    if plan.add:
        await tx.many(
            "INSERT INTO reactions (platform, chat_id, message_id, reader, emoji, article_id, "
            "comment_id, reacted_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING",
            [
                (*key, reader, emoji, target.article_id, target.comment_id, plan.at)
                for reader, emoji in plan.add
            ],
        )
    if plan.anonymous is not None:
        await tx.run(f"DELETE FROM reaction_counts WHERE {_KEY}", *key)
        await tx.many(
            "INSERT INTO reaction_counts (platform, chat_id, message_id, emoji, count, "
            "article_id, comment_id, counted_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
            [
                (*key, emoji, count, target.article_id, target.comment_id, plan.at)
                for emoji, count in plan.anonymous
            ],
        )


async def _refresh(tx: Tx, article_id: ArticleId, pace: CountRefresh, at: datetime) -> None:
    """Re-enqueue the article's sent posts as edits, paced (``reactions.refreshes``)."""
    found = await tx.rows(
        "SELECT id, state = 'sent' AND op <> 'delete', updated_at FROM deliveries "
        "WHERE article_id = $1 AND comment_id IS NULL",
        article_id,
    )
    due = reactions.refreshes([(r[0], bool(r[1]), rows.at(r[2])) for r in found], pace, at)
    # An edit being sent carries the counts read when it was claimed: send it again once done
    # (its generation moves on, so complete_delivery puts it back to pending).
    await tx.run(
        "UPDATE deliveries SET generation = generation + 1 WHERE article_id = $1 "
        "AND comment_id IS NULL AND state = 'sending' AND op = 'edit'",
        article_id,
    )
    if due:
        await tx.many(
            "UPDATE deliveries SET op = 'edit', state = 'pending', due_at = $1, attempts = 0, "
            "generation = generation + 1, updated_at = $2 WHERE id = $3 AND state = 'sent'",
            [(when, at, delivery) for delivery, when in due],
        )
        await tx.notify(["outbox"])
