"""The database files are the operator's alone: comments, bans and tokens' offsets live there."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import SqliteStore
from tests.test_store_contract import article, dest


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would leave new files readable by everyone (a common default)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def write_something(store: SqliteStore) -> None:
    await article(store, await dest(store, "-100"))


@pytest.mark.usefixtures("open_umask")
async def test_a_new_database_and_its_wal_and_shm_are_private(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    async with SqliteStore(path) as store:
        await write_something(store)
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(f.exists() for f in files), "WAL mode keeps a -wal and a -shm file open"
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


@pytest.mark.usefixtures("open_umask")
async def test_an_existing_readable_database_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    async with SqliteStore(path) as store:
        await write_something(store)
    path.chmod(0o644)
    async with SqliteStore(path) as store:
        assert mode(path) == 0o600
        await write_something(store)
        assert mode(Path(f"{path}-wal")) == 0o600
