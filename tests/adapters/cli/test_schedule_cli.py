"""Scheduling on the command line: publish --at/--in/--telegram-at, articles --scheduled,
reschedule and cancel, in a child process as a user runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.adapters.cli.test_cli import cli


def test_schedule_list_move_and_cancel(tmp_path: Path) -> None:
    cli(tmp_path, "subscribe", "telegram", "-1001")
    cli(tmp_path, "subscribe", "discord", "123456789012345678")
    at = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    out = cli(
        tmp_path,
        "publish",
        "--title",
        "Christmas morning",
        "--body",
        "Embargoed",
        "--at",
        at.astimezone().isoformat(),
        "--discord-at",
        (at + timedelta(hours=1)).isoformat(),
    ).stdout
    assert "Scheduled (" in out and f"{at:%Y-%m-%d %H:%M} UTC, discord" in out
    article_id = int(out.split("article ", 1)[1].split(":", 1)[0])
    # Readers' lists do not have it; admins' do.
    assert json.loads(cli(tmp_path, "articles", "--json").stdout)["articles"] == []
    listed = json.loads(cli(tmp_path, "articles", "--scheduled", "--json").stdout)["articles"]
    assert [a["id"] for a in listed] == [article_id]
    assert listed[0]["status"] == "published" and listed[0]["waiting"] == 2
    assert listed[0]["platforms"]["discord"] == (at + timedelta(hours=1)).isoformat()
    human = cli(tmp_path, "articles", "--scheduled").stdout
    assert f"#{article_id} {at:%Y-%m-%d %H:%M} UTC (discord" in human
    assert "scheduled" in cli(tmp_path, "article", str(article_id)).stdout
    moved = cli(tmp_path, "reschedule", str(article_id), "--in", "3h").stdout
    assert moved.startswith(f"Rescheduled: #{article_id}")
    done = cli(tmp_path, "cancel", str(article_id)).stdout
    assert "will not go out" in done
    assert "nothing scheduled" in cli(tmp_path, "articles", "--scheduled").stdout
    rows = json.loads(cli(tmp_path, "deliveries", str(article_id), "--json").stdout)
    assert {r["state"] for r in rows} == {"dead"}
    again = cli(tmp_path, "cancel", str(article_id), ok=False)
    assert again.returncode == 1 and "is not scheduled" in again.stderr


def test_bad_times_are_one_clear_line(tmp_path: Path) -> None:
    cases = [
        (["--at", "2026-12-24T06:00"], "has no offset"),
        (["--at", "2001-01-01T00:00Z"], "is in the past"),
        (["--in", "900d"], "more than a year ahead"),
        (["--in", "2h", "--telegram-at", "1h"], "comes before the article's own time"),
    ]
    for options, message in cases:
        done = cli(tmp_path, "publish", "--title", "T", "--body", "B", *options, ok=False)
        first = done.stderr.splitlines()[0]
        assert done.returncode == 1 and first.startswith("error: ") and message in first


def test_breaking_priority_is_accepted(tmp_path: Path) -> None:
    cli(tmp_path, "subscribe", "telegram", "-1001")
    out = cli(tmp_path, "publish", "--title", "T", "--body", "B", "--priority", "breaking")
    assert "in the breaking-news lane" in out.stdout


def test_filters_are_set_shown_and_followed(tmp_path: Path) -> None:
    cli(tmp_path, "subscribe", "telegram", "-1001")
    cli(tmp_path, "subscribe", "telegram", "-1002")
    dests = {
        d["chat_id"]: d["id"] for d in json.loads(cli(tmp_path, "destinations", "--json").stdout)
    }
    quakes = str(dests["-1001"])
    out = cli(
        tmp_path, "filter", "set", quakes, "quake", "OR", "title~(?i)^earth", "-body:sponsored"
    )
    assert (
        "now gets only articles that pass: quake OR title~'(?i)^earth' -body:sponsored"
        in out.stdout
    )
    shown = cli(tmp_path, "destinations").stdout
    assert "filter: quake OR title~'(?i)^earth' -body:sponsored" in shown
    listed = json.loads(cli(tmp_path, "destinations", "--json").stdout)
    assert [d["filter"] for d in listed] == ["quake OR title~'(?i)^earth' -body:sponsored", None]
    bad = cli(tmp_path, "filter", "set", quakes, r"body~(a)\1", ok=False)
    assert bad.returncode == 1 and "is refused: invalid escape sequence" in bad.stderr
    published = json.loads(
        cli(tmp_path, "publish", "--title", "Markets", "--body", "calm", "--json").stdout
    )
    rows = json.loads(cli(tmp_path, "deliveries", str(published["id"]), "--json").stdout)
    assert [r["destination"] for r in rows] == ["telegram:-1002"]
    cli(tmp_path, "filter", "clear", quakes)
    assert "filter:" not in cli(tmp_path, "destinations").stdout


def test_templates_are_checked_shown_and_previewed(tmp_path: Path) -> None:
    cli(tmp_path, "subscribe", "telegram", "-1001")
    cli(tmp_path, "subscribe", "discord", "123456789012345678")
    dests = {
        d["chat_id"]: str(d["id"])
        for d in json.loads(cli(tmp_path, "destinations", "--json").stdout)
    }
    broken = tmp_path / "broken.j2"
    broken.write_text(
        "{{ title }}\n{% if summary %}\n{{ nosuch }}\n{% endif %}\n", encoding="utf-8"
    )
    refused = cli(tmp_path, "template", "set", dests["-1001"], str(broken), ok=False)
    assert refused.returncode == 1 and "Line 3: 'nosuch' is undefined" in refused.stderr
    cli(tmp_path, "template", "set", dests["-1001"], "--ready", "summary")
    assert "Read more: {{ link }}" in cli(tmp_path, "template", "show", dests["-1001"]).stdout
    cli(tmp_path, "filter", "set", dests["123456789012345678"], "-title:quake")
    article = json.loads(
        cli(
            tmp_path, "publish", "--title", "Quake", "--body", "B", "--summary", "S", "--json"
        ).stdout
    )
    shown = cli(tmp_path, "preview", str(article["id"]), dests["-1001"]).stdout
    assert "Filter: passes (no filter)" in shown and "with its template" in shown
    assert shown.rstrip().endswith(f"Quake\n\nS\nRead more: {article['url']}")
    stopped = cli(tmp_path, "preview", str(article["id"]), dests["123456789012345678"]).stdout
    assert "Filter: stops it (excluded by -title:quake)" in stopped
    assert "[embed] Quake" in stopped and "built-in layout" in stopped
    cli(tmp_path, "template", "clear", dests["-1001"])
    assert "built-in layout" in cli(tmp_path, "template", "show", dests["-1001"]).stdout
    sent = json.loads(cli(tmp_path, "test-send", dests["-1001"], "--json").stdout)
    rows = json.loads(cli(tmp_path, "deliveries", str(sent["article_id"]), "--json").stdout)
    assert [r["destination"] for r in rows] == ["telegram:-1001"]
    assert (
        json.loads(cli(tmp_path, "article", str(sent["article_id"]), "--json").stdout)["status"]
        == "draft"
    )
