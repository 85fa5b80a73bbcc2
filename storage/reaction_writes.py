"""A batch of reactions written set-wise on SQL, for SQLite and PostgreSQL alike (see
``storage.units`` for ``Tx``): a constant number of statements per batch, however many events
it holds (``newsbot.reaction_batch`` says what to read, decides, and counts the deltas).

Keys are looked up by joining a ``VALUES`` list (a CTE, which both planners drive through the
tables' keys) with every value cast, so PostgreSQL knows its types.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import storage.rows as rows
from newsbot import reaction_batch, reactions
from newsbot.models import ArticleId, CommentId, CountRefresh, MessageLink, MessageRef, Platform
from newsbot.reaction_batch import MessageChange, ReaderKey
from newsbot.reactions import MessageReactions, ReactionEvent, Target
from storage.statements import READER_LOCK_CLASS
from storage.units import Tx

_LOCK_CLASS = 0x6E62_03  # advisory locks of one message's reactions (PostgreSQL)
_CHUNK = 200  # keys per lookup
_MESSAGE = ("TEXT", "TEXT", "TEXT")
_ON_MESSAGE = "x.platform = k.p AND x.chat_id = k.c AND x.message_id = k.m"


def _values(keys: Sequence[Sequence[Any]], types: Sequence[str]) -> str:
    """``VALUES (CAST($1 AS TEXT), ...), ...`` for ``keys`` (numbered from 1)."""
    width = len(types)
    return ", ".join(
        "(" + ", ".join(f"CAST(${n * width + i + 1} AS {t})" for i, t in enumerate(types)) + ")"
        for n in range(len(keys))
    )


async def _joined(
    tx: Tx, columns: str, types: Sequence[str], keys: Sequence[Sequence[Any]], rest: str
) -> list[Any]:
    """``WITH k(columns) AS (VALUES keys) SELECT rest``, chunked."""
    found: list[Any] = []
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        sql = f"WITH k({columns}) AS (VALUES {_values(chunk, types)}) SELECT {rest}"
        found += await tx.rows(sql, *(value for key in chunk for value in key))
    return found


def _key(ref: MessageRef) -> tuple[str, str, str]:
    return str(ref.platform), ref.chat_id, ref.message_id


def _ref(platform: str, chat_id: str, message_id: str) -> MessageRef:
    return MessageRef(Platform(platform), chat_id, message_id)


async def write_batch(
    tx: Tx,
    events: Sequence[ReactionEvent],
    allowed: Sequence[str] | None,
    refresh: CountRefresh | None,
) -> list[Target | None]:
    """Apply ``events`` in one transaction (``ReactionStore.record_reactions``)."""
    needs = reaction_batch.needs(events)
    await tx.lock(
        "SELECT pg_advisory_xact_lock($1, hashtext(k)) FROM unnest($2::text[]) AS k",
        _LOCK_CLASS,
        ["|".join(_key(ref)) for ref in needs.messages],
    )
    links = await _links(tx, events)
    current = await _current(tx, needs, links)
    plan = reaction_batch.decide_batch(events, links, current, allowed=allowed)
    if plan.changes:
        # The readers' counts change one transaction at a time (with bans: ``set_ban``).
        readers = {f"{c.message.platform}|{r}" for c in plan.changes for r, _ in c.remove}
        readers |= {f"{c.message.platform}|{r}" for c in plan.changes for r, _, _ in c.add}
        await tx.lock(
            "SELECT pg_advisory_xact_lock($1, hashtext(k)) FROM unnest($2::text[]) AS k",
            READER_LOCK_CLASS,
            sorted(readers),
        )
        deltas = await _tally_deltas(tx, plan.changes)  # from the rows before the batch
        await _write(tx, plan.changes)
        await tx.many(TALLY_UPSERT, deltas)
        await tx.notify([f"article:{a}" for a in plan.articles()])
        if refresh is not None:
            for article_id, at in plan.articles().items():
                await _refresh(tx, article_id, refresh, at)
    return list(plan.landed)


# -- lookups --------------------------------------------------------------------------------


async def _links(tx: Tx, events: Sequence[ReactionEvent]) -> dict[MessageRef, MessageLink | None]:
    """What each reacted message carries: a web event's named target if it is published (and
    visible), else the message's link (a post, a copy) or the comment written as it."""
    links: dict[MessageRef, MessageLink | None] = {}
    for event in events:
        if event.target is not None and event.message not in links:
            links[event.message] = await _web_link(tx, event.message, event.target)
    chat = sorted({_key(e.message) for e in events if e.target is None})
    for p, c, m, article, comment in await _joined(
        tx,
        "p, c, m",
        _MESSAGE,
        chat,
        f"k.p, k.c, k.m, x.article_id, x.comment_id FROM k JOIN message_links x ON {_ON_MESSAGE}",
    ):
        links[_ref(p, c, m)] = _link(_ref(p, c, m), article, comment)
    unlinked = [key for key in chat if _ref(*key) not in links]
    for p, c, m, article, comment in await _joined(
        tx,
        "p, c, m",
        _MESSAGE,
        unlinked,
        "k.p, k.c, k.m, x.article_id, x.id FROM k JOIN comments x ON x.source_platform = k.p "
        "AND x.source_chat_id = k.c AND x.source_message_id = k.m",
    ):
        links[_ref(p, c, m)] = _link(_ref(p, c, m), article, comment)
    return links


