"""Signing in with a real browser (Debian's chromium, driven by Playwright), with and without
JavaScript: Discord's OAuth2 flow through the fake Discord (a plain link there and a redirect
back), the Telegram Login Widget's callback with correctly signed data (Telegram's own script
is not reachable from the tests, so the widget's redirect is made by hand), Telegram through
the bot without JavaScript (the bot's proof made by the core call it makes), the signed-in
comment form (the name is the platform's, with its badge), and axe-core on the signed-in pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.web import WebAdapter
from newsbot import NewsService, Platform
from newsbot.people import Proof, Proven, sign_in_payload
from tests.adapters.web.test_web_accessibility import _violations, axe_source
from tests.adapters.web.test_web_browser import ARGS, CHROMIUM
from tests.adapters.web.test_web_helpers import publish
from tests.adapters.web.test_web_signin import CLIENT_ID, CLIENT_SECRET, NINA_DISCORD, config
from tests.adapters.web.test_web_signin import login as telegram_login
from tests.fakes.discord import FakeDiscord

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is missing")
playwright = pytest.importorskip("playwright.async_api")

__all__ = ["axe_source"]  # the session fixture, shared with the accessibility tests


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord("bot-token") as fake:
        fake.add_user(NINA_DISCORD, "nina_b")
        fake.oauth.consenting = NINA_DISCORD
        yield fake


@pytest.fixture
async def site(
    service: NewsService, discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[WebAdapter]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake and the site are http
    adapter = WebAdapter(service, host="127.0.0.1", port=0, sign_in=config(discord))
    await adapter.start()
    # The site's public address is where the browser reaches it: the Discord redirect and
    # the Telegram callback are built on it.
    service.public_url = adapter.url
    discord.oauth.register(CLIENT_ID, CLIENT_SECRET, f"{adapter.url}/signin/discord/callback")
    yield adapter
    await adapter.stop()


@pytest.fixture
async def browser(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    # Without JavaScript means the browser's own setting, as a reader turns it off: the page
    # is then parsed without scripting, so <noscript> shows (the emulated switch alone
    # leaves <noscript> out of the page).
    javascript = getattr(request.node, "callspec", None)
    off = javascript is not None and javascript.params.get("javascript") is False
    args = [*ARGS, "--blink-settings=scriptEnabled=false"] if off else ARGS
    async with playwright.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield browser
        await browser.close()


async def _context(browser: Any, javascript: bool) -> Any:
    context = await browser.new_context(java_script_enabled=javascript)
    # Telegram is out of reach: its widget script is refused at once instead of hanging.
    await context.route("https://telegram.org/**", lambda route: route.abort())
    await context.route("https://oauth.telegram.org/**", lambda route: route.abort())
    return context


async def _comment_signed_in(page: Any, name: str, platform: str, text: str) -> None:
    """The signed-in form: no name field, the platform's name and badge; posting works."""
    expect = playwright.expect
    form = page.locator("#comment-form")
    await expect(form.locator(".signed-in .name")).to_have_text(name)
    await expect(form.locator(f".signed-in .badge.vouched.{platform}")).to_be_visible()
    assert await form.locator("input[name=name]").count() == 0  # not editable
    await page.get_by_label("Comment Text", exact=True).fill(text)
    await page.get_by_role("button", name="Post Comment").click()
    comment = page.locator(".thread .comment", has_text=text).first
    await expect(comment.locator(".text")).to_have_text(text, timeout=30_000)
    await expect(comment.locator(".name")).to_have_text(name)
    await expect(comment.locator(f".badge.vouched.{platform}")).to_be_visible()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_discord_sign_in_and_comment_in_a_real_browser(
    service: NewsService, site: WebAdapter, browser: Any, discord: FakeDiscord, javascript: bool
) -> None:
    article = await publish(service, title="Harbour news", body="Ships.")
    context = await _context(browser, javascript)
    page = await context.new_page()
    expect = playwright.expect
    await page.goto(f"{site.url}/articles/{article.id}")
    await page.get_by_role("link", name="or sign in").click()
    await expect(page.get_by_role("heading", name="Sign in to comment")).to_be_visible()
    # A plain link: to the fake Discord's consent page, which redirects back to the site.
    await page.get_by_role("link", name="Sign in with Discord").click()
    await page.wait_for_url(f"{site.url}/articles/{article.id}*", timeout=30_000)
    await _comment_signed_in(page, "nina_b", "discord", f"Hello from Discord ({javascript})")
    person = await service.people.find(Platform.DISCORD, str(NINA_DISCORD))
    assert person is not None
    (node,) = (await service.thread(article.id)).comments
    assert node.comment.author.name == "nina_b"
    assert discord.oauth.refused == []
    await context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_telegram_callback_signs_in_and_the_page_degrades_without_js(
    service: NewsService, site: WebAdapter, browser: Any, javascript: bool
) -> None:
    article = await publish(service, title="Harbour news", body="Ships.")
    context = await _context(browser, javascript)
    page = await context.new_page()
    expect = playwright.expect
    await page.goto(f"{site.url}/signin?next=/articles/{article.id}")
    # The widget's script tag is there (its load is refused: Telegram is out of reach), and
    # the sign-in through the Telegram app, which needs no script, either way.
    assert await page.locator("script[data-telegram-login=news_bot]").count() == 1
    chat = page.get_by_role("button", name="Sign in through the Telegram app")
    await expect(chat).to_be_visible()
    # Discord stays available either way.
    await expect(page.get_by_role("link", name="Sign in with Discord")).to_be_visible()
    # What the widget does after the user agrees: go to the callback with the signed data.
    await page.goto(f"{site.url}/signin/telegram?{telegram_login(service)}")
    await page.wait_for_url(f"{site.url}/articles/{article.id}*", timeout=30_000)
    await _comment_signed_in(page, "Nina Berg", "telegram", f"Hello from Telegram ({javascript})")
    await page.goto(f"{site.url}/signin")
    await expect(page.get_by_role("heading", name="Signed in as Nina Berg")).to_be_visible()
    # Forged data is refused in the browser too, with a page saying why.
    forged = telegram_login(service, user="778").replace("first_name=Nina", "first_name=Eve")
    response = await page.goto(f"{site.url}/signin/telegram?{forged}")
    assert response is not None and response.status == 403
    await expect(page.get_by_text("could not be verified")).to_be_visible()
    await context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_telegram_sign_in_through_the_bot_in_a_real_browser(
    service: NewsService, site: WebAdapter, browser: Any, javascript: bool
) -> None:
    article = await publish(service, title="Harbour news", body="Ships.")
    context = await _context(browser, javascript)
    page = await context.new_page()
    expect = playwright.expect
    await page.goto(f"{site.url}/signin?next=/articles/{article.id}")
    await page.get_by_role("button", name="Sign in through the Telegram app").click()
    await expect(page.get_by_role("heading", name="Sign in with Telegram")).to_be_visible()
    link = page.get_by_role("link", name="this link to the bot")
    href = await link.get_attribute("href") or ""
    assert href.startswith("https://t.me/news_bot?start=signin-")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.locator("p.message")).to_contain_text("Not yet")
    # What the bot does on /start signin-TOKEN in Nina's private chat (end to end through the
    # Telegram fake in tests/adapters/test_telegram_chat_signin_e2e.py).
    token = sign_in_payload(href.rsplit("=", 1)[1])
    assert token is not None
    nina = Proven(Platform.TELEGRAM, "777", "Nina Berg", Proof.LINK_CODE)
    await service.people.prove_chat_sign_in(token, nina)
    await page.get_by_role("button", name="Continue").click()
    await page.wait_for_url(f"{site.url}/articles/{article.id}*", timeout=30_000)
    await _comment_signed_in(page, "Nina Berg", "telegram", f"Hello via the bot ({javascript})")
    await context.close()


async def test_signed_in_pages_have_no_wcag_a_or_aa_violations(
    service: NewsService, site: WebAdapter, browser: Any, axe_source: str
) -> None:
    article = await publish(service, title="Harbour news", body="Ships.")
    await service.add_web_comment(article.id, "Ann", "First!", client_key="1")
    context = await browser.new_context(bypass_csp=True)  # axe is injected as a script
    await context.route("https://telegram.org/**", lambda route: route.abort())
    page = await context.new_page()
    problems: dict[str, list[str]] = {}
    await page.goto(f"{site.url}/signin?next=/articles/{article.id}")
    await page.get_by_role("button", name="Sign in through the Telegram app").click()
    await page.goto(f"{site.url}/signin/telegram?{telegram_login(service)}")
    await page.wait_for_url(f"{site.url}/articles/{article.id}*", timeout=30_000)
    await _comment_signed_in(page, "Nina Berg", "telegram", "A signed-in comment")
    checks = [
        ("signin-telegram-chat", "/signin/telegram/chat"),
        ("article-signed-in", f"/articles/{article.id}"),
        ("signin-account", "/signin"),
    ]
    for name, path in checks:
        await page.goto(f"{site.url}{path}")
        assert page.url == f"{site.url}{path}"  # no redirect: the page itself
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)
            found = await _violations(page, axe_source)
            if found:
                problems[f"{name} ({scheme})"] = found
    await context.close()
    assert problems == {}
