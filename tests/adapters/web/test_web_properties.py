"""Property: whatever people type as a title, body, name or comment, it is shown as text.

One app and one database serve every example (an ``asyncio.Runner`` owned by a module
fixture), so Hypothesis can try many inputs quickly.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from aiohttp import test_utils
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from markupsafe import escape

from adapters.web import create_app
from adapters.web.render import linkify, xml_safe
from newsbot import Actor, ArticleDraft, InvalidInput, NewsService
from newsbot.drafts import clean_draft
from storage import SqliteStore
from tests.adapters.web.test_web_helpers import Client, form_fields

A = "{http://www.w3.org/2005/Atom}"
FRAGMENTS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//x.example/a.js>",
    "</textarea><script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "<a href=javascript:alert(1)>x</a>",
    "[x](javascript:alert(1))",
    "![i](javascript:alert(1))",
    "<iframe src=//e.example>",
    "]]>",
    "<!--",
    "&lt;script&gt;",
    "&amp;",
    "{{ 7*7 }}",
    "{% raw %}",
    "*em* **strong** `code`",
    "\n\n> quote\n\n",
    "\n- item\n",
    "<https://e.example>",
    "\u202e",
    "\ufffe",
    "\x00\x07",
]
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "link", "script", "body", "header", "main", "article",
    "section", "nav", "h1", "h2", "h3", "h4", "h5", "h6", "p", "time", "img", "div", "a", "ol",
    "ul", "li", "b", "span", "form", "input", "textarea", "label", "button", "code", "strong",
    "em", "pre", "blockquote", "hr", "br", "bdi", "footer",
}  # fmt: skip
UNSAFE_URL = re.compile(r"^(javascript|vbscript|data):", re.IGNORECASE)

inputs = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=6).map(
    "".join
)


def _printable(text: str, keep: str = "\n\t") -> str:
    # Articles with control characters are refused by the core; these reach the page.
    return "".join(ch for ch in text if ch in keep or unicodedata.category(ch) != "Cc")


titles = inputs.map(lambda s: "T " + _printable(" ".join(s.split()), keep="")[:200])
bodies = inputs.map(lambda s: _printable(s) + " x")


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"attribute {name} on <{tag}>")
            cleaned = re.sub(r"[\x00-\x20]", "", value or "")
            if name in ("href", "src") and UNSAFE_URL.match(cleaned):
                self.problems.append(f"{name}={value!r}")


def assert_inert(html: str) -> None:
    # Only the page's own: its deferred script and, on an article, its JSON-LD block, which
    # holds no "<" (tojson escapes it), so nothing inside can close it.
    scripts = re.findall(r"<script[^>]*>", html, re.IGNORECASE)
    own = [t for t in scripts if t.startswith('<script src="/static/thread.js')]
    assert 1 <= len(scripts) <= 2 and len(own) == 1
    for block in re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S):
        assert "<" not in block
    assert len(scripts) == 1 + html.count('<script type="application/ld+json">')
    parser = Tags()
    parser.feed(html)
    assert parser.problems == []


@dataclass
class World:
    runner: asyncio.Runner
    client: Client
    service: NewsService
    store: SqliteStore


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    runner = asyncio.Runner()
    store = SqliteStore(tmp_path_factory.mktemp("web-properties") / "newsbot.db")
    service = NewsService(store, public_url="https://news.example")

    async def start() -> Client:
        await store.open()
        client = test_utils.TestClient(
            test_utils.TestServer(create_app(service, rate_limit=10_000))
        )
        await client.start_server()
        return client

    client = runner.run(start())
    try:
        yield World(runner, client, service, store)
    finally:
        runner.run(client.close())
        runner.run(store.close())
        runner.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(title=titles, body=bodies, summary=bodies, name=inputs, text=inputs)
def test_user_input_never_reaches_the_page_unescaped(
    world: World, title: str, body: str, summary: str, name: str, text: str
) -> None:
    try:
        draft = clean_draft(ArticleDraft(title=title, body=body, summary=summary[:1000]))
    except InvalidInput:
        reject()
    world.runner.run(_check(world, draft, name, text))


async def _check(world: World, draft: ArticleDraft, name: str, text: str) -> None:
    service, client = world.service, world.client
    article = (await service.publish(Actor.operator(), draft)).article
    try:
        comment = await service.add_web_comment(
            article.id, name[:64], text, client_key=f"p{article.id}"
        )
    except InvalidInput:
        comment = None  # an empty name or text after cleaning: the page has no comment then
    page = await client.get(f"/articles/{article.id}")
    html = await page.text()
    assert page.status == 200
    assert_inert(html)
    assert f'<h1 dir="auto">{escape(xml_safe(article.title))}</h1>' in html
    if comment is not None:
        assert f'<b class="name"><bdi>{escape(xml_safe(comment.author.name))}</bdi></b>' in html
        assert f'<p class="text">{xml_safe(linkify(comment.text))}</p>' in html

    # The form shown again after an error keeps the input, escaped, in its fields.
    form = form_fields(html)
    form.update(name=name + "N" * 65, text=text)
    again = await client.post(f"/articles/{article.id}/comments", data=form)
    assert again.status == 400
    rerendered = await again.text()
    assert_inert(rerendered)
    kept = form_fields(rerendered)
    assert kept["name"] == xml_safe(name) + "N" * 65

    for path in ("/feed.xml", f"/articles/{article.id}/comments.xml"):
        root = ET.fromstring(await (await client.get(path)).text())
        assert root.tag == f"{A}feed"
    entry = root.find(f"{A}entry")
    if comment is not None:
        assert entry is not None
        assert entry.findtext(f"{A}content") == xml_safe(comment.text)
