"""A per-destination delay on the command line: ``delay DEST SECONDS|none``, shown in
``destinations``, and followed by ``publish`` (the delayed chat's post waits), in a child
process as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.adapters.cli.test_cli import cli


def test_a_delayed_chat_waits_and_the_delay_is_shown_and_cleared(tmp_path: Path) -> None:
    cli(tmp_path, "subscribe", "telegram", "-1001")
    cli(tmp_path, "subscribe", "telegram", "-1002")
    dests = {
        d["chat_id"]: d["id"] for d in json.loads(cli(tmp_path, "destinations", "--json").stdout)
    }
    later = str(dests["-1002"])
    out = cli(tmp_path, "delay", later, "3600").stdout
    assert "3600 s after the article's time" in out
    listed = {d["chat_id"]: d for d in json.loads(cli(tmp_path, "destinations", "--json").stdout)}
    assert listed["-1002"]["delay"] == 3600.0 and listed["-1001"]["delay"] is None
    assert "delay: 3600 s after the article's time" in cli(tmp_path, "destinations").stdout
    out = cli(tmp_path, "publish", "--title", "Staggered", "--body", "B").stdout
    article_id = int(out.split("article ", 1)[1].split(":", 1)[0])
    # Out for readers at once; the delayed chat's post is still waiting, the other is not.
    assert [a["id"] for a in json.loads(cli(tmp_path, "articles", "--json").stdout)["articles"]]
    waiting = json.loads(cli(tmp_path, "articles", "--scheduled", "--json").stdout)["articles"]
    assert [(a["id"], a["waiting"]) for a in waiting] == [(article_id, 1)]
    assert "no delay" in cli(tmp_path, "delay", later, "none").stdout
    assert "delay:" not in cli(tmp_path, "destinations").stdout
    bad = cli(tmp_path, "delay", later, "soon", ok=False)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ")
    bad = cli(tmp_path, "delay", later, "-5", ok=False)
    assert bad.returncode == 1 and "a week" in bad.stderr
