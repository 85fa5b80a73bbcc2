"""A story's slow mode on both SQL backends: its seconds beside the story's policy, and
what the core's rule (``newsbot.slowmode``) needs looked up: the people behind some authors
and their latest visible comments on the stories in slow mode.

The lookup statements are built here once, with PostgreSQL's ``$1`` placeholders (SQLite's
writer process numbers them its way), in chunks that stay under both servers' limits; the
ingest of each backend runs them in the transaction that writes its batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import storage.rows as rows
from newsbot import slowmode
from newsbot.models import ArticleId, DeliveryOp
from storage.units import CommonUnits, Tx, _reenqueue, _topics

Query = tuple[str, list[Any]]
# The story's own Discord posts: sent again as edits, which set their threads' slow mode.
_DISCORD_POSTS = "article_id = $1 AND comment_id IS NULL AND platform = 'discord'"
_CHUNK = 200  # accounts per statement: two placeholders each

_PEOPLE = (
    "SELECT platform, account_id, person_id FROM person_accounts WHERE person_id IN "
    "(SELECT person_id FROM person_accounts WHERE {})"
)
# From each author to their comments (the author index), not from the story's comments,
# which grow with it: CROSS JOIN keeps SQLite's loop in that order.
_LATEST = (
    "WITH k(p, u) AS (VALUES {1}) SELECT c.article_id, c.author_platform, c.author_user_id, "
    "max(c.created_at) FROM k CROSS JOIN comments c WHERE c.author_platform = k.p "
    "AND c.author_user_id = k.u AND c.status = 'visible' AND c.article_id IN ({0}) "
    "GROUP BY c.article_id, c.author_platform, c.author_user_id"
)


def _pairs(keys: Sequence[tuple[str, str]], first: int, a: str, b: str) -> str:
    return " OR ".join(
        f"({a} = ${first + 2 * n} AND {b} = ${first + 2 * n + 1})" for n in range(len(keys))
    )


def _values(keys: Sequence[tuple[str, str]], first: int) -> str:
    return ", ".join(f"(${first + 2 * n}, ${first + 2 * n + 1})" for n in range(len(keys)))


def _chunks(keys: Collection[tuple[str, str]]) -> Iterable[list[tuple[str, str]]]:
    ordered = sorted(keys)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def people_queries(authors: Iterable[tuple[str, str]]) -> list[Query]:
    """The statements that find every account of the people behind ``authors``."""
    return [
        (
            _PEOPLE.format(_pairs(chunk, 1, "platform", "account_id")),
            [v for pair in chunk for v in pair],
        )
        for chunk in _chunks(slowmode.accounts(authors))
    ]


def latest_queries(
    article_ids: Sequence[ArticleId],
    authors: Iterable[tuple[str, str]],
    people: Mapping[tuple[str, str], int],
) -> list[Query]:
    """The statements that find the latest visible comment, on each of ``article_ids``, of
    every author id of the readers behind ``authors`` (``people``: what ``people_queries``
    found, as ``lookups`` reads it)."""
    marks = ", ".join(f"${n + 1}" for n in range(len(article_ids)))
    first = len(article_ids) + 1
    wanted = slowmode.author_ids(authors, people)
    return [
        (
            _LATEST.format(marks, _values(chunk, first)),
            [*article_ids, *(v for pair in chunk for v in pair)],
        )
        for chunk in _chunks(wanted)
    ]


# PostgreSQL in one statement each, whatever the batch's size: the keys as arrays.
_PEOPLE_ARRAYS = (
    "SELECT platform, account_id, person_id FROM person_accounts WHERE person_id IN "
    "(SELECT pa.person_id FROM unnest($1::text[], $2::text[]) AS k(p, u) "
    "JOIN person_accounts pa ON pa.platform = k.p AND pa.account_id = k.u)"
)
# LATERAL: each author's comments through the author index (a join may instead read the
# story's comments, which grow with it).
_LATEST_ARRAYS = (
    "SELECT l.article_id, k.p, k.u, l.at FROM unnest($2::text[], $3::text[]) AS k(p, u) "
    "CROSS JOIN LATERAL (SELECT c.article_id, max(c.created_at) AS at FROM comments c "
    "WHERE c.author_platform = k.p AND c.author_user_id = k.u AND c.status = 'visible' "
    "AND c.article_id = ANY($1::bigint[]) GROUP BY c.article_id) AS l"
)


def _columns(keys: Iterable[tuple[str, str]]) -> list[list[str]]:
    ordered = sorted(keys)
    return [[k[0] for k in ordered], [k[1] for k in ordered]]


async def lookups_arrays(
    fetch: Callable[..., Awaitable[list[Any]]],
    article_ids: Sequence[ArticleId],
    authors: Collection[tuple[str, str]],
) -> slowmode.Lookups:
    """``lookups`` on PostgreSQL in two statements, the keys bound as arrays."""
    if not article_ids or not authors:
        return slowmode.Lookups()
    people = people_of(await fetch(_PEOPLE_ARRAYS, *_columns(slowmode.accounts(authors))))
    wanted = slowmode.author_ids(authors, people)
    latest = latest_of(await fetch(_LATEST_ARRAYS, list(article_ids), *_columns(wanted)))
    return slowmode.Lookups(people, latest)


def people_of(found: Iterable[Sequence[Any]]) -> dict[tuple[str, str], int]:
    """The rows of ``people_queries`` as ``slowmode.Lookups.people``."""
    return {(str(r[0]), str(r[1])): int(r[2]) for r in found}


def latest_of(found: Iterable[Sequence[Any]]) -> dict[tuple[int, str, str], datetime]:
    """The rows of ``latest_queries`` as ``slowmode.Lookups.latest``."""
    return {(int(r[0]), str(r[1]), str(r[2])): rows.at(r[3]) for r in found}


async def lookups(
    run: Callable[..., Awaitable[list[Any]]],
    article_ids: Sequence[ArticleId],
    authors: Collection[tuple[str, str]],
) -> slowmode.Lookups:
    """What slow mode needs for ``authors`` on ``article_ids``; ``run(sql, *args)`` gives
    the rows of a statement (a transaction's, or the reading connection's)."""
    if not article_ids or not authors:
        return slowmode.Lookups()
    people = people_of([r for sql, args in people_queries(authors) for r in await run(sql, *args)])
    latest = latest_of(
        [
            r
            for sql, args in latest_queries(article_ids, authors, people)
            for r in await run(sql, *args)
        ]
    )
    return slowmode.Lookups(people, latest)


class SqlSlowMode(CommonUnits):
    """A story's slow mode on a SQL backend (``DeskStore``'s slow-mode methods)."""

    async def set_slow_mode(self, article_id: ArticleId, seconds: int, now: datetime) -> int:
        async def body(tx: Tx) -> int:
            if seconds <= 0:
                await tx.run("DELETE FROM story_slow_mode WHERE article_id = $1", article_id)
            else:
                await tx.run(
                    "INSERT INTO story_slow_mode (article_id, seconds, set_at) "
                    "VALUES ($1, $2, $3) ON CONFLICT (article_id) DO UPDATE SET "
                    "seconds = excluded.seconds, set_at = excluded.set_at",
                    article_id,
                    seconds,
                    now,
                )
            queued = await _reenqueue(tx, _DISCORD_POSTS, article_id, DeliveryOp.EDIT, now)
            # An edit waiting for its pace (a count refresh) goes now: it carries the change.
            queued += await tx.run(
                f"UPDATE deliveries SET due_at = $2 WHERE {_DISCORD_POSTS} AND op = 'edit' "
                "AND state IN ('pending', 'failed') AND due_at > $2",
                article_id,
                now,
            )
            await tx.notify(_topics(article_id, queued))
            return queued

        return await self._atomic(body)

    async def get_slow_mode(self, article_id: ArticleId) -> int:
        row = await self._row(
            "SELECT seconds FROM story_slow_mode WHERE article_id = $1", article_id
        )
        return 0 if row is None else int(row[0])

    async def slow_lookups(
        self, article_id: ArticleId, authors: Collection[tuple[str, str]]
    ) -> slowmode.Lookups:
        return await lookups(self._rows, [article_id], authors)
