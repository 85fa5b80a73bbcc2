"""What a visitor can put in a query or a form cannot cost a render per request, a 500, or a
page that says what they want: ``?reply=``, ``?comments=``, ``?cursor=``, ``?limit=``,
``parent=`` and ``/admin?done=``."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.web.context import SITE
from newsbot import Actor, ArticleId, Author, MessageRef, NewsService, Platform
from newsbot.models import CommentStatus, IncomingComment
from newsbot.ports import Store
from newsbot.threads import PAGE_COMMENTS
from tests.adapters.web.test_web_admin import TOKEN, login
from tests.adapters.web.test_web_helpers import (
    Client,
    comment_ids,
    post_comment,
    publish,
    web_client,
)

STORE_BACKENDS = ["sqlite", "postgres"]


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


FORGED = [
    b64("2026-01-01T00:00:00+00:00|99999999999999999999999"),  # past any 64-bit id
    b64("0001-01-01T00:00:00+14:00|1"),  # before year 1 once in UTC
    b64("2026-01-01T00:00:00+00:00|1"),  # well formed, but not made by newsbot
]


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_forged_cursors_are_400_on_every_paged_endpoint(
    service: NewsService, caplog: pytest.LogCaptureFixture
) -> None:
    article = await publish(service)
    await service.add_web_comment(article.id, "Ann", "hi", client_key="a")
    async with web_client(service, admin_token=TOKEN) as client:
        await login(client)
        with caplog.at_level(logging.INFO):
            for cursor in FORGED:
                for path, params in (
                    ("/", {"cursor": cursor}),
                    (f"/articles/{article.id}", {"comments": cursor}),
                    ("/api/articles", {"cursor": cursor}),
                    (f"/api/articles/{article.id}/comments", {"cursor": cursor}),
                    ("/admin", {"article": str(article.id), "comments": cursor}),
                ):
                    response = await client.get(path, params=params)
                    assert response.status == 400, (path, cursor)
                    assert "The page cursor is malformed." in await response.text()
    assert errors(caplog) == []


async def fan_out(service: NewsService, store: Store, replies: int) -> tuple[ArticleId, int]:
    """An article with one comment and ``replies`` replies to it (queued together)."""
    article = await publish(service)
    root = await service.add_web_comment(article.id, "Root", "the first", client_key="r")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    await asyncio.gather(
        *(
            store.ingest_comment(
                IncomingComment(
                    source=MessageRef(Platform.WEB, str(article.id), f"f{n}"),
                    author=Author(f"Fan {n}", Platform.WEB, f"w:{n}"),
                    text=f"reply number {n}",
                    created_at=start + timedelta(seconds=n),
                    article_id=article.id,
                    parent_id=root.id,
                    mirror=False,
                )
            )
            for n in range(replies)
        )
    )
    return article.id, root.id


async def test_one_page_renders_at_most_200_comments_and_links_to_the_rest(
    service: NewsService, store: Store
) -> None:
    article_id, root = await fan_out(service, store, 1000)
    async with web_client(service) as client:
        seen: list[int] = []
        path: str | None = f"/articles/{article_id}"
        while path is not None:
            html = await (await client.get(path)).text()
            shown = comment_ids(html)
            assert len(shown) <= PAGE_COMMENTS + 1  # the comment answered, for context
            seen += [cid for cid in shown if cid != root]
            older = re.search(r'<a href="([^"]+)#comments" rel="next">Older comments</a>', html)
            path = older.group(1).replace("&amp;", "&") if older else None
    assert len(seen) == len(set(seen)) == 1000


def _caches(client: Client) -> tuple[int, int, int]:
    app = client.app[SITE]
    return app.cache.renders, app.variants.renders, app.variants.size[0]


async def test_unknown_reply_limit_and_extra_values_are_served_from_the_plain_page(
    service: NewsService,
) -> None:
    article = await publish(service)
    other = await publish(service, title="Other")
    shown = await service.add_web_comment(article.id, "Ann", "shown", client_key="a")
    removed = await service.add_web_comment(article.id, "Gone", "removed", client_key="b")
    await service.delete_comment(Actor.operator(), removed.id)
    foreign = await service.add_web_comment(other.id, "Far", "elsewhere", client_key="c")
    async with web_client(service) as client:
        page = f"/articles/{article.id}"
        api = f"/api/articles/{article.id}/comments"
        for path in (page, api):
            assert (await client.get(path)).status == 200
        before = _caches(client)
        queries = [
            *(f"{page}?reply={n}" for n in range(1000, 1050)),  # nobody's comment
            f"{page}?reply={removed.id}",
            f"{page}?reply={foreign.id}",
            f"{page}?reply=abc",
            f"{page}?utm_source=x",
            f"{api}?limit=100",  # the default, spelled out
            f"{api}?order=oldest&x=1",
        ]
        for path in queries:
            response = await client.get(path)
            assert response.status == 200, path
            assert "Reply to" not in await response.text()
        assert _caches(client) == before  # no render, nothing new kept
        # A comment one may answer is a page of its own, rendered once.
        for _ in range(3):
            html = await (await client.get(f"{page}?reply={shown.id}")).text()
            assert "Reply to <bdi>Ann</bdi>" in html
        assert _caches(client)[1:] == (before[1] + 1, before[2] + 1)


async def test_the_error_page_names_only_a_visible_comment_of_the_article(
    service: NewsService,
) -> None:
    article = await publish(service)
    retracted = await publish(service, title="Soon gone")
    visible = await service.add_web_comment(article.id, "Vera Visible", "hi", client_key="a")
    deleted = await service.add_web_comment(article.id, "Dora Deleted", "x", client_key="b")
    await service.delete_comment(Actor.operator(), deleted.id)
    hidden_ref = MessageRef(Platform.WEB, str(article.id), "hidden")
    stored = await service.store.ingest_comment(
        IncomingComment(
            source=hidden_ref,
            author=Author("Hugo Hidden", Platform.WEB, "w:hugo"),
            text="over the limit",
            created_at=service.clock.now(),
            article_id=article.id,
            hidden=True,
        )
    )
    assert stored is not None and stored[0].status is CommentStatus.HIDDEN
    elsewhere = await service.add_web_comment(retracted.id, "Rita Retracted", "y", client_key="c")
    await service.retract(Actor.operator(), retracted.id)
    async with web_client(service, rate_limit=50) as client:
        for parent, name in (
            (deleted.id, "Dora Deleted"),
            (stored[0].id, "Hugo Hidden"),
            (elsewhere.id, "Rita Retracted"),
        ):
            # An empty comment: the form comes back with the error, replying to ``parent``.
            response = await post_comment(client, article.id, "Me", "", parent=str(parent))
            assert response.status == 400
            assert name not in await response.text(), name
        response = await post_comment(client, article.id, "Me", "", parent=str(visible.id))
        assert response.status == 400
        assert "Reply to <bdi>Vera Visible</bdi>" in await response.text()


async def test_the_admin_notice_is_one_of_a_fixed_few(service: NewsService) -> None:
    article = await publish(service)
    comment = await service.add_web_comment(article.id, "Ann", "hi", client_key="a")
    lure = "Your session expired. Log in again at evil.example"
    async with web_client(service, admin_token=TOKEN) as client:
        await login(client)
        for query in (
            {"done": lure},
            {"done": "deleted", "comment": lure},
            {"done": "banned", "comment": "999999", "count": "3"},
            {"done": "<b>x</b>"},
        ):
            html = await (await client.get("/admin", params=query)).text()
            assert 'role="status"' not in html, query
            assert "evil.example" not in html and "&lt;b&gt;" not in html
        html = await (
            await client.get("/admin", params={"done": "deleted", "comment": str(comment.id)})
        ).text()
        assert f'<p class="notice" role="status">Deleted comment {comment.id}.</p>' in html


def test_the_command_line_refuses_a_forged_cursor_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["NEWSBOT_DATABASE"] = str(tmp_path / "cli.db")
    bot = [sys.executable, str(Path(__file__).resolve().parents[3] / "bot.py")]
    subprocess.run([*bot, "publish", "--title", "T", "--body", "B"], env=env, check=True)
    for args in (["articles", "--cursor", FORGED[0]], ["comments", "1", "--cursor", FORGED[1]]):
        done = subprocess.run(
            [*bot, *args], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
        assert done.returncode != 0
        assert "The page cursor is malformed." in done.stderr
        assert "Traceback" not in done.stderr
