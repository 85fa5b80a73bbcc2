"""The admin figures page in a real browser (Debian's chromium): the charts are there, with
their labels and their numbers as tables, in light and dark mode. Presence and labels, not
pixels. Skips like ``test_web_browser`` when chromium is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.web import WebAdapter
from newsbot import MessageLink, MessageRef, NewsService, Platform
from newsbot.reactions import ReactionEvent, ReactionOp
from tests.adapters.web.test_web_browser import CHROMIUM, browser, playwright
from tests.adapters.web.test_web_helpers import publish

__all__ = ["browser"]
TOKEN = "s3cret-admin-token-long-enough-1234"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is missing")


@pytest.fixture
async def admin_site(service: NewsService) -> AsyncIterator[WebAdapter]:
    adapter = WebAdapter(service, host="127.0.0.1", port=0, admin_token=TOKEN)
    await adapter.start()
    yield adapter
    await adapter.stop()


async def test_the_figures_page_shows_labelled_charts_and_tables(
    service: NewsService, admin_site: WebAdapter, browser: object
) -> None:
    article = await publish(service, title="Charted")
    await service.add_web_comment(article.id, "Ann", "First", client_key="a")
    post = MessageRef(Platform.TELEGRAM, "-1", "5")
    assert await service.store.add_link(MessageLink(post, article.id))
    await service.reactions.record(
        [ReactionEvent(post, ReactionOp.SET, service.clock.now(), "7", ("👍",))]
    )
    await service.reactions.react_on_web(article.id, None, "w", "❤️")
    expect = playwright.expect
    problems: list[str] = []
    for scheme in ("light", "dark"):
        context = await browser.new_context(color_scheme=scheme)  # type: ignore[attr-defined]
        page = await context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        await page.goto(f"{admin_site.url}/admin")
        await page.get_by_label("Admin token").fill(TOKEN)
        await page.get_by_role("button", name="Log in").click()
        await page.get_by_role("link", name="Figures").click()
        await expect(page.get_by_role("heading", name="Figures")).to_be_visible()
        newest = page.get_by_role("table", name="The newest articles")
        await expect(newest.get_by_role("row", name=f"#{article.id} Charted")).to_contain_text("2")
        await page.get_by_role("link", name=f"#{article.id} Charted").first.click()
        await expect(page.get_by_role("heading", name="Charted")).to_be_visible()
        for title in (
            "Comments over time by platform",
            "Reactions over time by platform",
            "Posts delivered over time by platform",
        ):
            chart = page.get_by_role("img", name=title)
            await expect(chart).to_be_visible()
            numbers = page.get_by_role("table", name=f"{title} (numbers)")
            await expect(numbers).to_be_attached()
        reactions = page.get_by_role("table", name="Reactions over time by platform (numbers)")
        await expect(reactions.get_by_role("columnheader")).to_have_text(
            ["From", "Telegram", "Web"]
        )
        await expect(
            page.get_by_role("img", name="Reactions over time by platform")
            .locator("rect.bar.telegram")
            .first
        ).to_be_attached()
        box = await page.get_by_role("img", name="Comments over time by platform").bounding_box()
        assert box is not None and box["width"] > 200
        assert problems == []
        await context.close()
