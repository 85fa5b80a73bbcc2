"""A reply chain 5,000 comments deep (some links hidden, some deleted) on every surface that
shows a thread: the article page, the JSON API, comments.xml, /admin, ``bot.py comments``,
Telegram's /comments and Discord's /comments. Each answers, nests at most eight levels,
holds a bounded page, lets the reader page on to the end, and logs no error."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from newsbot import NewsService, Platform
from newsbot.threads import PAGE_COMMENTS, THREAD_DEPTH
from storage import SqliteStore
from tests.adapters.web.test_web_admin import TOKEN, login
from tests.adapters.web.test_web_helpers import comment_ids, web_client
from tests.deep_chain import Chain, build_chain
from tests.discord_helpers import WorldFactory, fake, make_world
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wait import wait_for
from tests.pg import run_sync
from tests.telegram_helpers import ADMIN, PUBLIC_URL, READER, World, build_world

__all__ = ["fake", "make_world"]

BOT = Path(__file__).resolve().parents[2] / "bot.py"
PAGE_BYTES = 400_000  # 200 comments of this chain and the article, with room to spare


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Chain]:
    """One database holding the chain, built once; each test gets a copy of it."""
    path = tmp_path_factory.mktemp("deep") / "newsbot.db"

    async def make() -> Chain:
        async with SqliteStore(path) as store:
            return await build_chain(NewsService(store), store)

    return path, run_sync(make())


@pytest.fixture(autouse=True)
def chain(template: tuple[Path, Chain], tmp_path: Path) -> Chain:
    """The chain, in ``tmp_path/newsbot.db``: the database the ``store`` fixtures open."""
    source, built = template
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", tmp_path / f"newsbot.db{suffix}")
    return built


def last_link(text: str) -> int:
    """The last link of the chain a page shows."""
    return max(int(n) for n in re.findall(r"link (\d+) of the chain", text))


def no_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def depth_of(comments: list[dict[str, Any]]) -> int:
    deepest = 0
    stack = [(c, 0) for c in comments]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((r, depth + 1) for r in item["replies"])
    return deepest


def ids_in(comments: list[dict[str, Any]]) -> list[int]:
    found, stack = [], list(comments)
    while stack:
        item = stack.pop()
        found.append(item["id"])
        stack.extend(item["replies"])
    return found


async def test_the_page_the_api_the_feed_and_admin_show_the_chain(
    service: NewsService, chain: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    article = chain.article_id
    with caplog.at_level(logging.INFO):
        async with web_client(service, admin_token=TOKEN) as client:
            # The article page, newest first, through every "Older comments" link.
            seen: set[int] = set()
            path: str | None = f"/articles/{article}"
            pages = 0
            while path is not None:
                response = await client.get(path)
                assert response.status == 200, path
                html = await response.text()
                assert len(html.encode()) < PAGE_BYTES
                shown = comment_ids(html)
                assert len(shown) <= PAGE_COMMENTS + THREAD_DEPTH
                seen |= set(shown)
                older = re.search(
                    r'<a href="([^"]+)#comments" rel="next">Older comments</a>', html
                )
                path = older.group(1).replace("&amp;", "&") if older else None
                pages += 1
                assert pages < 100
            assert chain.visible <= seen
            assert pages >= len(chain.ids) // PAGE_COMMENTS

            # The JSON API, oldest first, cursor after cursor.
            seen = set()
            query = f"/api/articles/{article}/comments?limit=100"
            cursor: str | None = ""
            while cursor is not None:
                response = await client.get(query + (f"&cursor={cursor}" if cursor else ""))
                assert response.status == 200
                data = await response.json()
                assert depth_of(data["comments"]) <= THREAD_DEPTH
                seen |= set(ids_in(data["comments"]))
                cursor = data["next_cursor"]
            assert chain.visible <= seen

            feed = await client.get(f"/articles/{article}/comments.xml")
            assert feed.status == 200
            assert (await feed.text()).count("<entry>") == 50

            await login(client)
            admin = await client.get(f"/admin?article={article}")
            assert admin.status == 200
            html = await admin.text()
            assert "link 1 of the chain" in html and "Older comments" in html
            older = re.search(r'<a href="(/admin\?[^"]+)" rel="next">Older comments</a>', html)
            assert older is not None
            second = await client.get(older.group(1).replace("&amp;", "&"))
            assert second.status == 200
    assert no_errors(caplog) == []


def test_the_command_line_shows_the_chain(chain: Chain, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["NEWSBOT_DATABASE"] = str(tmp_path / "newsbot.db")

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(BOT), "comments", str(chain.article_id), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        return done.stdout

    text = cli()
    assert "link 0 of the chain" in text and "link 199 of the chain" in text
    indents = [len(line) - len(line.lstrip(" ")) for line in text.splitlines()[1:]]
    assert max(indents) == 2 * THREAD_DEPTH
    more = re.search(r"More: --cursor (\S+)", text)
    assert more is not None
    page = json.loads(cli("--json", "--cursor", more.group(1)))
    assert page["continued"] is True and depth_of(page["comments"]) <= THREAD_DEPTH
    assert "link 200 of the chain" in json.dumps(page)


async def test_telegram_comments_shows_the_chain_and_pages_on(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeTelegram() as tg, SqliteStore(tmp_path / "newsbot.db") as store:
        build_world(tg)
        service = NewsService(
            store, admins={Platform.TELEGRAM: {str(ADMIN)}}, public_url=PUBLIC_URL
        )
        world = World(tg, store, service, tmp_path / "newsbot.db")
        try:
            await world.start()
            with caplog.at_level(logging.INFO):
                first = await world.say(READER, READER, f"/comments {chain.article_id}")
                assert "link 0 of the chain" in first["text"]
                assert f"{len(chain.visible)} comments" in first["text"]
                button = first["reply_markup"]["inline_keyboard"][0][-1]
                assert button["text"] == "Next ›"
                tg.callback_press(READER, first["message_id"], READER, button["callback_data"])

                # The next page goes on from the first link the message had no room for.
                following = f"link {last_link(first['text']) + 1} of the chain"

                def turned() -> bool:
                    message = tg.message(READER, first["message_id"])
                    return message is not None and following in message["text"]

                await wait_for(turned, 30, "the next page of the chain")
        finally:
            await world.stop()
    assert no_errors(caplog) == []


async def test_discord_comments_shows_the_chain_and_pages_on(
    make_world: WorldFactory, chain: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    world = await make_world()
    with caplog.at_level(logging.INFO):
        payload = await world.fake.slash_command(
            world.guild, world.text, world.reader, "comments", {"article": chain.article_id}
        )
        answer = await world.fake.wait_for_response(payload["id"], timeout=30)
        embed = answer["data"]["embeds"][0]
        assert "link 0 of the chain" in embed["description"]
        message_id = world.fake.interactions[int(payload["id"])].original_message_id
        assert message_id is not None
        pressed = await world.fake.press_button(
            world.guild, world.text, world.reader, message_id, "newsbot:comments:next"
        )
        update = await world.fake.wait_for_response(pressed["id"], timeout=30)
        following = f"link {last_link(embed['description']) + 1} of the chain"
        assert following in update["data"]["embeds"][0]["description"]
    assert no_errors(caplog) == []
