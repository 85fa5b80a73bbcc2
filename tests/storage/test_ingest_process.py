"""The group-commit writer process (``storage.sqlite.ingest``) on real SQLite files: it survives its
own death, never outlives the bot, and resolves replies to messages in the same batch."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsbot import Author, MessageRef, Platform, intake
from newsbot.errors import StorageError
from newsbot.models import IncomingComment
from storage import SqliteStore
from storage.sqlite.connection import _write
from storage.sqlite.ingest import write_batch
from tests.fakes.wait import wait_for
from tests.storage.test_store_contract import posted_article

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def reply(message: str, to: MessageRef) -> IncomingComment:
    return IncomingComment(
        source=MessageRef(Platform.TELEGRAM, "-100", message),
        author=Author("Rita", Platform.TELEGRAM, "7"),
        text=f"reply {message}",
        created_at=T0,
        reply_to=to,
        mirror=False,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): it has exited but was not reaped yet.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"


def writer_pid(store: SqliteStore) -> int:
    proc = store._ingester._proc  # the handle is private; nothing else names the process
    assert proc is not None, "no writer process is running"
    return proc.pid


async def test_a_reply_to_a_message_in_the_same_batch_finds_its_parent(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "n.db") as store:
        _, refs = await posted_article(store, "-100")
        first = reply("1", refs["-100"])
        second = reply("2", first.source)
        third = reply("3", second.source)
        # Queued in one go, they are written by one batch in this order.
        results = await asyncio.gather(*(store.ingest_comment(c) for c in (first, second, third)))
        stored = [r[0] for r in results if r is not None]
        assert len(stored) == 3, results
        assert stored[1].parent_id == stored[0].id
        assert stored[2].parent_id == stored[1].id
        roots, replies, count = await store.thread_page(
            stored[0].article_id, 10, None, newest_first=False
        )
        assert [c.id for c in roots] == [stored[0].id]
        assert [c.id for c in replies] == [stored[1].id, stored[2].id]
        assert count == 3


async def test_a_batch_leaves_the_status_check_enforced_on_the_writers_connection(
    tmp_path: Path,
) -> None:
    # The batch's insert is compiled without CHECK constraints (it writes only "visible" or
    # "hidden"); nothing after it may be.
    async with SqliteStore(tmp_path / "n.db") as store:
        _, refs = await posted_article(store, "-100")
    conn = sqlite3.connect(tmp_path / "n.db", isolation_level=None)
    try:
        outcomes = _write(
            conn, lambda c: write_batch(c, [intake.arrival(reply("1", refs["-100"]))])
        )
        assert isinstance(outcomes[0], intake.Accepted), outcomes
        assert conn.execute("SELECT status FROM comments").fetchall() == [("visible",)]
        assert conn.execute("PRAGMA ignore_check_constraints").fetchone() == (0,)
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("UPDATE comments SET status = 'bogus'")
    finally:
        conn.close()


async def test_a_writer_killed_mid_batch_fails_the_batch_and_is_restarted(
    tmp_path: Path,
) -> None:
    async with SqliteStore(tmp_path / "k.db") as store:
        article_id, refs = await posted_article(store, "-100")
        assert await store.ingest_comment(reply("1", refs["-100"])) is not None
        pid = writer_pid(store)
        os.kill(pid, signal.SIGSTOP)  # holds the next batch in flight
        pending = asyncio.ensure_future(store.ingest_comment(reply("2", refs["-100"])))
        await wait_for(lambda: not store._incoming, what="the batch to be taken")
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(StorageError, match="writer process"):
            await pending
        # The next batch starts a new writer; the refused reply can be sent again.
        again = await store.ingest_comment(reply("2", refs["-100"]))
        assert again is not None
        assert again[1]
        assert writer_pid(store) != pid
        assert await store.count_comments(article_id) == 2


async def test_a_writer_that_died_idle_is_replaced_unnoticed(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "i.db") as store:
        article_id, refs = await posted_article(store, "-100")
        assert await store.ingest_comment(reply("1", refs["-100"])) is not None
        pid = writer_pid(store)
        os.kill(pid, signal.SIGKILL)
        await wait_for(lambda: not alive(pid), timeout=10, what="the writer to exit")
        await wait_for(
            lambda: store._ingester._proc.returncode is not None,  # type: ignore[union-attr]  # the writer was started
            what="the reaping",
        )
        assert await store.ingest_comment(reply("2", refs["-100"])) is not None
        assert writer_pid(store) != pid
        assert await store.count_comments(article_id) == 2


async def test_close_stops_the_writer(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    await store.open()
    _, refs = await posted_article(store, "-100")
    assert await store.ingest_comment(reply("1", refs["-100"])) is not None
    pid = writer_pid(store)
    await store.close()
    assert not alive(pid)


def test_the_writer_does_not_outlive_a_killed_bot(tmp_path: Path) -> None:
    """SIGKILL gives the bot no chance to stop its writer: the writer sees its stdin close."""
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from storage import SqliteStore
        from tests.storage.test_ingest_process import reply
        from tests.storage.test_store_contract import posted_article

        async def main():
            store = SqliteStore({str(tmp_path / "b.db")!r})
            await store.open()
            _, refs = await posted_article(store, "-100")
            await store.ingest_comment(reply("1", refs["-100"]))
            print(store._ingester._proc.pid, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    pid = int(done.stdout.split()[0])
    asyncio.run(wait_for(lambda: not alive(pid), timeout=10, what="the writer to exit"))