def _link(ref: MessageRef, article: Any, comment: Any) -> MessageLink:
    return MessageLink(ref, ArticleId(article), None if comment is None else CommentId(comment))


async def _web_link(tx: Tx, ref: MessageRef, target: Target) -> MessageLink | None:
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
    return None if ok is None else MessageLink(ref, target.article_id, target.comment_id)


async def _current(
    tx: Tx, needs: reaction_batch.Needs, links: dict[MessageRef, MessageLink | None]
) -> dict[MessageRef, MessageReactions]:
    """What the known messages have stored: anonymous counts, and the reader rows ``needs``
    names."""
    known = [_key(ref) for ref in needs.messages if links.get(ref) is not None]
    whole = [_key(ref) for ref in needs.whole if links.get(ref) is not None]
    some = [(*_key(ref), r) for ref, r in needs.readers if links.get(ref) is not None]
    readers: dict[MessageRef, set[tuple[str, str]]] = {}
    anonymous: dict[MessageRef, dict[str, int]] = {}
    select = f"k.p, k.c, k.m, x.reader, x.emoji FROM k JOIN reactions x ON {_ON_MESSAGE}"
    found = await _joined(tx, "p, c, m", _MESSAGE, whole, select)
    found += await _joined(
        tx, "p, c, m, r", (*_MESSAGE, "TEXT"), some, select + " AND x.reader = k.r"
    )
    for p, c, m, reader, emoji in found:
        readers.setdefault(_ref(p, c, m), set()).add((reader, emoji))
    for p, c, m, emoji, count in await _joined(
        tx,
        "p, c, m",
        _MESSAGE,
        known,
        f"k.p, k.c, k.m, x.emoji, x.count FROM k JOIN reaction_counts x ON {_ON_MESSAGE}",
    ):
        anonymous.setdefault(_ref(p, c, m), {})[emoji] = int(count)
    return {
        ref: MessageReactions(frozenset(readers.get(ref, ())), anonymous.get(ref, {}))
        for ref in {*readers, *anonymous}
    }


# -- writes ---------------------------------------------------------------------------------


async def _write(tx: Tx, changes: Sequence[MessageChange]) -> None:
    await tx.many(
        "DELETE FROM reactions WHERE platform = $1 AND chat_id = $2 AND message_id = $3 "
        "AND reader = $4 AND emoji = $5",
        [(*_key(c.message), reader, emoji) for c in changes for reader, emoji in c.remove],
    )
    await tx.many(
        "INSERT INTO reactions (platform, chat_id, message_id, reader, emoji, article_id, "
        "comment_id, reacted_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING",
        [
            (*_key(c.message), reader, emoji, c.target.article_id, c.target.comment_id, at)
            for c in changes
            for reader, emoji, at in c.add
        ],
    )
    counted = [c for c in changes if c.anonymous is not None]
    await tx.many(
        "DELETE FROM reaction_counts WHERE platform = $1 AND chat_id = $2 AND message_id = $3",
        [_key(c.message) for c in counted],
    )
    await tx.many(
        "INSERT INTO reaction_counts (platform, chat_id, message_id, emoji, count, "
        "article_id, comment_id, counted_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        [
            (*_key(c.message), emoji, count, c.target.article_id, c.target.comment_id, c.at)
            for c in counted
            for emoji, count in c.anonymous or ()
        ],
    )


TALLY_UPSERT = (
    "INSERT INTO reaction_tally (article_id, comment_key, platform, emoji, readers, anonymous) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (article_id, comment_key, platform, emoji) "
    "DO UPDATE SET readers = reaction_tally.readers + excluded.readers, "
    "anonymous = reaction_tally.anonymous + excluded.anonymous"
)
"""What a batch adds to the per-target counts (``comment_key`` 0: the article itself)."""


async def _tally_deltas(tx: Tx, changes: Sequence[MessageChange]) -> list[tuple[Any, ...]]:
    """What ``changes`` add to ``reaction_tally`` (``reaction_batch.tally_deltas``), read
    before they are written, as ``TALLY_UPSERT``'s arguments."""
    keys = reaction_batch.reader_keys(changes)
    before: dict[ReaderKey, int] = {}
    for article, comment, platform, reader, emoji, count in await _joined(
        tx,
        "a, p, r",
        ("BIGINT", "TEXT", "TEXT"),
        keys,
        "x.article_id, x.comment_id, x.platform, x.reader, x.emoji, COUNT(*) FROM k "
        "JOIN reactions x ON x.article_id = k.a AND x.platform = k.p AND x.reader = k.r "
        "GROUP BY x.article_id, x.comment_id, x.platform, x.reader, x.emoji",
    ):
        key = (ArticleId(article), _comment(comment), Platform(platform), reader, emoji)
        before[key] = int(count)
    people = sorted({(str(p), r) for _, p, r in keys})
    banned = await _joined(
        tx,
        "p, r",
        ("TEXT", "TEXT"),
        people,
        "x.platform, x.user_id FROM k JOIN bans x ON x.platform = k.p AND x.user_id = k.r",
    )
    deltas = reaction_batch.tally_deltas(changes, before, [(Platform(p), r) for p, r in banned])
    return [
        (article, comment or 0, str(platform), emoji, readers, anonymous)
        for (article, comment, platform, emoji), (readers, anonymous) in deltas.items()
    ]


def _comment(value: Any) -> CommentId | None:
    return None if value is None else CommentId(value)


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
