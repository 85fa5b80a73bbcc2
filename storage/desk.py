"""``DeskStore`` (the moderation queue, reports, approvals, the audit log) on both SQL
backends, written once on ``storage.units.Tx`` and the plain-statement primitives."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import storage.rows as rows
from newsbot import mirroring
from newsbot.mirroring import ArticlePost
from newsbot.models import (
    ArticleId,
    Comment,
    CommentId,
    CountRefresh,
    DeliveryId,
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
    parse_reasons,
    reasons_text,
)
from storage.units import CommonUnits, Tx, _topics

HOLD_CHUNK = 256
"""Queue items one statement enters at most (two values each)."""

_COLUMNS = ", ".join("c." + c.strip() for c in rows.COMMENT.split(","))
_COUNT = "(SELECT count(*) FROM reports p WHERE p.comment_id = r.comment_id)"
_ITEM = (
    f"SELECT r.comment_id, r.reasons, r.entered_at, r.decision, r.decided_by, r.decided_at, "
    f"{_COUNT}, {_COLUMNS} FROM review r JOIN comments c ON c.id = r.comment_id"
)
# The reported tab starts from the reported comments (few), not from every open item.
_REPORTED = (
    "SELECT r.comment_id, r.reasons, r.entered_at, r.decision, r.decided_by, r.decided_at, "
    f"k.n, {_COLUMNS} FROM (SELECT comment_id, count(*) AS n FROM reports "
    "GROUP BY comment_id) k JOIN review r ON r.comment_id = k.comment_id "
    "JOIN comments c ON c.id = r.comment_id"
)
# Each tab: its rows, its filter, the keyset condition after a position ($2 at, $3 comment,
# $4 reports), its order. Held items are served by the index review_open, recent ones by
# review_decided.
_VIEWS = {
    View.HELD: (
        _ITEM,
        " WHERE r.decision = 'open' AND c.status = 'hidden'",
        " AND (r.entered_at, r.comment_id) > ($2, $3)",
        " ORDER BY r.entered_at, r.comment_id LIMIT $1",
    ),
    View.REPORTED: (
        _REPORTED,
        " WHERE r.decision = 'open' AND c.status != 'deleted'",
        " AND (k.n < $4 OR (k.n = $4 AND (r.entered_at, r.comment_id) > ($2, $3)))",
        " ORDER BY k.n DESC, r.entered_at, r.comment_id LIMIT $1",
    ),
    View.RECENT: (
        _ITEM,
        " WHERE r.decided_at IS NOT NULL",
        " AND (r.decided_at, r.comment_id) < ($2, $3)",
        " ORDER BY r.decided_at DESC, r.comment_id DESC LIMIT $1",
    ),
}
# The article's own posts that went out, as ``newsbot.mirroring.mirror_targets`` reads them.
_POSTS = (
    "SELECT d.id, t.id, t.platform, t.chat_id, d.thread_id, t.active, "
    "d.state = 'sent' AND d.op != 'delete', d.updated_at FROM deliveries d "
    "JOIN destinations t ON t.id = d.destination_id WHERE d.article_id = $1 "
    "AND d.comment_id IS NULL AND d.message_id IS NOT NULL ORDER BY d.id"
)
# A post of the comment; a copy deleted when it was hidden (or cancelled) is posted anew.
_MIRROR = (
    "INSERT INTO deliveries (article_id, comment_id, destination_id, platform, op, state, "
    "due_at, created_at, updated_at) VALUES ($1, $2, $5, $6, 'post', 'pending', $3, $4, $4) "
    "ON CONFLICT (comment_id, destination_id) WHERE comment_id IS NOT NULL DO UPDATE SET "
    "op = 'post', state = 'pending', message_id = NULL, thread_id = NULL, "
    "due_at = excluded.due_at, attempts = 0, generation = deliveries.generation + 1, "
    "last_error = NULL, updated_at = excluded.updated_at, claimed_by = NULL, not_before = NULL "
    "WHERE deliveries.state IN ('sent', 'dead') "
    "AND (deliveries.op = 'delete' OR deliveries.message_id IS NULL)"
)


_REFRESH = (
    "UPDATE deliveries SET op = 'edit', state = 'pending', due_at = $2, attempts = 0, "
    "generation = generation + 1, updated_at = $3 WHERE id = $1 AND state = 'sent' "
    "AND op != 'delete'"
)

# A count edit being sent carries the count read at its claim: its generation moves on, so
# complete_delivery puts it back to pending and it is sent again with the new count.
_RESEND = (
    "UPDATE deliveries SET generation = generation + 1 WHERE article_id = $1 "
    "AND comment_id IS NULL AND state = 'sending' AND op = 'edit'"
)


def _item(row: Any, report_reasons: Sequence[str]) -> ReviewItem:
    return ReviewItem(
        comment=rows.comment(row[7:]),
        reasons=parse_reasons(row[1]),
        reports=int(row[6]),
        report_reasons=tuple(report_reasons),
        entered_at=rows.at(row[2]),
        decision=Decision(row[3]),
        decided_by=row[4],
        decided_at=rows.maybe_at(row[5]),
    )


async def _hold(tx: Tx, comment_id: CommentId, reasons: Sequence[str], now: datetime) -> None:
    added = await tx.run(
        "INSERT INTO review (comment_id, reasons, entered_at) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING",
        comment_id,
        reasons_text(reasons),
        now,
    )
    if not added:
        # Concurrent holds of one comment (two readers' reports) merge their reasons.
        await tx.lock("SELECT 1 FROM review WHERE comment_id = $1 FOR UPDATE", comment_id)
        row = await tx.row("SELECT reasons FROM review WHERE comment_id = $1", comment_id)
        await tx.run(
            "UPDATE review SET reasons = $2, decision = 'open', decided_by = NULL, "
            "decided_at = NULL WHERE comment_id = $1",
            comment_id,
            reasons_text(merge_reasons(parse_reasons(row[0] if row else ""), reasons)),
        )


async def _hold_new(tx: Tx, items: dict[CommentId, str], now: datetime) -> set[CommentId]:
    """The items not in the queue yet entered, a few hundred a statement (padded to a power
    of two with the last: a few statement texts serve every batch); those entered."""
    entered: set[CommentId] = set()
    ids = sorted(items)  # one order for every writer: PostgreSQL's inserts never deadlock
    for first in range(0, len(ids), HOLD_CHUNK):
        chunk = ids[first : first + HOLD_CHUNK]
        chunk += [chunk[-1]] * ((1 << (len(chunk) - 1).bit_length()) - len(chunk))
        values = ", ".join(f"(${2 * n + 2}, ${2 * n + 3}, $1)" for n in range(len(chunk)))
        found = await tx.rows(
            f"INSERT INTO review (comment_id, reasons, entered_at) VALUES {values} "
            "ON CONFLICT DO NOTHING RETURNING comment_id",
            now,
            *(value for comment_id in chunk for value in (comment_id, items[comment_id])),
        )
        entered.update(CommentId(int(r[0])) for r in found)
    return entered


class SqlDesk(CommonUnits):
    """The desk's methods, on a SQL backend's ``_atomic``, ``_rows`` and ``_row``."""

    async def hold_comment(
        self, comment_id: CommentId, reasons: Sequence[str], now: datetime
    ) -> None:
        await self.hold_comments([(comment_id, reasons)], now)

    async def hold_comments(
        self, items: Sequence[tuple[CommentId, Sequence[str]]], now: datetime
    ) -> None:
        merged = merge_items(items)
        if not merged:
            return
        texts = {comment_id: reasons_text(reasons) for comment_id, reasons in merged.items()}

        async def body(tx: Tx) -> None:
            entered = await _hold_new(tx, texts, now)
            for comment_id in sorted(set(merged) - entered):  # in the queue already: merged
                await _hold(tx, comment_id, merged[comment_id], now)

        await self._atomic(body)

    async def report_comment(
        self, comment_id: CommentId, reporter: str, reason: str, now: datetime
    ) -> int:
        async def body(tx: Tx) -> int:
            added = await tx.run(
                "INSERT INTO reports (comment_id, reporter, reason, created_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                comment_id,
                reporter,
                reason,
                now,
            )
            if added:
                await _hold(tx, comment_id, [Reason.REPORTED], now)
            row = await tx.row("SELECT count(*) FROM reports WHERE comment_id = $1", comment_id)
            return 0 if row is None else int(row[0])

        return await self._atomic(body)

    async def _items(self, found: list[Any]) -> list[ReviewItem]:
        reported = [r[0] for r in found if r[6]]
        said: dict[int, list[str]] = {}
        if reported:
            marks = ", ".join(f"${n}" for n in range(1, len(reported) + 1))
            for r in await self._rows(
                f"SELECT comment_id, reason FROM reports WHERE comment_id IN ({marks}) "
                "ORDER BY created_at, reporter",
                *reported,
            ):
                said.setdefault(r[0], []).append(r[1])
        return [_item(r, said.get(r[0], ())) for r in found]

    async def review_item(self, comment_id: CommentId) -> ReviewItem | None:
        found = await self._rows(f"{_ITEM} WHERE r.comment_id = $1", comment_id)
        items = await self._items(found)
        return items[0] if items else None

    async def review_queue(
        self, view: View, limit: int, after: QueuePosition | None = None
    ) -> list[ReviewItem]:
        select, where, keyset, order = _VIEWS[view]
        if after is None:
            return await self._items(await self._rows(select + where + order, limit))
        args = (after.at, after.comment_id) + ((after.reports,) if view is View.REPORTED else ())
        return await self._items(await self._rows(select + where + keyset + order, limit, *args))

    async def decide_review(
        self, comment_id: CommentId, decision: Decision, actor: str, now: datetime
    ) -> bool:
        is_open = decision is Decision.OPEN
        by, at = (None, None) if is_open else (actor, now)

        async def body(tx: Tx) -> bool:
            changed = await tx.run(
                "UPDATE review SET decision = $2, decided_by = $3, decided_at = $4 "
                "WHERE comment_id = $1 AND decision != $2",
                comment_id,
                str(decision),
                by,
                at,
            )
            if changed:
                return True
            return bool(
                await tx.run(
                    "INSERT INTO review (comment_id, reasons, entered_at, decision, "
                    "decided_by, decided_at) VALUES ($1, '', $2, $3, $4, $5) "
                    "ON CONFLICT DO NOTHING",
                    comment_id,
                    now,
                    str(decision),
                    by,
                    at,
                )
            )

        return await self._atomic(body)

    async def release_comment(
        self,
        comment_id: CommentId,
        now: datetime,
        due: datetime,
        *,
        mirror: bool = True,
        count_refresh: CountRefresh | None = None,
    ) -> Comment | None:
        async def body(tx: Tx) -> Comment | None:
            row = await tx.row(
                "UPDATE comments SET status = 'visible', deleted_at = NULL "
                "WHERE id = $1 AND status = 'hidden' AND EXISTS (SELECT 1 FROM articles a "
                "WHERE a.id = comments.article_id AND a.status = 'published') "
                f"RETURNING {rows.COMMENT}",
                comment_id,
            )
            if row is None:
                return None
            comment = rows.comment(row)
            queued = 0
            posts = await _posts(tx, comment.article_id)
            if mirror:
                for destination_id, platform in await _targets(tx, comment, posts):
                    queued += await tx.run(
                        _MIRROR, comment.article_id, comment.id, due, now, destination_id, platform
                    )
            if count_refresh is not None:
                await tx.run(_RESEND, comment.article_id)
                for delivery_id, at in mirroring.count_refreshes(posts, count_refresh, now):
                    queued += await tx.run(_REFRESH, delivery_id, at, now)
            await tx.notify(_topics(comment.article_id, queued))
            return comment

        return await self._atomic(body)

    async def add_audit(
        self, actor: str, action: str, comment_id: CommentId, detail: str, now: datetime
    ) -> None:
        await self._change(
            (
                "INSERT INTO audit (at, actor, action, comment_id, detail) "
                "VALUES ($1, $2, $3, $4, $5)",
                (now, actor, action, comment_id, detail),
            )
        )

    async def set_policy(
        self, article_id: ArticleId, policy: CommentPolicy | None, now: datetime
    ) -> None:
        async def body(tx: Tx) -> None:
            if policy is None:
                await tx.run("DELETE FROM story_policy WHERE article_id = $1", article_id)
            else:
                await tx.run(
                    "INSERT INTO story_policy (article_id, policy, set_at) VALUES ($1, $2, $3) "
                    "ON CONFLICT (article_id) DO UPDATE SET policy = excluded.policy, "
                    "set_at = excluded.set_at",
                    article_id,
                    str(policy),
                    now,
                )
            await tx.notify([f"article:{article_id}"])

        await self._atomic(body)

    async def get_policy(self, article_id: ArticleId) -> CommentPolicy | None:
        row = await self._row("SELECT policy FROM story_policy WHERE article_id = $1", article_id)
        return None if row is None else CommentPolicy(row[0])

    async def refresh_posts(self, article_id: ArticleId, pace: CountRefresh, now: datetime) -> int:
        async def body(tx: Tx) -> int:
            # A post or an edit being sent carries the policy read when it was claimed: send
            # it again once done (its generation moves on: complete_delivery leaves it pending).
            await tx.run(
                "UPDATE deliveries SET generation = generation + 1 WHERE article_id = $1 "
                "AND comment_id IS NULL AND state = 'sending' AND op != 'delete'",
                article_id,
            )
            queued, posts = 0, await _posts(tx, article_id)
            for delivery_id, at in mirroring.count_refreshes(posts, pace, now):
                queued += await tx.run(_REFRESH, delivery_id, at, now)
            await tx.notify(_topics(article_id, queued))
            return queued

        return await self._atomic(body)

    async def audit_log(self, limit: int) -> list[AuditEntry]:
        return [
            AuditEntry(int(r[0]), rows.at(r[1]), r[2], r[3], CommentId(r[4]), r[5])
            for r in await self._rows(
                "SELECT id, at, actor, action, comment_id, detail FROM audit "
                "ORDER BY id DESC LIMIT $1",
                limit,
            )
        ]


async def _posts(tx: Tx, article_id: ArticleId) -> list[ArticlePost]:
    """The article's own posts that went out."""
    return [
        ArticlePost(
            DeliveryId(r[0]),
            DestinationId(r[1]),
            rows.PLATFORMS[r[2]],
            r[3],
            r[4],
            bool(r[5]),
            bool(r[6]),
            rows.at(r[7]),
        )
        for r in await tx.rows(_POSTS, article_id)
    ]


async def _targets(
    tx: Tx, comment: Comment, posts: list[ArticlePost]
) -> list[tuple[DestinationId, str]]:
    """Where the comment is mirrored (``newsbot.mirroring.mirror_targets``), with each
    destination's platform."""
    links = [
        rows.post_link(r)
        for r in await tx.rows(
            f"SELECT {rows.POST_LINK} FROM message_links WHERE article_id = $1 "
            "AND comment_id IS NULL AND destination_id IS NOT NULL "
            "ORDER BY platform, chat_id, message_id",
            comment.article_id,
        )
    ]
    platforms = {p.destination_id: str(p.platform) for p in posts}
    return [
        (d, platforms[d]) for d in mirroring.mirror_targets(posts, links, comment.source, None)
    ]
