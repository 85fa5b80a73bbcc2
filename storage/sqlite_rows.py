"""What the SQLite store and its ingest process share: row mapping and small helpers.

Both run the same SQL on the same schema, in two processes (``storage.sqlite`` on the event
loop's side, ``storage.ingest`` in the child), and import these from here rather than from
each other.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from newsbot.models import Author, Comment, CommentStatus, MessageLink, MessageRef, Platform

T = TypeVar("T")
Conn = sqlite3.Connection

_COMMENT = (
    "id, article_id, parent_id, author_name, author_platform, author_user_id, text, "
    "source_platform, source_chat_id, source_message_id, status, created_at, edited_at, "
    "deleted_at"
)
_SQL_VARIABLES = 500


def _ts(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


# Enum lookups by value through a dict: a page builds ~70 comments, and Enum(value) costs
# more than the rest of a row together.
_PLATFORMS = {str(p): p for p in Platform}
_STATUSES = {str(s): s for s in CommentStatus}


def _comment(row: Sequence[Any]) -> Comment:
    edited, deleted = row[12], row[13]
    return Comment(
        row[0],
        row[1],
        row[2],
        Author(row[3], _PLATFORMS[row[4]], row[5]),
        row[6],
        MessageRef(_PLATFORMS[row[7]], row[8], row[9]),
        _STATUSES[row[10]],
        datetime.fromisoformat(row[11]),
        None if edited is None else datetime.fromisoformat(edited),
        None if deleted is None else datetime.fromisoformat(deleted),
    )


def _chunks(items: Sequence[Any], size: int = _SQL_VARIABLES) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _select_in(conn: Conn, sql: str, ids: Sequence[Any]) -> list[Any]:
    """Run ``sql`` (with one ``{}`` for the placeholders) over ``ids`` in chunks."""
    rows: list[Any] = []
    for chunk in _chunks(ids):
        rows += conn.execute(sql.format(_marks(len(chunk))), tuple(chunk)).fetchall()
    return rows


def _write(conn: Conn, body: Callable[[Conn], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = body(conn)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return result


def _post_links(conn: Conn, article_ids: Sequence[int]) -> list[MessageLink]:
    """The links of the articles' own posts in their destinations (copies in discussion
    groups among them), ordered by message key."""
    rows = _select_in(
        conn,
        "SELECT platform, chat_id, message_id, article_id, destination_id FROM message_links "
        "WHERE comment_id IS NULL AND destination_id IS NOT NULL AND article_id IN ({})",
        article_ids,
    )
    rows.sort()
    return [MessageLink(MessageRef(_PLATFORMS[r[0]], r[1], r[2]), r[3], None, r[4]) for r in rows]
