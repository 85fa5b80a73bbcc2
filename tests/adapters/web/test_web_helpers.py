"""Helpers shared by the web tests (named test_web_* to live with them; it holds no tests)."""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from typing import Any

from aiohttp import test_utils, web

from adapters.web import create_app
from newsbot import (
    Actor,
    Article,
    ArticleDraft,
    ArticleId,
    Author,
    Comment,
    MessageLink,
    MessageRef,
    NewsService,
    Platform,
)
from storage import SqliteStore

Client = test_utils.TestClient[web.Request, web.Application]


@asynccontextmanager
async def web_client(service: NewsService, **options: Any) -> AsyncIterator[Client]:
    """A test client on the real app, served on 127.0.0.1 by aiohttp's test server."""
    client = test_utils.TestClient(test_utils.TestServer(create_app(service, **options)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def publish(
    service: NewsService, title: str = "Hello", body: str = "World **bold**", **kw: Any
) -> Article:
    change = await service.publish(Actor.operator(), ArticleDraft(title=title, body=body, **kw))
    return change.article


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []
        self.actions: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({})
            self.actions.append(a.get("action", ""))
        elif tag in ("input", "textarea") and self.forms and "name" in a:
            self.forms[-1][a["name"]] = a.get("value", "")


def form_fields(html: str, action: str = "/comments") -> dict[str, str]:
    """The fields (with their values) of the first form whose action ends with ``action``."""
    parser = _Forms()
    parser.feed(html)
    for form, form_action in zip(parser.forms, parser.actions, strict=True):
        if form_action.split("#", 1)[0].endswith(action):
            return form
    raise AssertionError(f"no form posting to *{action} in the page")


async def comment_form(client: Client, article_id: int) -> dict[str, str]:
    """Open the article page and return its comment form's fields."""
    response = await client.get(f"/articles/{article_id}")
    assert response.status == 200
    return form_fields(await response.text())


async def post_comment(
    client: Client,
    article_id: int,
    name: str = "Nina",
    text: str = "Nice article.",
    headers: dict[str, str] | None = None,
    **fields: str,
) -> Any:
    """Fill the article's comment form like a browser would and submit it (no redirects)."""
    form = await comment_form(client, article_id)
    form.update(name=name, text=text, **fields)
    return await client.post(
        f"/articles/{article_id}/comments", data=form, headers=headers, allow_redirects=False
    )


def comment_ids(html: str) -> list[int]:
    """The ids of the comments listed on a page, in page order."""
    return [int(m) for m in re.findall(r'<li class="comment d\d" id="comment-(\d+)"', html)]


WORDS = [
    "the", "council", "park", "river", "city", "budget", "vote", "residents", "plan", "green",
    "bridge", "traffic", "summer", "children", "trees", "money", "years", "debate", "meeting",
    "mayor", "opens", "path", "bikes", "quiet", "noise", "dogs", "finally", "great", "idea",
    "think", "agree", "disagree", "costs", "taxes", "worth", "waiting", "wonderful", "news",
    "why", "not", "when", "will", "we", "see", "it", "open", "weekend", "market", "music",
]  # fmt: skip


async def add_hundred_comments(service: NewsService, store: SqliteStore, article_id: int) -> None:
    """100 comments: web, Telegram and Discord, some nested three deep, some long."""
    posts: dict[Platform, MessageRef] = {}
    for platform, chat in ((Platform.TELEGRAM, "-100"), (Platform.DISCORD, "555")):
        posts[platform] = MessageRef(platform, chat, "1")
        await store.add_link(MessageLink(posts[platform], ArticleId(article_id)))
    rng = random.Random(5)
    last: Comment | None = None
    for n in range(100):
        text = f"Comment {n}: " + " ".join(rng.choices(WORDS, k=rng.randint(8, 70))) + "."
        parent = last.id if last is not None and n % 4 in (1, 2) else None
        if n % 3 == 0 or parent is not None:
            last = await service.add_web_comment(
                ArticleId(article_id),
                f"Reader {n}",
                text,
                parent_id=parent,
                client_key=f"c{n}",
            )
            continue
        platform = Platform.TELEGRAM if n % 3 == 1 else Platform.DISCORD
        last = await service.record_reply(
            reply_to=posts[platform],
            source=MessageRef(platform, posts[platform].chat_id, str(1000 + n)),
            author=Author(f"Chat user {n}", platform, str(n)),
            text=text,
        )
