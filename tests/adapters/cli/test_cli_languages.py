"""``bot.py language`` sets a chat's own language; ``bot.py destinations`` shows it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.adapters.cli.test_cli import cli


def test_a_chat_gets_a_language_of_its_own(tmp_path: Path) -> None:
    cli(tmp_path, "subscribe", "telegram", "-1001", "--title", "Канал")
    cli(tmp_path, "subscribe", "discord", "42", "--title", "news")
    assert "speaks the default" in cli(tmp_path, "language", "telegram", "-1001").stdout
    assert "speaks uk" in cli(tmp_path, "language", "telegram", "-1001", "UK").stdout
    listed = cli(tmp_path, "destinations").stdout
    assert re.search(r"telegram .* uk +-1001 Канал", listed), listed
    assert re.search(r"discord .* - +42 news", listed), listed
    dests = json.loads(cli(tmp_path, "destinations", "--json").stdout)
    assert {d["chat_id"]: d["language"] for d in dests} == {"-1001": "uk", "42": None}
    refused = cli(tmp_path, "language", "telegram", "-1001", "fr", ok=False)
    assert refused.returncode != 0 and "no catalog for language 'fr'" in refused.stderr
    unknown = cli(tmp_path, "language", "telegram", "-999", "de", ok=False)
    assert unknown.returncode != 0 and "not subscribed" in unknown.stderr
    cli(tmp_path, "language", "telegram", "-1001", "default")
    dests = json.loads(cli(tmp_path, "destinations", "--json").stdout)
    assert {d["chat_id"]: d["language"] for d in dests} == {"-1001": None, "42": None}


def test_the_language_and_time_zone_settings_are_checked(tmp_path: Path) -> None:
    done = cli(tmp_path, "destinations", ok=False, NEWSBOT_LANGUAGE="fr")
    assert done.returncode != 0
    assert "NEWSBOT_LANGUAGE: Value error, no catalog for language 'fr'" in done.stderr
    done = cli(tmp_path, "destinations", ok=False, NEWSBOT_TIMEZONE="Mars/Base")
    assert done.returncode != 0 and "unknown time zone 'Mars/Base'" in done.stderr
    cli(tmp_path, "destinations", NEWSBOT_LANGUAGE="uk", NEWSBOT_TIMEZONE="Europe/Kyiv")
