"""``bot.py people``, ``person ID`` and what an operator does to a person, in a child process."""

from __future__ import annotations

import json
from pathlib import Path

from newsbot import NewsService, Platform
from newsbot.people import Proof, Proven, web_author_id
from storage import SqliteStore
from tests.adapters.cli.test_cli import cli

TG = Proven(Platform.TELEGRAM, "777", "Nina Berg", Proof.TELEGRAM_LOGIN)
DC = Proven(Platform.DISCORD, "5005", "nina_b", Proof.DISCORD_OAUTH)


async def test_people_person_export_unlink_ban_and_hide(tmp_path: Path) -> None:
    article = json.loads(cli(tmp_path, "publish", "--title", "T", "--body", "B", "--json").stdout)
    async with SqliteStore(tmp_path / "cli.db") as store:
        service = NewsService(store)
        nina = await service.people.sign_in(TG)
        await service.people.sign_in(DC, nina.id)
        await service.add_web_comment(
            article["id"], "x", "Signed in", client_key="k", user_id=web_author_id(TG)
        )
    listed = cli(tmp_path, "people").stdout
    assert f"{nina.id:>5}  telegram:777 (Nina Berg), discord:5005 (nina_b)" in listed
    shown = cli(tmp_path, "person", str(nina.id)).stdout
    assert "telegram  777" in shown and "by telegram-login" in shown
    assert "reply notifications on" in shown
    # Signed in with both: told on both (a DM on Discord while they share a server).
    accounts = [line for line in shown.splitlines() if "(by " in line]
    assert len(accounts) == 2 and all(line.endswith("replies told here") for line in accounts)
    async with SqliteStore(tmp_path / "cli.db") as store:
        await NewsService(store).notifications.switch(Platform.TELEGRAM, "777", False)
    off = cli(tmp_path, "person", str(nina.id)).stdout
    assert "reply notifications off" in off and "replies told here" not in off
    assert json.loads(cli(tmp_path, "person", str(nina.id), "--json").stdout)["notified_on"] == []
    assert "1 visible comment(s):" in shown and "Signed in" in shown
    exported = json.loads(cli(tmp_path, "person", "export", str(nina.id), "--json").stdout)
    assert [a["account_id"] for a in exported["accounts"]] == ["777", "5005"]
    assert exported["comments"][0]["text"] == "Signed in"
    wrong = cli(tmp_path, "person", "unlink", str(nina.id), "discord", "1", ok=False)
    assert wrong.returncode == 1 and "is not linked to person" in wrong.stderr
    assert (
        "Unlinked discord account 5005"
        in cli(tmp_path, "person", "unlink", str(nina.id), "discord", "5005").stdout
    )
    banned = json.loads(cli(tmp_path, "ban", "person", str(nina.id), "--json").stdout)
    assert banned == {"banned": True, "deleted_comments": 1}
    assert "(banned)" in cli(tmp_path, "people").stdout
    async with SqliteStore(tmp_path / "cli.db") as store:
        assert await store.is_banned(Platform.TELEGRAM, "777")
        assert not await store.is_banned(Platform.DISCORD, "5005")  # unlinked before the ban
    assert "Unbanned person" in cli(tmp_path, "unban", "person", str(nina.id)).stdout
    assert "usage: person" in cli(tmp_path, "person", "fly", "1", ok=False).stderr
    async with SqliteStore(tmp_path / "cli.db") as store:
        service = NewsService(store)
        await service.add_web_comment(
            article["id"], "x", "Again", client_key="k2", user_id=web_author_id(TG)
        )
    forgotten = cli(tmp_path, "person", "forget", str(nina.id), "--remove-comments", "--json")
    assert json.loads(forgotten.stdout) == {"forgotten": True, "comments": 1}
    assert "no person" in cli(tmp_path, "person", str(nina.id), ok=False).stderr.lower()
    async with SqliteStore(tmp_path / "cli.db") as store:
        assert await store.count_comments(article["id"]) == 0
