"""The database files are the operator's alone: comments, bans and tokens' offsets live there."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsbot.errors import StorageError
from storage import SqliteStore
from tests.storage.test_store_contract import article, dest


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


@pytest.mark.usefixtures("open_umask")
@pytest.mark.parametrize("suffix", ["-shm", "-wal"])
async def test_a_link_beside_the_database_is_never_followed(tmp_path: Path, suffix: str) -> None:
    """Someone who can write to the database's folder plants ``news.db-shm -> victim``: the
    victim keeps its mode and its bytes, and the store refuses to open with the reason."""
    path = tmp_path / "news.db"
    async with SqliteStore(path) as store:
        await write_something(store)
    for name in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)
    victim = tmp_path / "victim"
    victim.write_bytes(b"someone else's file")
    victim.chmod(0o644)
    path.chmod(0o644)  # an existing readable database, which would be tightened
    Path(f"{path}{suffix}").symlink_to(victim)
    with pytest.raises(StorageError) as refused:
        async with SqliteStore(path):
            pass
    assert mode(victim) == 0o644
    assert victim.read_bytes() == b"someone else's file"
    assert f"news.db{suffix} is a symbolic link" in str(refused.value)
    # Once the link is gone the database opens, and is made private as before.
    Path(f"{path}{suffix}").unlink()
    async with SqliteStore(path) as store:
        await write_something(store)
    assert mode(path) == 0o600


@pytest.mark.usefixtures("open_umask")
async def test_a_database_path_that_is_a_link_is_used_but_not_followed_for_modes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite follows a link as the database path (the operator's choice); newsbot changes
    no mode through it and says so."""
    elsewhere = tmp_path / "data"
    elsewhere.mkdir()
    real = elsewhere / "news.db"
    async with SqliteStore(real) as store:
        await write_something(store)
    real.chmod(0o644)
    link = tmp_path / "news.db"
    link.symlink_to(real)
    with caplog.at_level(logging.WARNING, logger="newsbot.storage"):
        async with SqliteStore(link) as store:
            await write_something(store)
    assert mode(real) == 0o644
    assert any("symbolic link" in r.getMessage() for r in caplog.records)
