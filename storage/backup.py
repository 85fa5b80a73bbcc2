"""Backing an SQLite database up while newsbot runs on it, with SQLite's online backup API.

Copying ``newsbot.db`` with ``cp`` while the bot writes can give a torn file, and misses what
still sits in ``newsbot.db-wal``. ``sqlite3.Connection.backup`` copies a consistent snapshot
page by page instead; a write by the bot between two steps restarts the copy from the first
page (on the same connection it would not, but the bot writes through its own), so steps are
large enough that a busy bot rarely makes it start over. The copy is written next to the
target and renamed into place only once ``PRAGMA integrity_check`` passed on it, so a
failed backup never replaces a good one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from newsbot.errors import StorageError

Progress = Callable[[int, int], None]
"""Called after each step with the pages copied so far and the database's pages in all."""

_PAGES_PER_STEP = 1024


async def backup_sqlite(
    source: str | Path, target: str | Path, progress: Progress | None = None
) -> int:
    """Copy the SQLite database ``source`` to the file ``target``; returns its size in bytes.

    Raises:
        StorageError: the source is missing or unreadable, the target's folder is not
            writable, or the copy fails its integrity check (the target is left as it was).
    """
    return await asyncio.to_thread(_backup, Path(source), Path(target), progress)


def _backup(source: Path, target: Path, progress: Progress | None) -> int:
    if not source.is_file():
        raise StorageError(f"no SQLite database at {source}")
    if target.resolve() == source.resolve():
        raise StorageError("the backup must go to another file than the database")
    partial = target.with_name(f".{target.name}.partial")
    try:
        # Read-only: a backup must never create or migrate the database it copies.
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            partial.unlink(missing_ok=True)
            dst = sqlite3.connect(partial)
            try:

                def step(_status: int, remaining: int, total: int) -> None:
                    if progress is not None:
                        progress(total - remaining, total)

                src.backup(dst, pages=_PAGES_PER_STEP, progress=step)
                row = dst.execute("PRAGMA integrity_check").fetchone()
                if row is None or row[0] != "ok":
                    raise StorageError(f"the copy of {source} failed its integrity check: {row}")
            finally:
                dst.close()
        finally:
            src.close()
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot back {source} up to {target}: {exc}") from exc
    except OSError as exc:
        raise StorageError(f"cannot write {target}: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return target.stat().st_size
