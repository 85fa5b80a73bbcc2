"""``bot.py feed ...`` as an operator runs it, in a child process, against a local site."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.cli.test_cli import BOT, clean_env
from tests.fakes.feeds import FeedSite, Item, items


@pytest.fixture
async def site() -> AsyncIterator[FeedSite]:
    async with FeedSite() as s:
        yield s


async def run(tmp_path: Path, *args: str, ok: bool = True, **env: str) -> tuple[int, str, str]:
    env.setdefault("NEWSBOT_FEEDS_ALLOW_PRIVATE", "true")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BOT),
        *args,
        cwd=tmp_path,
        env=clean_env(tmp_path, **env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    code = process.returncode
    assert code is not None
    if ok:
        assert code == 0, err.decode()
    return code, out.decode(), err.decode()


async def run_json(tmp_path: Path, *args: str) -> Any:
    return json.loads((await run(tmp_path, *args, "--json"))[1])


async def test_add_list_poll_remove(site: FeedSite, tmp_path: Path) -> None:
    entries = items(3)
    site.feed("/feed", "Site News", entries)
    url = site.url("/feed")
    await run(tmp_path, "subscribe", "telegram", "-1001")
    added = await run_json(
        tmp_path, "feed", "add", url, "--tags", "local,news", "--every", "2m", "--backfill", "1"
    )
    assert added["added"] and added["published"] == 1
    assert (added["tags"], added["interval"], added["title"]) == (
        ["local", "news"],
        120.0,
        "Site News",
    )
    articles = await run_json(tmp_path, "articles")
    assert [a["title"] for a in articles["articles"]] == ["Item 2"]
    assert articles["articles"][0]["tags"] == ["local", "news"]
    _, again, _ = await run(tmp_path, "feed", "add", url)
    assert "already followed" in again

    (listed,) = await run_json(tmp_path, "feed", "list")
    assert (listed["url"], listed["state"], listed["last_status"], listed["items_seen"]) == (
        url,
        "active",
        200,
        3,
    )
    assert listed["next_poll_at"] > listed["last_poll_at"]
    _, table, _ = await run(tmp_path, "feed", "list")
    assert url in table and "Site News" in table and "active" in table

    site.feed("/feed", "Site News", [Item("new", "Fresh news", "<p>Now.</p>"), *entries])
    polled = await run_json(tmp_path, "feed", "poll", url)
    assert (polled["status"], polled["published"]) == (200, 1)
    _, line, _ = await run(tmp_path, "feed", "poll", url)
    assert "HTTP 304" in line and "0 published" in line
    articles = await run_json(tmp_path, "articles")
    assert [a["title"] for a in articles["articles"]] == ["Fresh news", "Item 2"]
    deliveries = await run_json(tmp_path, "deliveries", str(articles["articles"][0]["id"]))
    assert [d["destination"] for d in deliveries] == ["telegram:-1001"]

    removed = await run_json(tmp_path, "feed", "remove", url)
    assert removed["removed"]
    assert await run_json(tmp_path, "feed", "list") == []
    code, _, err = await run(tmp_path, "feed", "remove", url, ok=False)
    assert code == 1 and "No feed is followed" in err


async def test_refusals_are_one_clear_line(site: FeedSite, tmp_path: Path) -> None:
    site.feed("/feed", "Site", items(1))
    url = site.url("/feed")
    code, _, err = await run(tmp_path, "feed", "add", url, "--every", "30s", ok=False)
    assert code == 1 and "at most every 1 minute" in err
    code, _, err = await run(
        tmp_path, "feed", "add", url, ok=False, NEWSBOT_FEEDS_ALLOW_PRIVATE="false"
    )
    assert code == 1 and "not a public address" in err
    code, _, err = await run(tmp_path, "feed", "add", site.url("/missing"), ok=False)
    assert code == 1 and "answered HTTP 404" in err
    code, _, err = await run(tmp_path, "feed", "add", "file:///etc/passwd", ok=False)
    assert code == 1 and "http or https" in err
    assert site.seen("/feed") == []  # nothing of it reached the site without permission


async def test_a_gone_feed_says_so_in_the_list(site: FeedSite, tmp_path: Path) -> None:
    site.feed("/feed", "Site", items(1))
    url = site.url("/feed")
    await run(tmp_path, "feed", "add", url)
    site.answer("/feed", 410)
    polled = await run_json(tmp_path, "feed", "poll", url)
    assert polled["status"] == 410 and not polled["feed"]["active"]
    _, table, _ = await run(tmp_path, "feed", "list")
    assert "inactive" in table and "the feed is gone (HTTP 410)" in table and "never" in table


async def test_a_backfill_and_a_poll_tell_their_progress_on_stderr_but_not_with_json(
    site: FeedSite, tmp_path: Path
) -> None:
    site.feed("/feed", "Site News", items(12))
    url = site.url("/feed")
    told = f"publishing from {url}: "
    await run(tmp_path, "subscribe", "telegram", "-1001")
    _, out, err = await run(tmp_path, "feed", "add", url, "--backfill", "10")
    # Not a terminal: a line at every tenth, from 0 to the last, and the summary on stdout.
    lines = [line for line in err.splitlines() if line.startswith(told)]
    assert lines == [f"{told}{n}/10 items" for n in range(11)]
    assert "10 published" in out and told not in out
    fresh = [Item(f"new-{n}", f"Fresh {n}", "<p>Now.</p>") for n in range(4)]
    site.feed("/feed", "Site News", [*fresh[:3], *items(12)])
    _, out, err = await run(tmp_path, "feed", "poll", url)
    assert f"{told}3/3 items" in err.splitlines(), err
    site.feed("/feed", "Site News", [*fresh, *items(12)])
    _, out, err = await run(tmp_path, "feed", "poll", url, "--json")
    assert json.loads(out)["published"] == 1 and told not in err
