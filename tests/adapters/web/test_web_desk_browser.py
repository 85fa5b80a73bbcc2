"""The moderation queue in a real browser (Debian's chromium, driven by Playwright), worked
by keyboard alone, with and without JavaScript. Skips where chromium is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.web import WebAdapter
from newsbot import CommentStatus, NewsService
from newsbot.review import DeskSettings, WordList
from tests.adapters.web.test_web_browser import ARGS, CHROMIUM
from tests.adapters.web.test_web_helpers import publish

TOKEN = "browser-admin-token-long-enough-1234"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not at /usr/bin/chromium (`make browser` installs it)",
)
playwright = pytest.importorskip("playwright.async_api")


@pytest.fixture
async def admin_site(service: NewsService) -> AsyncIterator[WebAdapter]:
    adapter = WebAdapter(service, host="127.0.0.1", port=0, admin_token=TOKEN)
    await adapter.start()
    yield adapter
    await adapter.stop()


async def _tab_to(page: object, name: str, limit: int = 60) -> None:
    """Press Tab until the focused element's text is ``name``."""
    for _ in range(limit):
        await page.keyboard.press("Tab")  # type: ignore[attr-defined]
        focused = await page.evaluate("document.activeElement.textContent.trim()")  # type: ignore[attr-defined]
        if focused == name:
            return
    raise AssertionError(f"no focusable {name!r} reached by Tab")


@pytest.mark.parametrize("script", [True, False], ids=["javascript", "no-javascript"])
async def test_the_queue_works_by_keyboard(
    service: NewsService, admin_site: WebAdapter, script: bool
) -> None:
    service.desk_settings = DeskSettings(words=WordList(["casino"]))
    article = await publish(service, title="Keyboard")
    held = await service.add_web_comment(article.id, "Eve", "casino ads", client_key="a")
    expect = playwright.expect
    async with playwright.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(java_script_enabled=script)
            page = await context.new_page()
            await page.goto(f"{admin_site.url}/admin/queue")
            await page.get_by_label("Admin token").focus()
            await page.keyboard.type(TOKEN)
            async with page.expect_navigation():
                await page.keyboard.press("Enter")
            await page.goto(f"{admin_site.url}/admin/queue")
            await expect(page.get_by_role("heading", name="Moderation queue")).to_be_visible()
            await expect(page.locator(f"#item-{held.id} .text")).to_have_text("casino ads")
            await _tab_to(page, "Approve")
            await page.keyboard.press("Enter")
            await expect(page.get_by_role("status")).to_contain_text(f"Approved comment {held.id}")
            assert (await service.comment(held.id)).status is CommentStatus.VISIBLE
            await _tab_to(page, "Undo")
            await page.keyboard.press("Enter")
            await expect(page.get_by_role("status")).to_contain_text("Undid the approval")
            assert (await service.comment(held.id)).status is CommentStatus.HIDDEN
            await context.close()
        finally:
            await browser.close()
