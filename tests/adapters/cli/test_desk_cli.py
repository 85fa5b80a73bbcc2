"""``bot.py queue`` and ``bot.py audit``, as an operator runs them: in a child process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from adapters.cli.desk import desk_settings
from newsbot import ArticleId, NewsService
from newsbot.review import DeskSettings, WordList
from storage import SqliteStore
from tests.adapters.cli.test_cli import cli


async def _comments(path: Path, article_id: int) -> list[int]:
    """Two web comments, the second held for a listed word."""
    async with SqliteStore(path) as store:
        service = NewsService(store, desk=DeskSettings(words=WordList(["casino"])))
        ids: list[int] = []
        for n, text in enumerate(("fine words", "a CASINO \x9b2J link")):
            c = await service.add_web_comment(
                ArticleId(article_id), "Eve", text, client_key=f"k{n}", user_id=f"w:{n}"
            )
            ids.append(c.id)
        return ids


def test_queue_lists_approves_hides_and_audits(tmp_path: Path) -> None:
    article = json.loads(cli(tmp_path, "publish", "--title", "T", "--body", "B", "--json").stdout)
    fine, held = asyncio.run(_comments(tmp_path / "cli.db", article["id"]))
    items = json.loads(cli(tmp_path, "queue", "--json").stdout)
    assert [(i["comment"]["id"], i["reasons"], i["decision"]) for i in items] == [
        (held, ["words"], "open")
    ]
    human = cli(tmp_path, "queue", "list").stdout
    assert str(held) in human and "words" in human and "\x9b" not in human
    # A full page names the position of the next one; after it, nothing more.
    paged = cli(tmp_path, "queue", "list", "--limit", "1").stdout
    assert f"Next page: --after {items[0]['position']}" in paged
    rest = cli(tmp_path, "queue", "list", "--after", items[0]["position"], "--json").stdout
    assert json.loads(rest) == []
    assert cli(tmp_path, "queue", "list", "--after", "x", ok=False).returncode == 2
    assert "Nothing reported" in cli(tmp_path, "queue", "list", "--view", "reported").stdout
    done = json.loads(cli(tmp_path, "queue", "approve", str(held), "--json").stdout)
    assert done == {
        "action": "approve",
        "id": held,
        "status": "visible",
        "changed": True,
        "detail": "",
    }
    comments = json.loads(cli(tmp_path, "comments", str(article["id"]), "--json").stdout)
    assert comments["total"] == 2
    again = cli(tmp_path, "queue", "approve", str(held)).stdout
    assert "nothing to change" in again
    hidden = cli(tmp_path, "queue", "hide", str(fine)).stdout
    assert f"Hide comment {fine}: was visible; it is hidden." in hidden
    undone = cli(tmp_path, "queue", "undo", str(fine), "--json").stdout
    assert json.loads(undone)["status"] == "visible"
    recent = json.loads(cli(tmp_path, "queue", "list", "--view", "recent", "--json").stdout)
    assert [i["comment"]["id"] for i in recent] == [held]
    log = json.loads(cli(tmp_path, "audit", "--json").stdout)
    assert [(e["actor"], e["action"], e["comment_id"]) for e in log] == [
        ("cli:operator", "undo hide", fine),
        ("cli:operator", "hide", fine),
        ("cli:operator", "approve", held),
    ]
    assert "approve" in cli(tmp_path, "audit").stdout
    missing = cli(tmp_path, "queue", "approve", "999", ok=False)
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")


def test_approve_still_approves_subscriptions(tmp_path: Path) -> None:
    done = cli(tmp_path, "approve", "telegram", "-100", ok=False)
    assert "subscription" in (done.stdout + done.stderr).lower()


def test_the_word_list_setting_is_read_and_a_missing_file_is_one_clear_line(
    tmp_path: Path,
) -> None:
    words = tmp_path / "words.txt"
    words.write_text("# held words\nCasino\nbuy now\n", encoding="utf-8")
    settings = desk_settings(str(words), True, 5)
    assert settings.words is not None and len(settings.words.keys) == 2
    assert (
        settings.words.match("CASINO!")
        and settings.words.match("Buy now")
        and not (settings.words.match("held words"))
    )
    assert settings.first_time and settings.reports_to_hide == 5
    assert desk_settings("", False, 3).words is None
    done = cli(tmp_path, "queue", ok=False, NEWSBOT_MODERATION_WORDS=str(tmp_path / "none.txt"))
    assert done.returncode == 1 and "NEWSBOT_MODERATION_WORDS" in done.stderr
    assert "Traceback" not in done.stderr
    ok = cli(tmp_path, "queue", NEWSBOT_MODERATION_WORDS=str(words))
    assert "Nothing held" in ok.stdout


def test_policy_at_publish_time_and_later(tmp_path: Path) -> None:
    out = cli(tmp_path, "publish", "--title", "T", "--body", "B", "--comments", "closed", "--json")
    article = json.loads(out.stdout)["id"]
    assert "comments are closed" in cli(tmp_path, "policy", str(article)).stdout
    done = json.loads(cli(tmp_path, "policy", str(article), "premoderated", "--json").stdout)
    assert done == {"id": article, "policy": "premoderated", "slow": 0}
    assert "are open" in cli(tmp_path, "policy", str(article), "default").stdout
    closed = cli(tmp_path, "policy", str(article), NEWSBOT_COMMENTS_POLICY="closed").stdout
    assert "comments are closed" in closed
    missing = cli(tmp_path, "policy", "999", ok=False)
    assert missing.returncode == 1 and "no article 999" in missing.stderr
    bad = cli(tmp_path, "policy", str(article), "maybe", ok=False)
    assert bad.returncode == 2


def test_slow_mode_at_publish_time_and_later(tmp_path: Path) -> None:
    out = cli(tmp_path, "publish", "--title", "T", "--body", "B", "--slow", "90", "--json")
    article = json.loads(out.stdout)["id"]
    shown = cli(tmp_path, "policy", str(article)).stdout
    assert "comments are open; slow mode: one comment per reader every 90 seconds" in shown
    both = cli(tmp_path, "policy", str(article), "premoderated", "--slow", "30", "--json")
    assert json.loads(both.stdout) == {"id": article, "policy": "premoderated", "slow": 30}
    off = cli(tmp_path, "policy", str(article), "--slow", "none").stdout
    assert (
        off.strip()
        == f"Article {article}: comments are pre-moderated (each waits for a moderator)."
    )
    bad = cli(tmp_path, "policy", str(article), "--slow", "soon", ok=False)
    assert bad.returncode == 2 and "seconds" in bad.stderr
