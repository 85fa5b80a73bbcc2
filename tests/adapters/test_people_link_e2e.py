"""End to end: linking a chat account to a person signed in on the web with a one-time code,
over the real python-telegram-bot and discord.py clients, the fakes and the real web server;
and the refusal to link an account one does not hold."""

from __future__ import annotations

import re

from adapters.web.signin import SignInConfig
from newsbot import NewsService, Platform
from tests.adapters.web.test_web_helpers import Client, web_client
from tests.adapters.web.test_web_signin import TOKEN, login
from tests.discord_helpers import World as DiscordWorld
from tests.discord_helpers import content, ephemeral, fake, make_world, world
from tests.telegram_helpers import OTHER, READER
from tests.telegram_helpers import World as TelegramWorld
from tests.telegram_helpers import world as tg_world

__all__ = ["fake", "make_world", "tg_world", "world"]
SIGN_IN = SignInConfig(telegram_token=TOKEN, telegram_bot="news_bot")
CODE = re.compile(r"\b([A-HJ-NP-Z2-9]{8})\b")


async def signed_in(service: NewsService) -> Client:
    """A browser signed in on the site with Telegram as user 777."""
    context = web_client(service, sign_in=SIGN_IN)
    client = await context.__aenter__()
    response = await client.get(f"/signin/telegram?{login(service)}", allow_redirects=False)
    assert response.status == 303
    client.context = context  # type: ignore[attr-defined]
    return client


async def web_link(client: Client, code: str) -> str:
    response = await client.post("/signin/link", data={"code": code})
    return await response.text()


async def test_telegram_link_codes_go_both_ways(tg_world: TelegramWorld) -> None:
    w = tg_world
    await w.start()
    client = await signed_in(w.service)
    try:
        answer = await w.say(READER, READER, "/link")
        (code,) = CODE.findall(answer["text"])
        assert "/signin" in answer["text"]
        html = await web_link(client, code)
        assert "Linked." in html
        person = await w.service.people.find(Platform.TELEGRAM, str(READER))
        assert person is not None and {a.account_id for a in person.accounts} == {"777", "7"}
        # The reverse: a code from the site, sent to the bot by another account of hers.
        page = await (await client.post("/signin/link", data={})).text()
        (web_code,) = re.findall(r"/link ([A-HJ-NP-Z2-9]{8})", page)
        linked = await w.say(OTHER, OTHER, f"/link {web_code}")
        assert "Linked." in linked["text"]
        again = await w.say(OTHER, OTHER, f"/link {web_code}")
        assert "unknown or has expired" in again["text"]
        group = await w.say(-1001000000004, READER, "/link")
        assert "private chat" in group["text"]
    finally:
        await client.context.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def test_nobody_links_an_account_they_do_not_hold(tg_world: TelegramWorld) -> None:
    """Mallory, signed in on the site, cannot take Rita's Telegram account: only Rita's own
    private chat gives its code, and guessing codes fails and then stops."""
    w = tg_world
    await w.start()
    mallory = await signed_in(w.service)
    try:
        await w.say(READER, READER, "/link")  # Rita asks for a code; Mallory never sees it
        for guess in ("ABCDEFGH", "HGFEDCBA", "ZZZZZZZZ", "22222222", "33333333"):
            assert "unknown or has expired" in await web_link(mallory, guess)
        assert "Too many" in await web_link(mallory, "44444444")
        assert await w.service.people.find(Platform.TELEGRAM, str(READER)) is None
    finally:
        await mallory.context.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def test_discord_link_code_is_ephemeral_and_links(world: DiscordWorld) -> None:
    client = await signed_in(world.service)
    try:
        answer = await world.slash("link", world.reader)
        assert ephemeral(answer)
        (code,) = CODE.findall(content(answer))
        assert "Linked." in await web_link(client, code)
        person = await world.service.people.find(Platform.DISCORD, str(world.reader))
        assert person is not None
        assert {a.platform for a in person.accounts} == {Platform.TELEGRAM, Platform.DISCORD}
        refused = await world.slash("link", world.moderator, code="ABCDEFGH")
        assert ephemeral(refused) and "unknown or has expired" in content(refused)
    finally:
        await client.context.__aexit__(None, None, None)  # type: ignore[attr-defined]
