"""axe-core in real Chromium: no WCAG 2.1 A/AA violation on the front page, an article with
nested comments, the form with an error, and the moderation pages, in light and dark.

axe-core comes from npm, pinned by ``tests/adapters/web/axe/package.json`` and its lock file
(version and integrity hash); the first run installs it with ``npm ci`` into a cache folder
(``NEWSBOT_TEST_CACHE``, default ``~/.cache/newsbot-tests``). Without npm or a registry the
tests skip with the reason. ``NEWSBOT_SCREENSHOT=DIR`` also writes each page at desktop
(1280 px) and phone (390 px) widths into DIR, and the front and article pages of a Ukrainian
site too (``front-uk-*.png``, ``article-uk-*.png``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.i18n import Speech
from adapters.web import WebAdapter
from adapters.web.brand import Brand
from newsbot import Actor, ArticleDraft, Author, MessageLink, MessageRef, NewsService, Platform
from storage import SqliteStore
from tests.adapters.web.test_web_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing")
playwright = pytest.importorskip("playwright.async_api")

AXE_DIR = Path(__file__).parent / "axe"
TOKEN = "a-moderation-token-of-at-least-32-characters"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BRAND = Brand(
    name="The Harbour Gazette",
    description="News from the harbour and the hills",
    accent="#8a1538",
    footer="© 2026 Harbour Media",
    footer_links=(("About", "https://gazette.example/about"), ("Contact", "mailto:desk@x")),
)


@pytest.fixture(scope="session")
def axe_source() -> str:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is missing: it installs the pinned axe-core")
    lock = (AXE_DIR / "package-lock.json").read_bytes()
    cache = Path(os.environ.get("NEWSBOT_TEST_CACHE", Path.home() / ".cache" / "newsbot-tests"))
    target = cache / f"axe-{hashlib.sha256(lock).hexdigest()[:12]}"
    script = target / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(AXE_DIR / name, target / name)
        done = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=target,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.skip(f"npm ci could not install axe-core: {done.stderr[-300:]}")
    return script.read_text(encoding="utf-8")


@pytest.fixture
async def site(service: NewsService) -> AsyncIterator[WebAdapter]:
    adapter = WebAdapter(service, port=0, admin_token=TOKEN, brand=BRAND)
    await adapter.start()
    yield adapter
    await adapter.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        await browser.close()


async def _content(service: NewsService, store: SqliteStore) -> int:
    ada = Actor(Platform.TELEGRAM, "42", "Ada Lovelace")
    await service.publish(ada, ArticleDraft(title="Harbour reopens", body="Ships are back."))
    change = await service.publish(
        ada,
        ArticleDraft(
            title="Ferry strike ends after three weeks",
            body="The ferries run again from **Monday**.\n\n> Finally.",
            summary="Crews and the operator agreed on a new timetable.",
        ),
    )
    article = change.article.id
    root = await service.add_web_comment(article, "Ann", "Good news!", client_key="1")
    reply = await service.add_web_comment(
        article, "Ben", "Details: https://example.org/ferries", parent_id=root.id, client_key="2"
    )
    deep = reply
    for n in range(7):
        deep = await service.add_web_comment(
            article, f"Reader {n}", f"Reply {n}", parent_id=deep.id, client_key=f"d{n}"
        )
    await service.add_web_comment(article, "Cy", "When do tickets go on sale?", client_key="3")
    for platform, chat in ((Platform.TELEGRAM, "-100"), (Platform.DISCORD, "555")):
        post = MessageRef(platform, chat, "1000")
        await store.add_link(MessageLink(post, article))
        await service.record_reply(
            reply_to=post,
            source=MessageRef(platform, chat, "2000"),
            author=Author(f"{platform} reader", platform, "7"),
            text=f"Seen on {platform}",
        )
    return int(article)


async def _violations(page: Any, axe: str) -> list[str]:
    await page.evaluate(axe)
    found = await page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            if (r.passes.length < 3) return ["axe checked almost nothing: " + r.passes.length];
            return r.violations.map(v => v.id + " (" + v.impact + "): " +
                v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
        }""",
        TAGS,
    )
    return list(found)


async def _check(page: Any, axe: str, name: str, problems: dict[str, list[str]]) -> None:
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        found = await _violations(page, axe)
        if found:
            problems[f"{name} ({scheme})"] = found
    folder = os.environ.get("NEWSBOT_SCREENSHOT", "")
    if folder and os.path.isdir(folder):
        for width, height, label in ((1280, 900, "desktop"), (390, 844, "phone")):
            await page.set_viewport_size({"width": width, "height": height})
            await page.emulate_media(color_scheme="light")
            await page.screenshot(path=f"{folder}/{name}-{label}.png", full_page=True)
        await page.set_viewport_size({"width": 1280, "height": 900})


async def test_no_wcag_a_or_aa_violations(
    service: NewsService, store: SqliteStore, site: WebAdapter, browser: Any, axe_source: str
) -> None:
    article_id = await _content(service, store)
    # axe is injected as a script the page's CSP would refuse; the pages' own are unchanged.
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    problems: dict[str, list[str]] = {}

    await page.goto(f"{site.url}/")
    await _check(page, axe_source, "front", problems)
    await page.goto(f"{site.url}/articles/{article_id}")
    assert await page.locator(".comment .replies .replies").count() > 0  # nested, really
    assert await page.locator(".badge.telegram").count() == 1
    assert await page.locator("button.toggle").count() > 0  # the script collapsed nothing yet
    await _check(page, axe_source, "article", problems)

    # The form with an error: an empty comment.
    await page.get_by_label("Name", exact=True).fill("Dee")
    await page.locator("#text").evaluate("t => t.removeAttribute('required')")
    await page.get_by_role("button", name="Post Comment").click()
    await page.wait_for_selector(".errors[role=alert]")
    assert page.url.endswith("#comment-form")  # the reader's place is kept
    await _check(page, axe_source, "form-error", problems)

    await page.goto(f"{site.url}/admin")
    await _check(page, axe_source, "admin-login", problems)
    await page.get_by_label("Admin token").fill(TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await playwright.expect(page.get_by_role("button", name="Log out")).to_be_visible()
    await _check(page, axe_source, "admin", problems)
    await page.goto(f"{site.url}/admin?article={article_id}")
    assert await page.locator("form[action$='/delete']").count() > 0  # comments to moderate
    await _check(page, axe_source, "admin-article", problems)
    await context.close()
    assert problems == {}


async def test_no_wcag_a_or_aa_violations_on_a_ukrainian_site(
    service: NewsService, store: SqliteStore, browser: Any, axe_source: str
) -> None:
    # The front page and an article in a second language (longer words, Cyrillic, Kyiv's
    # time), screenshotted at both widths as the English ones are.
    brand = replace(BRAND, name="Вісник Гавані", description="Новини гавані та пагорбів")
    ukrainian = WebAdapter(service, port=0, brand=brand, speech=Speech.of("uk", "Europe/Kyiv"))
    await ukrainian.start()
    try:
        ada = Actor(Platform.TELEGRAM, "42", "Ада Лавлейс")
        await service.publish(ada, ArticleDraft(title="Гавань знову відкрита", body="Кораблі."))
        change = await service.publish(
            ada,
            ArticleDraft(
                title="Страйк поромників завершився після трьох тижнів",
                body="Пороми знову курсують з **понеділка**.\n\n> Нарешті.",
                summary="Екіпажі й оператор погодили новий розклад.",
            ),
        )
        article = change.article.id
        root = await service.add_web_comment(article, "Олена", "Чудова новина!", client_key="1")
        await service.add_web_comment(
            article, "Богдан", "Розклад: https://example.org/ua", parent_id=root.id, client_key="2"
        )
        context = await browser.new_context(bypass_csp=True)
        page = await context.new_page()
        problems: dict[str, list[str]] = {}
        await page.goto(f"{ukrainian.url}/")
        await _check(page, axe_source, "front-uk", problems)
        await page.goto(f"{ukrainian.url}/articles/{article}")
        await playwright.expect(page.locator("#comment-count")).to_have_text("2 коментарі")
        await _check(page, axe_source, "article-uk", problems)
        await context.close()
    finally:
        await ukrainian.stop()
    assert problems == {}


async def test_axe_finds_what_the_site_used_to_have(browser: Any, axe_source: str) -> None:
    # The check can fail: the old Telegram badge (2.57:1) and an image without a text.
    page = await browser.new_page()
    await page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main><p>'
        '<span style="background:#2aabee;color:#fff">Telegram</span>'
        '<img src="x.png"></p></main></body></html>'
    )
    found = " ".join(await _violations(page, axe_source))
    assert "color-contrast" in found and "image-alt" in found
