"""End to end: replies reach the person they answer. A reader signed in on the web with
Telegram is told in a private Telegram message when someone answers their web comment from
Discord: once, coalesced, and never when off, for a banned replier, for a held reply, or for
their own reply. The real python-telegram-bot and discord.py clients, the fakes, the real web
server, one SQLite store and one Dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.web.signin import SignInConfig
from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    DestinationKind,
    MessageRef,
    NewDestination,
    Platform,
)
from newsbot.people import Proof, Proven, web_author_id
from newsbot.review import DeskSettings, WordList
from storage import SqliteStore
from tests.adapters.both_platforms import BothPlatforms, both_platforms
from tests.adapters.web.test_web_helpers import Client, form_fields, web_client
from tests.adapters.web.test_web_signin import TOKEN, login
from tests.fakes.wait import wait_for
from tests.telegram_helpers import GROUP, OTHER, PUBLIC_URL, READER
from tests.telegram_helpers import World as TelegramWorld
from tests.telegram_helpers import world as tg_world

TG = Platform.TELEGRAM
DC = Platform.DISCORD
__all__ = ["tg_world"]
SIGN_IN = SignInConfig(telegram_token=TOKEN, telegram_bot="news_bot")
NINA = Proven(TG, str(READER), "Nina", Proof.TELEGRAM_LOGIN)
OPERATOR = Actor.operator()


@dataclass
class Thread:
    both: BothPlatforms
    nina: Client
    article: ArticleId
    thread: int  # the Discord thread of the article's post
    copy: int  # the Discord copy of Nina's web comment
    parent: int  # Nina's comment id
    dana: int  # a Discord reader

    def private(self, chat: int = READER) -> list[dict[str, Any]]:
        """The bot's private messages to a Telegram user."""
        return [
            m
            for m in self.both.tg.messages(chat)
            if m.get("from", {}).get("id") == self.both.tg.bot_id
        ]

    async def reply(self, text: str, author: int | None = None) -> dict[str, Any]:
        return await self.both.dc.user_message(
            self.thread, author or self.dana, text, reply_to=self.copy
        )

    async def stored(self, said: dict[str, Any]) -> bool:
        ref = MessageRef(DC, str(said["channel_id"]), str(said["id"]))
        return await self.both.service.comment_by_source(ref) is not None

    async def told(self, text: str) -> None:
        await wait_for(
            lambda: any(text in m.get("text", "") for m in self.private()),
            30,
            f"a private message with {text!r}",
        )


@pytest.fixture
async def thread(tmp_path: Path) -> AsyncIterator[Thread]:
    async with (
        SqliteStore(tmp_path / "newsbot.db") as store,
        both_platforms(store, members=["Dana Discord", "Mallory"]) as both,
        web_client(both.service, sign_in=SIGN_IN) as nina,
    ):
        service = both.service
        service.notifications.delay = timedelta(0)
        await service.subscribe(
            OPERATOR, NewDestination(DC, str(both.channel), DestinationKind.CHANNEL)
        )
        article = (
            await service.publish(OPERATOR, ArticleDraft("Rates <b>up</b>", "Body"))
        ).article
        await both.dispatcher.drain(20)
        [post] = await service.deliveries(article.id)
        discord_thread = int(post.delivery.thread_id or 0)
        signed = await nina.get(
            f"/signin/telegram?{login(service, user=str(READER))}", allow_redirects=False
        )
        assert signed.status == 303
        form = form_fields(await (await nina.get(f"/articles/{article.id}")).text())
        form["text"] = "From the web"
        posted = await nina.post(
            f"/articles/{article.id}/comments", data=form, allow_redirects=False
        )
        assert posted.status == 303
        await both.dispatcher.drain(20)
        [copy] = [
            m
            for m in both.dc.messages(discord_thread)
            if m["_author_id"] == both.dc.bot_id and "From the web" in m["content"]
        ]
        parent = (await service.thread(article.id)).comments[0].comment.id
        yield Thread(
            both, nina, article.id, discord_thread, int(copy["id"]), parent, both.members[0]
        )


async def test_a_discord_reply_reaches_the_telegram_signed_in_reader_once(
    thread: Thread,
) -> None:
    said = await thread.reply("Answer from Discord")
    await wait_for(lambda: thread.stored(said), 30, "the Discord reply stored")
    await thread.told("Answer from Discord")
    await thread.both.dispatcher.drain(20)
    [message] = thread.private()
    reply = (await thread.both.service.thread(thread.article)).comments[0].replies[0].comment
    assert "Rates <b>up</b>" in message["text"]  # the title, as text: no markup
    assert "Dana Discord" in message["text"]
    links = [e["url"] for e in message.get("entities", []) if e["type"] == "text_link"]
    assert links == [f"{PUBLIC_URL}/comments/{reply.id}"]


