"""The group-commit writer in its own process.

Storing a reply costs Python on both sides of the SQLite call: cleaning and queueing it on the
event loop, binding and batching it next to SQLite. In one process both halves hold the same
GIL, so they add up instead of overlapping, and a busy event loop starves a writer thread (it
waits for the GIL after every step). This module moves the SQLite half to a child process on
the other core: the parent sends each batch over a pipe (as the core's ``intake.Arrival``
values), the child writes it in one ``BEGIN IMMEDIATE`` transaction on its own connection and
answers what became of each comment once it is committed. There, ``write_batch`` looks up what
the core's intake needs (``newsbot.intake``), lets it decide, and writes the plan set-wise.

The child is started on the first batch, restarted after it dies, and exits when its stdin
closes, so it never outlives the bot (even one killed with SIGKILL).

Frames are a 4-byte big-endian length and a pickle. A batch crosses as the plain tuples of
``intake.arrival_values``, made ``Arrival`` values by ``tuple.__new__`` in C (rebuilding
``IncomingComment`` values, four frozen dataclasses each set field by field, cost the child a
fifth of its time), and the answer as columns (``intake.Answer``: lists of numbers, not an
``Accepted`` per comment). The rarer answers (a comment stored before) are frozen
dataclasses, each reduced to its fields in order (the dataclass default costs nearly three
times as much). Both ends are this code, over pipes no one else holds. What each costs in
instructions is measured by ``bench.replay_ingest``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copyreg
import dataclasses
import gc
import io
import logging
import pickle
import signal
import sqlite3
import sys
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from functools import partial
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any

import storage.rows as rows
import storage.slowmode as slow_sql
from newsbot import intake, slowmode
from newsbot.errors import StorageError
from newsbot.intake import (
    Arrival,
    ArticlePost,
    Known,
    Lineage,
    Lookups,
    MessageKey,
    Outcome,
    Plan,
    Repeat,
)
from newsbot.models import (
    ArticleId,
    Author,
    Comment,
    CommentId,
    CountRefresh,
    DeliveryId,
    DestinationId,
    IncomingComment,
    MessageLink,
    MessageRef,
)
from newsbot.policy import CommentPolicy, Story
from storage.sqlite.connection import (
    _SQL_VARIABLES,
    Conn,
    _chunks,
    _numbered,
    _post_links,
    _select_in,
    _ts,
    _write,
)

log = logging.getLogger("newsbot.storage")

_CACHE_KIB = 16 * 1024
_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); from storage.sqlite.ingest import main; main()"
)


def _fields(cls: type[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """A pickle reducer: rebuild an instance of dataclass ``cls`` from its fields in order."""
    names = [f.name for f in dataclasses.fields(cls)]
    if len(names) == 1:
        get_one = attrgetter(names[0])
        return lambda obj: (cls, (get_one(obj),))
    get = attrgetter(*names)
    return lambda obj: (cls, get(obj))


def _named(value: tuple[Any, ...]) -> tuple[Any, ...]:
    """A pickle reducer for a named tuple: ``tuple.__new__`` rebuilds it in C."""
    return tuple.__new__, (type(value), tuple(value))


_REDUCERS: dict[type[Any], Callable[[Any], Any]] = {
    **copyreg.dispatch_table,
    **{cls: _fields(cls) for cls in (MessageRef, Author, CountRefresh, Comment, Known, Repeat)},
    intake.Answer: _named,
}
# A batch's plain tuples (``intake.arrival_values``) as ``Arrival`` values, in C.
_ARRIVAL = partial(tuple.__new__, Arrival)


def _frame(value: object) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _REDUCERS
    pickler.dump(value)
    data = buffer.getvalue()
    return len(data).to_bytes(4, "big") + data


class IngestProcess:
    """The parent's handle on the writer process."""

    def __init__(self, path: Path, synchronous: str, busy_timeout_ms: int) -> None:
        self.path = path
        self.synchronous = synchronous
        self.busy_timeout_ms = busy_timeout_ms
        self._proc: asyncio.subprocess.Process | None = None

    async def _process(self) -> asyncio.subprocess.Process:
        if self._proc is None or self._proc.returncode is not None:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _CHILD,
                _ROOT,
                str(self.path),
                self.synchronous,
                str(self.busy_timeout_ms),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            log.info("ingest writer started", extra={"pid": self._proc.pid})
        return self._proc

    @staticmethod
    def encode(batch: Sequence[IncomingComment]) -> bytes:
        """``batch`` as a frame for ``write`` (done before taking a lock, as it costs a few
        milliseconds for a big batch)."""
        return _frame([intake.arrival_values(item) for item in batch])

    async def write(self, frame: bytes) -> intake.Answer:
        """Store the batch ``frame`` encodes in one transaction; what became of each comment,
        once committed.

        Raises:
            StorageError: the transaction failed (nothing of it is stored), or the process
                stopped before answering (the batch may or may not be stored).
        """
        proc = await self._process()
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            proc.stdin.write(frame)
            await proc.stdin.drain()
            size = int.from_bytes(await proc.stdout.readexactly(4), "big")
            kind, value = pickle.loads(await proc.stdout.readexactly(size))
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            await self.stop()
            raise StorageError(
                f"the database writer process for {self.path} stopped "
                f"(exit code {proc.returncode}): {exc!r}"
            ) from exc
        except BaseException:
            # Cancelled between request and answer: the pipe is out of step; start afresh.
            await self.stop(kill=True)
            raise
        if kind == "error":
            raise StorageError(value)
        answer: intake.Answer = value
        return answer

    async def stop(self, *, kill: bool = False) -> None:
        """Let the process finish its batch and exit (or kill it), and wait for it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            elif proc.stdin is not None:
                proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


def main() -> None:
    """The child: read batches from stdin, write each in one transaction, answer on stdout."""
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when we stop,
    # by closing our stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    path, synchronous, busy_timeout_ms = sys.argv[2], sys.argv[3], int(sys.argv[4])
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    # The indexes a batch touches outgrow SQLite's default 2 MB cache after a few hundred
    # thousand comments, and re-reading their pages at every batch cost a fifth of the rate.
    # 16 MB keeps most of the gain of 64 MB (the process stays near 48 MB resident, not 109).
    conn.execute(f"PRAGMA cache_size = {-_CACHE_KIB}")
    # What a batch allocates is freed when it is answered, in cycles never: the cyclic
    # collector only costs here (6,000 instructions a comment), so it is off during a batch,
    # and what was imported is left out of its older generations.
    gc.freeze()
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = source.read(4)
        if len(header) < 4:
            break
        gc.disable()
        batch = list(map(_ARRIVAL, pickle.loads(source.read(int.from_bytes(header, "big")))))
        answer: tuple[str, Any]
        try:
            answer = ("ok", intake.answer(_write(conn, partial(write_batch, batch=batch))))
        except sqlite3.Error as exc:
            answer = ("error", f"database error on {path}: {exc}")
        except UnicodeEncodeError as exc:
            answer = ("error", f"text that is not valid Unicode cannot be stored: {exc}")
        except Exception as exc:  # an answer for every batch, or the parent waits forever
            answer = ("error", f"the database writer failed: {exc!r}")
        try:
            sink.write(_frame(answer))
            sink.flush()
        except BrokenPipeError:
            break
        finally:
            del batch, answer
            gc.enable()
    conn.close()


# -- one batch, in the child -----------------------------------------------------------------


def write_batch(conn: Conn, batch: Sequence[Arrival]) -> list[Outcome]:
    """Store a group-commit batch: look up what the intake needs, let it decide, and write its
    plan with a few set-wise statements.

    Runs inside one write transaction: nothing changes under us meanwhile. A burst of replies
    mostly answers a few messages by a few authors about a few articles: each is looked up
    once per batch.
    """
    needs = intake.needs(batch)
    stored = _stored(conn, needs.source_keys)
    links = _links(conn, needs.reply_keys)
    article_ids, parent_ids = needs.then(links.values())
    published = {
        ArticleId(r[0])
        for r in _select_in(
            conn,
            "SELECT id FROM articles WHERE status = 'published' AND id IN ({})",
            sorted(article_ids),
        )
    }
    posts: dict[ArticleId, list[ArticlePost]] = {}
    counts: dict[ArticleId, int] = {}
    for article_id in published:
        posts[article_id] = [
            ArticlePost(
                DeliveryId(r[0]),
                DestinationId(r[1]),
                rows.PLATFORMS[r[2]],
                r[3],
                r[4],
                bool(r[5]),
                bool(r[6]),
                datetime.fromisoformat(r[7]),
            )
            for r in conn.execute(_POSTS, (article_id,)).fetchall()
        ]
        counts[article_id] = conn.execute(_POST_COUNT, (article_id,)).fetchone()[0]
    post_links: dict[ArticleId, list[MessageLink]] = {}
    for link in _post_links(conn, sorted(published)):
        post_links.setdefault(link.article_id, []).append(link)
    stories = {
        ArticleId(r[0]): Story(
            None if r[1] is None else CommentPolicy(r[1]), rows.maybe_at(r[2]), r[3] or 0
        )
        for r in _select_in(conn, _STORIES, sorted(published))
    }
    lookups = Lookups(
        next_id=int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM comments").fetchone()[0]),
        stored=stored,
        banned=_banned(conn, needs.authors),
        links=links,
        published=published,
        posts=posts,
        post_links=post_links,
        post_counts=counts,
        parents={
            CommentId(r[0]): Lineage(ArticleId(r[1]), CommentId(r[2]))
            for r in _select_in(
                conn,
                "SELECT id, article_id, COALESCE(root_id, id) FROM comments WHERE id IN ({})",
                sorted(parent_ids),
            )
        },
        stories=stories,
        slow=_slow(conn, slowmode.slow_articles(stories), needs.authors),
    )
    plan = intake.decide(batch, lookups)
    _write_plan(conn, batch, plan)
    return plan.outcomes


# The article's own posts that went out, with what the intake needs of each.
_POSTS = (
    "SELECT d.id, t.id, t.platform, t.chat_id, d.thread_id, t.active, "
    "d.state = 'sent' AND d.op != 'delete', d.updated_at FROM deliveries d "
    "JOIN destinations t ON t.id = d.destination_id WHERE d.article_id = ? "
    "AND d.comment_id IS NULL AND d.message_id IS NOT NULL ORDER BY d.id"
)
_STORIES = (
    "SELECT a.id, p.policy, a.published_at, s.seconds FROM articles a "
    "LEFT JOIN story_policy p ON p.article_id = a.id "
    "LEFT JOIN story_slow_mode s ON s.article_id = a.id WHERE a.id IN ({})"
)


def _slow(
    conn: Conn, article_ids: Sequence[ArticleId], authors: Collection[tuple[str, str]]
) -> slowmode.Lookups:
    """What slow mode needs (``storage.slowmode``), for the articles in slow mode only."""
    if not article_ids or not authors:
        return slowmode.Lookups()

    def run(queries: list[tuple[str, list[Any]]]) -> list[Any]:
        return [r for sql, args in queries for r in conn.execute(_numbered(sql), args)]

    people = slow_sql.people_of(run(slow_sql.people_queries(authors)))
    latest = slow_sql.latest_of(run(slow_sql.latest_queries(article_ids, authors, people)))
    return slowmode.Lookups(people, latest)


_POST_COUNT = "SELECT COUNT(*) FROM deliveries WHERE article_id = ? AND comment_id IS NULL"
_SOURCE_MATCH = "(source_platform = ? AND source_chat_id = ? AND source_message_id = ?)"
_LINK_MATCH = "(platform = ? AND chat_id = ? AND message_id = ?)"


def _by_keys(
    conn: Conn, sql: str, match: str, keys: Collection[tuple[str, ...]]
) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (ending in ``WHERE``) matching any of ``keys``, ``match`` per key."""
    found: list[tuple[Any, ...]] = []
    width = len(match.split("?")) - 1
    for chunk in _chunks(list(keys), _SQL_VARIABLES // width):
        where = " OR ".join([match] * len(chunk))
        # str(): a Platform is bound as text too, but through sqlite3's slow adapter lookup.
        params = list(map(str, chain.from_iterable(chunk)))
        found += conn.execute(f"{sql} {where}", params).fetchall()
    return found


def _stored(conn: Conn, sources: Collection[MessageKey]) -> dict[MessageRef, Comment]:
    """The comments stored before, written as these source messages."""
    found = _by_keys(conn, f"SELECT {rows.COMMENT} FROM comments WHERE", _SOURCE_MATCH, sources)
    comments = map(rows.comment, found)
    return {c.source: c for c in comments}


def _links(conn: Conn, replies: Collection[MessageKey]) -> dict[MessageRef, MessageLink]:
    """What each message replied to is: a message the bot posted, else a stored comment."""
    found: dict[MessageRef, MessageLink] = {}
    for r in _by_keys(
        conn,
        "SELECT platform, chat_id, message_id, article_id, comment_id, destination_id "
        "FROM message_links WHERE",
        _LINK_MATCH,
        replies,
    ):
        ref = MessageRef(rows.PLATFORMS[r[0]], r[1], r[2])
        found[ref] = MessageLink(ref, ArticleId(r[3]), r[4], r[5])
    known = {(r.platform, r.chat_id, r.message_id) for r in found}
    for r in _by_keys(
        conn,
        "SELECT source_platform, source_chat_id, source_message_id, article_id, id "
        "FROM comments WHERE",
        _SOURCE_MATCH,
        [key for key in replies if key not in known],
    ):
        ref = MessageRef(rows.PLATFORMS[r[0]], r[1], r[2])
        found[ref] = MessageLink(ref, ArticleId(r[3]), CommentId(r[4]))
    return found


def _banned(conn: Conn, authors: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
    found = _by_keys(
        conn, "SELECT platform, user_id FROM bans WHERE", "(platform = ? AND user_id = ?)", authors
    )
    return {(r[0], r[1]) for r in found}


def _write_plan(conn: Conn, batch: Sequence[Arrival], plan: Plan) -> None:
    """Write ``plan``'s rows, compiled without CHECK constraints.

    A CHECK of a column against more than two constants (``comments.status``,
    ``deliveries.op`` and ``state``) costs SQLite a temporary b-tree for every row written
    (an IN list coded as an ephemeral table, in a CHECK once per row): about 28,000
    instructions a comment, a fifth of the writer. Every checked value written here is one of
    this module's constants ("visible" or "hidden" by ``rows.arrived``, "post", "edit",
    "pending" in the SQL), so these statements alone are compiled without them.
    """
    if not plan.accepted:
        return
    conn.execute("PRAGMA ignore_check_constraints = ON")
    try:
        _write_rows(conn, batch, plan)
    finally:
        conn.execute("PRAGMA ignore_check_constraints = OFF")


def _write_rows(conn: Conn, batch: Sequence[Arrival], plan: Plan) -> None:
    records = []
    deliveries = []
    for new in plan.accepted:
        item = batch[new.position]
        records.append(rows.arrived(item, new, _ts(item.created_at)))
        if new.mirror_to:
            due = _ts(new.mirror_due)
            deliveries += [(new.article_id, new.id, due, due, due, d) for d in new.mirror_to]
    conn.executemany(
        f"INSERT INTO comments ({', '.join(rows.INGEST_COLUMNS)}) "
        "VALUES (?,?,NULLIF(?,0),NULLIF(?,0),?,?,?,?,?,?,?,?,?)",
        records,
    )
    if deliveries:
        conn.executemany(
            "INSERT OR IGNORE INTO deliveries (article_id, comment_id, destination_id, platform, "
            "op, state, due_at, created_at, updated_at) SELECT ?, ?, id, platform, 'post', "
            "'pending', ?, ?, ? FROM destinations WHERE id = ? AND active = 1",
            deliveries,
        )
    for refresh in plan.refreshes:
        stamp = _ts(refresh.at)
        conn.executemany(
            "UPDATE deliveries SET op = 'edit', state = 'pending', due_at = ?, attempts = 0, "
            "generation = generation + 1, updated_at = ? WHERE id = ? AND state = 'sent'",
            [(_ts(refresh.due(post)), stamp, post.delivery_id) for post in refresh.posts],
        )
    # A count edit being sent carries the count read at its claim: sent again once done.
    conn.executemany(
        "UPDATE deliveries SET generation = generation + 1 WHERE article_id = ? "
        "AND comment_id IS NULL AND state = 'sending' AND op = 'edit'",
        [(refresh.article_id,) for refresh in plan.refreshes],
    )
