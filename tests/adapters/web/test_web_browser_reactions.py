"""Reactions in a real browser (Debian's chromium through Playwright), with the script and
without it. Skips like ``test_web_browser`` when chromium is missing."""

from __future__ import annotations

import pytest

from adapters.web import WebAdapter
from newsbot import NewsService
from tests.adapters.web.test_web_browser import CHROMIUM, browser, playwright, site
from tests.adapters.web.test_web_helpers import publish

__all__ = ["browser", "site"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is missing")


async def test_a_reaction_without_reloading_the_page(
    service: NewsService, site: WebAdapter, browser: object
) -> None:
    article = await publish(service, title="With script")
    comment = await service.add_web_comment(article.id, "Ann", "First", client_key="a")
    page = await browser.new_page()  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    expect = playwright.expect
    await page.goto(f"{site.url}/articles/{article.id}")
    await page.evaluate("window.stillHere = true")
    bar = page.locator("#reactions")
    await bar.get_by_role("button", name="❤️").click()
    await expect(bar.get_by_role("button", name="❤️")).to_have_attribute("aria-pressed", "true")
    await expect(bar.locator("button[value='❤️'] .n")).to_have_text("1")
    await bar.get_by_role("button", name="👍").click()  # changed
    await expect(bar.locator("button[value='👍'] .n")).to_have_text("1")
    await expect(bar.locator("button[value='❤️'] .n")).to_have_text("0")
    await page.locator(f"#comment-{comment.id}").get_by_role("link", name="React").click()
    on_comment = page.locator(f"#comment-{comment.id} form.reactions")
    await on_comment.get_by_role("button", name="😮").click()
    await expect(on_comment.locator("button[value='😮'] .n")).to_have_text("1")
    assert await page.evaluate("window.stillHere") is True  # no reload
    assert problems == []
    counts = await service.reactions.counts(article.id)
    assert counts.article.by_emoji() == {"👍": 1}
    assert counts.comments[comment.id].by_emoji() == {"😮": 1}


async def test_a_reaction_without_javascript(
    service: NewsService, site: WebAdapter, browser: object
) -> None:
    article = await publish(service, title="No script")
    context = await browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = await context.new_page()
    expect = playwright.expect
    await page.goto(f"{site.url}/articles/{article.id}")
    await page.locator("#reactions").get_by_role("button", name="😂").click()
    await expect(page.locator("#reactions button[value='😂'] .n")).to_have_text("1")
    assert page.url.endswith("#reactions")
    await page.locator("#reactions").get_by_role("button", name="😂").click()  # taken back
    await expect(page.locator("#reactions button[value='😂'] .n")).to_have_text("0")
    # A comment's buttons are on a page of their own, which the post comes back to.
    comment = await service.add_web_comment(article.id, "Ann", "First", client_key="a")
    await page.reload()  # past the browser's cache (max-age)
    await page.locator(f"#comment-{comment.id}").get_by_role("link", name="React").click()
    buttons = page.locator(f"#comment-{comment.id} form.reactions")
    await buttons.get_by_role("button", name="😢").click()
    await expect(buttons.locator("button[value='😢'] .n")).to_have_text("1")
    await page.goto(f"{site.url}/articles/{article.id}?comments=")  # the plain page, uncached
    await expect(page.locator(f"#comment-{comment.id} .reacted")).to_contain_text("😢 1")
    await context.close()
    counts = await service.reactions.counts(article.id)
    assert counts.article.total == 0
    assert counts.comments[comment.id].by_emoji() == {"😢": 1}
