"""End to end, without JavaScript: signing in on the web through a private chat with the bot.
The real python-telegram-bot against the Telegram fake, the real web server, plain form posts:
the page's link to the bot, ``/start signin-TOKEN`` in Telegram, then *Continue*."""

from __future__ import annotations

import html
import re

from adapters.web.signin import PERSON_COOKIE
from adapters.web.signin_chat import CHAT_COOKIE
from newsbot import Platform
from newsbot.people import Proof, Proven
from tests.adapters.test_people_link_e2e import SIGN_IN
from tests.adapters.web.test_web_helpers import Client, web_client
from tests.conftest import ADMIN
from tests.telegram_helpers import OTHER, READER
from tests.telegram_helpers import World as TelegramWorld
from tests.telegram_helpers import world as tg_world

__all__ = ["tg_world"]
LINK = re.compile(r'href="https://t\.me/news_bot\?start=(signin-[A-Za-z0-9_-]{32})"')


async def begin(client: Client) -> str:
    """Press *Sign in through the Telegram app* on /signin; the page's ``/start`` parameter."""
    signin = await (await client.get("/signin?next=/articles/1")).text()
    assert 'action="/signin/telegram/chat"' in signin
    response = await client.post("/signin/telegram/chat")
    page = await response.text()
    assert response.status == 200 and str(response.url).endswith("/signin/telegram/chat")
    assert 'action="/signin/telegram/chat/continue"' in page
    (start,) = LINK.findall(html.unescape(page))
    return str(start)


async def press_continue(client: Client) -> tuple[int, str, str]:
    response = await client.post("/signin/telegram/chat/continue", allow_redirects=False)
    return response.status, response.headers.get("Location", ""), await response.text()


async def test_a_reader_signs_in_through_the_bot_without_javascript(
    tg_world: TelegramWorld,
) -> None:
    w = tg_world
    await w.start()
    async with web_client(w.service, sign_in=SIGN_IN) as browser:
        start = await begin(browser)
        secret = browser.session.cookie_jar.filter_cookies(browser.make_url("/signin"))
        assert start.removeprefix("signin-") not in secret[CHAT_COOKIE].value  # a hash only
        status, _, page = await press_continue(browser)
        assert status == 409 and "Not yet" in page
        answer = await w.say(READER, READER, f"/start {start}")
        assert answer["text"] == (
            "You are signed in on news.example: go back to the page and press Continue."
        )
        status, location, _ = await press_continue(browser)
        assert (status, location) == (303, "/articles/1")
        assert PERSON_COOKIE in {c.key for c in browser.session.cookie_jar}
        assert "Signed in as" in await (await browser.get("/signin")).text()
        person = await w.service.people.find(Platform.TELEGRAM, str(READER))
        assert person is not None and person.accounts[0].verified_by == "telegram-chat"
        # Single use on both sides.
        status, _, page = await press_continue(browser)
        assert status == 403 and "please start again" in page
        again = await w.say(OTHER, OTHER, f"/start {start}")
        assert "expired or was used" in again["text"]


async def test_only_the_browser_that_started_it_can_finish(tg_world: TelegramWorld) -> None:
    w = tg_world
    await w.start()
    async with (
        web_client(w.service, sign_in=SIGN_IN) as rita,
        web_client(w.service, sign_in=SIGN_IN) as mallory,
    ):
        start = await begin(rita)
        await begin(mallory)  # a sign-in of Mallory's own, never proven
        await w.say(READER, READER, f"/start {start}")
        status, _, page = await press_continue(mallory)
        assert status == 409 and "Not yet" in page  # Rita's proof is not Mallory's
        bare = await mallory.post("/signin/telegram/chat/continue", allow_redirects=False)
        assert bare.status == 409
        assert (await press_continue(rita))[0] == 303
        # /start with a sign-in in a group proves nothing.
        group = await w.say(-1001000000004, OTHER, f"/start {start}")
        assert "private chat" in group["text"]


async def test_a_banned_reader_is_refused_by_the_bot(tg_world: TelegramWorld) -> None:
    w = tg_world
    await w.start()
    rita = await w.service.people.sign_in(
        Proven(Platform.TELEGRAM, str(READER), "Rita", Proof.TELEGRAM_LOGIN)
    )
    await w.service.people.ban(ADMIN, rita.id)
    async with web_client(w.service, sign_in=SIGN_IN) as browser:
        start = await begin(browser)
        answer = await w.say(READER, READER, f"/start {start}")
        assert answer["text"] == "You can no longer comment here."
        status, _, _ = await press_continue(browser)
        assert status == 409 and PERSON_COOKIE not in {c.key for c in browser.session.cookie_jar}
