"""The group-commit writer in its own process.

Storing a reply costs Python on both sides of the SQLite call: cleaning and queueing it on the
event loop, binding and batching it next to SQLite. In one process both halves hold the same
GIL, so they add up instead of overlapping, and a busy event loop starves a writer thread (it
waits for the GIL after every step). This module moves the SQLite half to a child process on
the other core: the parent sends each batch as plain tuples over a pipe, the child writes it in
one ``BEGIN IMMEDIATE`` transaction on its own connection and answers once it is committed.

The child is started on the first batch, restarted after it dies, and exits when its stdin
closes, so it never outlives the bot (even one killed with SIGKILL).

Frames are a 4-byte big-endian length and a pickle. Both ends are this code, over pipes no one
else holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import signal
import sqlite3
import sys
from functools import partial
from pathlib import Path
from typing import Any

from newsbot.errors import StorageError

log = logging.getLogger("newsbot.storage")

_CACHE_KIB = 16 * 1024
_ROOT = str(Path(__file__).resolve().parent.parent)
_CHILD = "import sys; sys.path.insert(0, sys.argv[1]); from storage.ingest import main; main()"


def _frame(value: object) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
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

    async def write(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """Store ``rows`` in one transaction; one outcome per row, once committed.

        Raises:
            StorageError: the transaction failed (nothing of it is stored), or the process
                stopped before answering (the batch may or may not be stored).
        """
        proc = await self._process()
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            proc.stdin.write(_frame(rows))
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
        return list(value)

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
    from storage.sqlite import _write, ingest_rows

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
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = source.read(4)
        if len(header) < 4:
            break
        rows = pickle.loads(source.read(int.from_bytes(header, "big")))
        answer: tuple[str, Any]
        try:
            answer = ("ok", _write(conn, partial(ingest_rows, wires=rows)))
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
    conn.close()
