"""Real Chromium reads the site in Ukrainian and German, and a right-to-left title.

Set ``NEWSBOT_SCREENSHOT=1`` to also write /tmp/newsbot-uk.png, /tmp/newsbot-de.png and
/tmp/newsbot-rtl.png.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import test_utils

from adapters.i18n import Speech
from adapters.web import create_app
from newsbot import NewsService
from tests.adapters.web.test_web_browser import CHROMIUM, browser, playwright
from tests.adapters.web.test_web_helpers import publish

__all__ = ["browser"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")
SHOTS = bool(os.environ.get("NEWSBOT_SCREENSHOT"))


@pytest.fixture
async def serve(service: NewsService) -> AsyncIterator[Any]:
    servers: list[test_utils.TestServer] = []

    async def start(language: str, zone: str = "UTC") -> str:
        app = create_app(service, refresh_seconds=1, speech=Speech.of(language, zone))
        server = test_utils.TestServer(app)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


async def test_a_ukrainian_site_in_kyiv_time(
    service: NewsService, serve: Any, browser: object
) -> None:
    article = await publish(service, title="Новини Києва", body="Мер відкрив *міст*.")
    base = await serve("uk", "Europe/Kyiv")
    page = await browser.new_page()  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    expect = playwright.expect

    await page.goto(base + "/")
    await expect(page.locator("html")).to_have_attribute("lang", "uk")
    await expect(page.get_by_role("heading", name="Останні статті")).to_be_visible()
    await expect(page.locator(".teaser .meta a")).to_have_text("0 коментарів")
    await page.get_by_role("link", name="Новини Києва").click()
    assert page.url.endswith(f"/articles/{article.id}-novini-kiieva")
    await expect(page.locator("#comment-count")).to_have_text("0 коментарів")
    await page.get_by_label("Ім'я", exact=True).fill("Олена")
    await page.get_by_label("Текст коментаря", exact=True).fill("Нарешті!")
    await page.get_by_role("button", name="Надіслати коментар").click()
    await expect(page.locator("#comment-count")).to_have_text("1 коментар")
    # The server's exact time, in Kyiv's offset (not UTC), which the script keeps in the title
    # when it shows "3 секунди тому" instead.
    stamp = page.locator(".thread .comment time").first
    await expect(stamp).to_have_attribute("title", re.compile(r"\+0[23]00$"))
    # The optional script counts in Ukrainian too: 2 is "few", 5 is "many".
    await service.add_web_comment(article.id, "Петро", "Згоден", client_key="p")
    refreshed = 30_000
    await expect(page.locator("#comment-count")).to_have_text("2 коментарі", timeout=refreshed)
    # "Reply" in Ukrainian, and to whom for screen readers (visually hidden).
    reply = page.locator(".thread .comment .reply").first
    await expect(reply).to_have_text(re.compile(r"^Відповісти користувачеві \S+"))
    for n in range(3):
        await service.add_web_comment(article.id, f"Читач {n}", "+", client_key=f"r{n}")
    await expect(page.locator("#comment-count")).to_have_text("5 коментарів", timeout=refreshed)
    if SHOTS:
        await page.screenshot(path="/tmp/newsbot-uk.png", full_page=True)
    assert problems == []


async def test_a_german_site_with_its_form_errors(
    service: NewsService, serve: Any, browser: object
) -> None:
    article = await publish(service, title="Nachrichten aus Berlin", body="Text.")
    base = await serve("de", "Europe/Berlin")
    page = await browser.new_page()  # type: ignore[attr-defined]
    expect = playwright.expect
    await page.goto(f"{base}/articles/{article.id}")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.get_by_role("heading", name="Kommentar schreiben")).to_be_visible()
    await expect(page.locator("#comment-count")).to_have_text("0 Kommentare")
    # A name of spaces passes the browser's "required" check and is refused by the server.
    await page.get_by_label("Name", exact=True).fill("   ")
    await page.get_by_label("Kommentartext", exact=True).fill("Hallo")
    await page.get_by_role("button", name="Kommentar senden").click()
    await expect(page.locator(".errors")).to_contain_text("Bitte geben Sie Ihren Namen ein.")
    if SHOTS:
        await page.screenshot(path="/tmp/newsbot-de.png", full_page=True)


async def test_a_right_to_left_title_renders_right_to_left(
    service: NewsService, serve: Any, browser: object
) -> None:
    title = "أخبار اليوم"
    article = await publish(service, title=title, body="نص المقال.")
    base = await serve("en")
    page = await browser.new_page()  # type: ignore[attr-defined]
    expect = playwright.expect
    await page.goto(base + "/")
    link = page.get_by_role("link", name=title)
    await expect(link).to_be_visible()
    await link.click()
    assert page.url.endswith(f"/articles/{article.id}-khbr-lywm")
    heading = page.get_by_role("heading", name=title)
    await expect(heading).to_be_visible()
    assert await heading.evaluate("h => h.matches(':dir(rtl)')")
    # Right to left in a left-to-right page: the title hugs the column's right edge.
    box = await heading.evaluate(
        "h => { const r = document.createRange(); r.selectNodeContents(h);"
        " const t = r.getBoundingClientRect(), b = h.getBoundingClientRect();"
        " return [t.right, b.right, t.left, b.left]; }"
    )
    assert abs(box[0] - box[1]) < 2 and box[2] > box[3] + 10, box
    # The old slug-less and any other slug still open it.
    for path in (f"/articles/{article.id}", f"/articles/{article.id}-old-slug"):
        await page.goto(base + path)
        await expect(page.get_by_role("heading", name=title)).to_be_visible()
    if SHOTS:
        await page.screenshot(path="/tmp/newsbot-rtl.png", full_page=True)
