"""The PostgreSQL store's group-commit ingestion: a batch of arriving comments in one
transaction, with set-wise statements (``unnest``, LATERAL probes, COPY for many). The server
is the other process, so no child process is needed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import storage.rows as rows
import storage.slowmode as slow_sql
from newsbot import intake, slowmode
from newsbot.intake import ArticlePost, Lineage, Lookups, Plan
from newsbot.models import ArticleId, Comment, IncomingComment, MessageLink, MessageRef
from newsbot.policy import CommentPolicy, Story
from storage.postgres.connection import CHANNEL, Conn

# -- group-commit ingestion ----------------------------------------------------------------

# What the intake needs for a batch (``newsbot.intake.Needs``), in one statement: the comments
# already stored for its messages, its banned authors, what each message it replies to is (a
# link to a post or a mirror first, else a stored comment), which of the articles named or
# replied to are published, their own posts, their deliveries' count, the links to their posts
# (discussion copies among them), the (article, root) of each parent, and the first of the ids
# for its new comments (every comment writer holds the lock, so the range is ours; ids of
# comments refused later stay unused). Each key is one index probe through a LATERAL subquery
# with a LIMIT, which keeps the planner from turning it into a join: a hash join over a freshly
# grown table scanned all of it (9 ms for 100 keys at 30,000 comments), and "id = ANY($1)" got
# a sequential scan in the generic plan cached while the table was empty.
_LOOKUP = (
    "WITH link AS (SELECT k.p, k.ch, k.m, f.article_id, f.comment_id, f.destination_id "
    "FROM unnest($6::text[], $7::text[], $8::text[]) AS k(p, ch, m) CROSS JOIN LATERAL ("
    "SELECT 1 AS rank, article_id, comment_id, destination_id FROM message_links "
    "WHERE platform = k.p AND chat_id = k.ch AND message_id = k.m UNION ALL "
    "SELECT 2, article_id, id, NULL FROM comments WHERE source_platform = k.p "
    "AND source_chat_id = k.ch AND source_message_id = k.m ORDER BY 1 LIMIT 1) AS f), "
    "old AS (SELECT c.* FROM unnest($1::text[], $2::text[], $3::text[]) AS k(p, ch, m) "
    f"CROSS JOIN LATERAL (SELECT {rows.COMMENT} FROM comments WHERE source_platform = k.p "
    "AND source_chat_id = k.ch AND source_message_id = k.m LIMIT 1) AS c), "
    "art AS (SELECT a.id, a.published_at FROM (SELECT unnest($9::bigint[]) UNION "
    "SELECT article_id FROM link) AS k(id) CROSS JOIN LATERAL (SELECT id, published_at "
    "FROM articles WHERE id = k.id AND status = 'published' LIMIT 1) AS a), "
    "fresh AS (SELECT cardinality($1::text[]) - (SELECT count(*) FROM old) AS n) "
    "SELECT ARRAY(SELECT ROW(o.*) FROM old o), "
    "ARRAY(SELECT ROW(k.p, k.u) FROM unnest($4::text[], $5::text[]) AS k(p, u) "
    "WHERE EXISTS (SELECT 1 FROM bans WHERE platform = k.p AND user_id = k.u)), "
    "ARRAY(SELECT ROW(l.*) FROM link l), "
    "ARRAY(SELECT id FROM art), "
    "ARRAY(SELECT ROW(a.id, d.id, t.id, t.platform, t.chat_id, d.thread_id, t.active, "
    "d.state = 'sent' AND d.op != 'delete', d.updated_at) FROM art a CROSS JOIN LATERAL ("
    "SELECT id, destination_id, thread_id, state, op, updated_at FROM deliveries "
    "WHERE article_id = a.id AND comment_id IS NULL AND message_id IS NOT NULL) AS d "
    "CROSS JOIN LATERAL (SELECT id, platform, chat_id, active FROM destinations "
    "WHERE id = d.destination_id LIMIT 1) AS t ORDER BY d.id), "
    "ARRAY(SELECT ROW(a.id, (SELECT count(*) FROM deliveries WHERE article_id = a.id "
    "AND comment_id IS NULL)) FROM art a), "
    "ARRAY(SELECT ROW(l.platform, l.chat_id, l.message_id, l.article_id, l.destination_id) "
    "FROM art a CROSS JOIN LATERAL (SELECT platform, chat_id, message_id, article_id, "
    "destination_id FROM message_links WHERE article_id = a.id AND comment_id IS NULL "
    "AND destination_id IS NOT NULL) AS l ORDER BY l.platform, l.chat_id, l.message_id), "
    "ARRAY(SELECT ROW(c.*) FROM (SELECT unnest($10::bigint[]) UNION SELECT comment_id "
    "FROM link WHERE comment_id IS NOT NULL) AS k(id) CROSS JOIN LATERAL ("
    "SELECT id, article_id, COALESCE(root_id, id) FROM comments WHERE id = k.id LIMIT 1) AS c), "
    "ARRAY(SELECT ROW(a.id, (SELECT policy FROM story_policy WHERE article_id = a.id), "
    "a.published_at, (SELECT seconds FROM story_slow_mode WHERE article_id = a.id)) "
    "FROM art a), "
    "CASE WHEN n > 0 THEN setval(pg_get_serial_sequence('comments', 'id'), "
    "nextval(pg_get_serial_sequence('comments', 'id')) + n - 1) - n + 1 END FROM fresh"
)
# Then the plan, in one statement: the mirrors, the count refreshes and the notifications;
# with the new comments too (_WRITE_ALL) when they are few, else they go first by COPY.
_WRITE = (
    "ins AS (INSERT INTO deliveries (article_id, comment_id, destination_id, platform, "
    "op, state, due_at, created_at, updated_at) "
    "SELECT u.a, u.c, t.id, t.platform, 'post', 'pending', u.due, u.due, u.due "
    "FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::bigint[]) "
    "WITH ORDINALITY AS u(a, c, due, d, n) CROSS JOIN LATERAL (SELECT id, platform "
    "FROM destinations WHERE id = u.d AND active LIMIT 1) AS t "
    "ORDER BY u.n ON CONFLICT DO NOTHING RETURNING 1), "
    "upd AS (UPDATE deliveries d SET op = 'edit', state = 'pending', attempts = 0, "
    "due_at = u.due, generation = d.generation + 1, updated_at = u.at "
    "FROM unnest($5::bigint[], $6::timestamptz[], $7::timestamptz[]) AS u(id, due, at) "
    "WHERE d.id = u.id AND d.state = 'sent' AND d.op != 'delete' RETURNING 1), "
    # A count edit being sent carries the count read at its claim: sent again once done.
    "again AS (UPDATE deliveries SET generation = generation + 1 "
    "WHERE article_id = ANY($10::bigint[]) AND comment_id IS NULL AND state = 'sending' "
    "AND op = 'edit' RETURNING 1), "
    "queued AS (SELECT (SELECT count(*) FROM ins) + (SELECT count(*) FROM upd) AS n) "
    "SELECT n, ARRAY(SELECT pg_notify($8, topic)::text FROM unnest($9::text[] "
    "|| CASE WHEN n > 0 THEN ARRAY['outbox'] ELSE ARRAY[]::text[] END) AS topic) FROM queued"
)
_WRITE_ALL = (
    f"WITH new AS (INSERT INTO comments ({', '.join(rows.INGEST_COLUMNS)}) SELECT * FROM unnest("
    "$11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::text[], $16::text[], "
    "$17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], "
    f"$23::timestamptz[]) RETURNING 1), {_WRITE}"
)
_COPY_FROM = 200  # rows; below, one INSERT costs fewer round trips than COPY's two


async def _ingest(
    conn: Conn, items: Sequence[IncomingComment]
) -> list[tuple[Comment, bool] | None]:
    """Store a group-commit batch in a transaction that holds the comment writers' lock (so
    nothing looked up here changes under us): the intake's lookups in one statement, its
    decision (``newsbot.intake``), and the plan in one more (two with a COPY, for many).

    Round trips, not rows, are what a batch costs at the rates the service sees: each waits
    for the event loop, busy with the callers.
    """
    needs = intake.needs(items)
    row = await conn.fetchrow(
        _LOOKUP,
        *_columns(_keys(needs.sources), 3),
        *_columns(((str(p), u) for p, u in needs.authors), 2),
        *_columns(_keys(needs.replies), 3),
        sorted(needs.articles),
        sorted(needs.parents),
    )
    assert row is not None
    links = {}
    for r in row[2]:
        ref = MessageRef(rows.PLATFORMS[r[0]], r[1], r[2])
        links[ref] = MessageLink(ref, r[3], r[4], r[5])
    posts: dict[ArticleId, list[ArticlePost]] = {a: [] for a in row[3]}
    for r in row[4]:
        posts[r[0]].append(
            ArticlePost(r[1], r[2], rows.PLATFORMS[r[3]], r[4], r[5], r[6], r[7], r[8])
        )
    post_links: dict[ArticleId, list[MessageLink]] = {}
    for r in row[6]:
        link = MessageLink(MessageRef(rows.PLATFORMS[r[0]], r[1], r[2]), r[3], None, r[4])
        post_links.setdefault(link.article_id, []).append(link)
    stories = {
        r[0]: Story(None if r[1] is None else CommentPolicy(r[1]), r[2], r[3] or 0) for r in row[8]
    }
    plan = intake.decide(
        items,
        Lookups(
            next_id=row[9] or 0,
            stored={c.source: c for c in map(rows.comment, row[0])},
            banned={(r[0], r[1]) for r in row[1]},
            links=links,
            published=posts.keys(),
            posts=posts,
            post_links=post_links,
            post_counts={r[0]: r[1] for r in row[5]},
            parents={r[0]: Lineage(r[1], r[2]) for r in row[7]},
            stories=stories,
            # Two more round trips, only when the batch reaches a story in slow mode.
            slow=await slow_sql.lookups_arrays(
                conn.fetch, slowmode.slow_articles(stories), needs.authors
            ),
        ),
    )
    if plan.accepted:
        await _write_plan(conn, items, plan)
    return intake.results(items, plan.outcomes)


def _keys(refs: Iterable[MessageRef]) -> Iterable[tuple[str, str, str]]:
    return ((str(r.platform), r.chat_id, r.message_id) for r in refs)


async def _write_plan(conn: Conn, items: Sequence[IncomingComment], plan: Plan) -> None:
    records: list[tuple[Any, ...]] = []
    mirrors: list[tuple[int, int, datetime, int]] = []
    for new in plan.accepted:
        item = items[new.position]
        records.append(rows.ingested(item, new, item.created_at))
        mirrors += [(new.article_id, new.id, new.mirror_due, d) for d in new.mirror_to]
    refreshes = [
        (post.delivery_id, refresh.due(post), refresh.at)
        for refresh in plan.refreshes
        for post in refresh.posts
    ]
    args = [
        *_columns(mirrors, 4),
        *_columns(refreshes, 3),
        CHANNEL,
        sorted({f"article:{new.article_id}" for new in plan.accepted}),
        sorted({refresh.article_id for refresh in plan.refreshes}),
    ]
    if len(records) >= _COPY_FROM:
        await conn.copy_records_to_table("comments", records=records, columns=rows.INGEST_COLUMNS)
        await conn.fetchrow(f"WITH {_WRITE}", *args)
    else:
        await conn.fetchrow(_WRITE_ALL, *args, *_columns(records, 13))


def _columns(records: Iterable[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows turned into one list per column, for ``unnest``."""
    columns: list[list[Any]] = [[] for _ in range(width)]
    for row in records:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns
