"""What an operator meets around the commands: --version, help with examples, JSON errors,
the example settings file, and backups taken while the bot writes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
from pathlib import Path

import pytest

from adapters.cli import build_parser
from adapters.cli.envfile import render
from adapters.cli.parser import EXAMPLES
from bot import Settings
from newsbot import Actor, ArticleDraft, NewsService
from newsbot.errors import StorageError
from newsbot.version import __version__
from storage import SqliteStore
from storage.backup import backup_sqlite
from tests.adapters.cli.test_cli import cli

ROOT = Path(__file__).resolve().parents[3]


def test_version_is_the_packages(tmp_path: Path) -> None:
    done = cli(tmp_path, "--version")
    assert done.stdout.strip() == f"newsbot {__version__}"
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {__version__}" in text, "CHANGELOG.md has a section for the current version"


def _commands(
    parser: argparse.ArgumentParser, path: str = ""
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((f"{path} {name}".strip(), sub))
                found.extend(_commands(sub, f"{path} {name}"))
    return found


def test_every_command_and_option_has_help_and_an_example() -> None:
    commands = _commands(build_parser())
    assert len(commands) >= 20
    assert set(EXAMPLES) == {name for name, _ in commands}
    for name, parser in commands:
        assert parser.epilog and parser.epilog.startswith("example: newsbot "), name
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{name}: {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize(
    ("args", "kind", "message"),
    [
        (["article", "999", "--json"], "not_found", "no article 999"),
        (["subscribe", "telegram", "alice", "--json"], "invalid_input", "Telegram chat id"),
        (["copy-database", "x.db", "mysql://h/db", "--json"], "error", "postgresql://"),
    ],
)
def test_errors_are_json_with_json(
    tmp_path: Path, args: list[str], kind: str, message: str
) -> None:
    done = cli(tmp_path, *args, ok=False)
    assert done.returncode == 1
    error = json.loads(done.stderr.splitlines()[0])["error"]
    assert error["kind"] == kind and message in error["message"], error
    assert done.stdout == ""


def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("NEWSBOT_"):
            monkeypatch.delenv(name)


def test_env_example_lists_every_setting_with_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert text == render(Settings), "regenerate it: python bot.py env-example > .env.example"
    names = {line.split("=", 1)[0] for line in text.splitlines() if line[:1].isalpha()}
    assert names == {f"NEWSBOT_{field.upper()}" for field in Settings.model_fields}
    # Read back as a .env file, every value is the default it claims to be.
    _clean_environment(monkeypatch)
    assert Settings(_env_file=ROOT / ".env.example") == Settings(_env_file=None)


async def _article(path: Path, title: str) -> None:
    async with SqliteStore(path) as store:
        await NewsService(store).publish(Actor.operator(), ArticleDraft(title=title, body="b"))


async def test_backup_is_a_consistent_copy_taken_while_the_bot_writes(tmp_path: Path) -> None:
    db, copy = tmp_path / "live.db", tmp_path / "backups" / "copy.db"
    copy.parent.mkdir()
    async with SqliteStore(db) as store:
        service = NewsService(store)
        for i in range(30):
            await service.publish(
                Actor.operator(), ArticleDraft(title=f"before {i}", body="x" * 2000)
            )
        writing = asyncio.Event()

        async def keep_writing() -> None:
            n = 0
            while True:
                await service.publish(
                    Actor.operator(), ArticleDraft(title=f"during {n}", body="y")
                )
                n += 1
                writing.set()

        writer = asyncio.create_task(keep_writing())
        await asyncio.wait_for(writing.wait(), 30)
        steps: list[tuple[int, int]] = []
        size = await backup_sqlite(db, copy, lambda done, total: steps.append((done, total)))
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer
    assert size == copy.stat().st_size and steps and steps[-1][0] == steps[-1][1]
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        titles = {r[0] for r in conn.execute("SELECT title FROM articles")}
    finally:
        conn.close()
    assert {f"before {i}" for i in range(30)} <= titles
    assert not list(copy.parent.glob(".*partial")), "no partial file is left behind"


async def test_restore_is_copying_the_backup_back(tmp_path: Path) -> None:
    # The restore docs/deploy.md describes: stop newsbot, put the copy in place, drop the
    # old WAL files, start again.
    db, copy = tmp_path / "news.db", tmp_path / "copy.db"
    await _article(db, "kept")
    await backup_sqlite(db, copy)
    await _article(db, "after the backup")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    copy.rename(db)
    async with SqliteStore(db) as store:
        page = await NewsService(store).latest(10)
    assert [a.title for a in page.articles] == ["kept"]


async def test_backup_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no SQLite database"):
        await backup_sqlite(tmp_path / "missing.db", tmp_path / "copy.db")
    db = tmp_path / "news.db"
    await _article(db, "t")
    with pytest.raises(StorageError, match="another file"):
        await backup_sqlite(db, db)
    with pytest.raises(StorageError, match="unable to open"):
        await backup_sqlite(db, tmp_path / "no" / "such" / "dir.db")
    # A failed backup leaves the previous one in place.
    good, junk = tmp_path / "good.db", tmp_path / "junk.db"
    good.write_bytes(b"an older backup")
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(StorageError, match="not a database"):
        await backup_sqlite(junk, good)
    assert good.read_bytes() == b"an older backup"
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_backup_command(tmp_path: Path) -> None:
    cli(tmp_path, "publish", "--title", "Backed up", "--body", "b")
    done = cli(tmp_path, "backup", str(tmp_path / "b.db"), "--json")
    result = json.loads(done.stdout)
    assert result["backup"] == str(tmp_path / "b.db") and result["bytes"] > 0
    assert "backing up" in done.stderr  # progress, on stderr
    out = cli(tmp_path, "articles", "--json", "--database", str(tmp_path / "b.db"))
    assert [a["title"] for a in json.loads(out.stdout)["articles"]] == ["Backed up"]
    refused = cli(tmp_path, "backup", "x.db", "--database", "postgresql://h/db", ok=False)
    assert refused.returncode == 1 and "pg_dump" in refused.stderr