async def test_none_when_off_banned_held_or_oneself_and_held_replies_told_on_approval(
    thread: Thread,
) -> None:
    service = thread.both.service
    # Off from the web switch: not told.
    switch = form_fields(await (await thread.nina.get("/signin")).text(), "/notifications")
    assert switch["on"] == "0"
    off = await thread.nina.post("/signin/notifications", data=switch, allow_redirects=False)
    assert off.status == 303
    assert "You are not told" in await (await thread.nina.get("/signin")).text()
    said = await thread.reply("While off")
    await wait_for(lambda: thread.stored(said), 30, "the reply while off")
    await service.notifications.switch(TG, str(READER), True)
    # Her own reply on the web: not told.
    await service.add_web_comment(
        thread.article,
        "Nina",
        "Talking to myself",
        parent_id=thread.parent,  # type: ignore[arg-type]
        client_key="nina",
        user_id=web_author_id(NINA),
    )
    # A banned replier's message is not stored: not told.
    mallory = thread.both.members[1]
    await service.ban(OPERATOR, DC, str(mallory))
    await thread.reply("Banned words", author=mallory)
    # A held reply: not told until approved.
    service.desk_settings = DeskSettings(words=WordList(["casino"]))
    held = await thread.reply("Visit my casino")
    await wait_for(lambda: thread.stored(held), 30, "the held reply stored")
    sentinel = await thread.reply("Back on")
    await wait_for(lambda: thread.stored(sentinel), 30, "the sentinel stored")
    await thread.told("Back on")
    await thread.both.dispatcher.drain(20)
    texts = " ".join(m["text"] for m in thread.private())
    for never in ("While off", "Talking to myself", "Banned words", "casino"):
        assert never not in texts
    # Approved: told now.
    comment = await service.comment_by_source(
        MessageRef(DC, str(held["channel_id"]), str(held["id"]))
    )
    assert comment is not None
    await service.desk.approve(OPERATOR, comment.id)
    await thread.told("Visit my casino")


async def test_ten_quick_replies_make_one_message(thread: Thread) -> None:
    both = thread.both
    await both.dispatcher.detach(TG)  # the ten arrive while nothing is sent
    queued = both.service.notifications.queued
    said = [await thread.reply(f"Quick {n}") for n in range(10)]

    async def all_queued() -> bool:
        # Stored, and each one's notice queued (that follows the store by a few awaits).
        stored = all([await thread.stored(one) for one in said])
        return stored and both.service.notifications.queued - queued >= 10

    await wait_for(all_queued, 30, "the ten replies stored and their notices queued")
    both.dispatcher.attach(both.telegram.publisher)
    await thread.told("Quick 9")
    await both.dispatcher.drain(20)
    [message] = thread.private()
    assert "New replies" in message["text"] and "and 5 more" in message["text"]


async def test_a_refused_private_message_turns_notifications_off(thread: Thread) -> None:
    both = thread.both
    stranger = 4242  # a Telegram user who never wrote to the bot
    both.tg.add_user(stranger, "Sam", "sam")
    service = both.service
    await service.people.sign_in(Proven(TG, str(stranger), "Sam", Proof.TELEGRAM_LOGIN))
    sam = await service.add_web_comment(
        thread.article,
        "Sam",
        "Sam here",
        client_key="sam",
        user_id=web_author_id(Proven(TG, str(stranger), "Sam", Proof.TELEGRAM_LOGIN)),
    )
    assert await service.notifications.enabled(TG, str(stranger))
    await service.add_web_comment(
        thread.article, "Bob", "Hi Sam", parent_id=sam.id, client_key="bob", user_id="w:bob"
    )

    async def turned_off() -> bool:
        return not await service.notifications.enabled(TG, str(stranger))

    await wait_for(turned_off, 30, "notifications off after the refusal")
    tried = [c for c in both.tg.calls_to("sendMessage") if c.get("chat_id") == stranger]
    await service.add_web_comment(
        thread.article, "Bob", "Again", parent_id=sam.id, client_key="bob2", user_id="w:bob2"
    )
    await both.dispatcher.drain(20)
    assert [c for c in both.tg.calls_to("sendMessage") if c.get("chat_id") == stranger] == tried


async def test_telegram_notifications_command_in_private_only(tg_world: TelegramWorld) -> None:
    w = tg_world
    await w.start()
    notes = w.service.notifications
    assert not await notes.enabled(TG, str(OTHER))  # no person: off until asked
    answer = await w.say(OTHER, OTHER, "/notifications on")
    assert "Replies to your comments come here." in answer["text"]
    assert await notes.enabled(TG, str(OTHER))
    assert "not sent here" in (await w.say(OTHER, OTHER, "/notifications off"))["text"]
    assert not await notes.enabled(TG, str(OTHER))
    assert "not sent here" in (await w.say(OTHER, OTHER, "/notifications"))["text"]
    refused = await w.say(GROUP, OTHER, "/notifications on")
    assert "private chat" in refused["text"]
    assert not await notes.enabled(TG, str(OTHER))
