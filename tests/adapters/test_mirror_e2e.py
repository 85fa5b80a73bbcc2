"""One thread everywhere: Telegram, Discord and the web page share each article's comments.

The real python-telegram-bot and discord.py clients talk to the fake servers, both adapters
deliver through one Dispatcher from one SQLite store, and the web page is served by the real
aiohttp app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.discord import DiscordAdapter
from adapters.telegram import TelegramAdapter
from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    CommentId,
    DestinationKind,
    Dispatcher,
    MessageRef,
    NewDestination,
    NewsService,
    Platform,
)
from storage import SqliteStore
from tests.adapters.both_platforms import both_platforms
from tests.adapters.web.test_web_helpers import Client, post_comment, web_client
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wait import wait_for
from tests.telegram_helpers import (
    CHANNEL_A,
    DISCUSSION_A,
    GROUP,
    READER,
)

TG = Platform.TELEGRAM
DC = Platform.DISCORD


@dataclass
class Everywhere:
    tg: FakeTelegram
    dc: FakeDiscord
    service: NewsService
    dispatcher: Dispatcher
    web: Client
    telegram: TelegramAdapter
    discord: DiscordAdapter
    channel: int  # the Discord text channel
    reader: int  # a Discord reader

    async def drain(self) -> None:
        await self.dispatcher.drain(20)

    def tg_bot_messages(self, chat: int, *, besides: int = 0) -> list[dict[str, Any]]:
        """The bot's messages in a chat, except message ``besides`` (the article's post)."""
        return [
            m
            for m in self.tg.messages(chat)
            if m.get("from", {}).get("id") == self.tg.bot_id and m["message_id"] != besides
        ]

    def dc_bot_messages(self, channel: int) -> list[dict[str, Any]]:
        return [m for m in self.dc.messages(channel) if m["_author_id"] == self.dc.bot_id]

    async def comment_count(self, article: int) -> int:
        return (await self.service.thread(ArticleId(article))).total


@pytest.fixture
async def everywhere(tmp_path: Path) -> AsyncIterator[Everywhere]:
    async with (
        SqliteStore(tmp_path / "newsbot.db") as store,
        both_platforms(store, members=["Dana Discord"]) as both,
        web_client(both.service) as web,
    ):
        yield Everywhere(
            both.tg,
            both.dc,
            both.service,
            both.dispatcher,
            web,
            both.telegram,
            both.discord,
            both.channel,
            both.members[0],
        )


async def test_one_thread_across_telegram_discord_and_the_web(everywhere: Everywhere) -> None:
    e = everywhere
    operator = Actor.operator()
    for chat, kind in ((CHANNEL_A, DestinationKind.CHANNEL), (GROUP, DestinationKind.GROUP)):
        await e.service.subscribe(operator, NewDestination(TG, str(chat), kind))
    await e.service.subscribe(
        operator, NewDestination(DC, str(e.channel), DestinationKind.CHANNEL)
    )
    article = (
        await e.service.publish(operator, ArticleDraft("One thread", "Comment **anywhere**."))
    ).article
    await e.drain()
    posts = {s.destination.chat_id: s.delivery for s in await e.service.deliveries(article.id)}
    thread = int(posts[str(e.channel)].thread_id or 0)
    assert thread, "the Discord post opened a thread"
    group_post = int(posts[str(GROUP)].message_id or 0)

    # The channel post's copy in the discussion group is linked to the article.
    copy = e.tg.discussion_copy(CHANNEL_A, int(posts[str(CHANNEL_A)].message_id or 0))
    assert copy is not None

    async def copy_linked() -> bool:
        return (
            await e.service.resolve(MessageRef(TG, str(DISCUSSION_A), str(copy["message_id"])))
            is not None
        )

    await wait_for(copy_linked, 10, "the discussion copy to be linked")

    # 1. A Telegram comment in the discussion group reaches Discord, the other group and the page.
    rita = e.tg.user_sends(
        DISCUSSION_A, READER, "Hello from Telegram", reply_to=copy["message_id"]
    )

    async def count_is(n: int) -> bool:
        return await e.comment_count(article.id) == n

    await wait_for(lambda: count_is(1), 10, "the Telegram comment to be stored")
    await e.drain()
    in_thread = e.dc_bot_messages(thread)
    assert len(in_thread) == 1
    assert (
        "(Telegram)" in in_thread[0]["content"]
        and "Hello from Telegram" in in_thread[0]["content"]
    )
    assert in_thread[0]["_allowed_mentions"] == {"parse": []}
    in_group = e.tg_bot_messages(GROUP, besides=group_post)
    assert [m["reply_to_message"]["message_id"] for m in in_group] == [group_post]
    assert "(Telegram)" in in_group[0]["text"] and "Hello from Telegram" in in_group[0]["text"]
    page = await (await e.web.get(f"/articles/{article.id}")).text()
    assert "Hello from Telegram" in page and "1 Comment" in page

    # 2. A Discord reply to the mirrored message becomes its child and reaches Telegram.
    await e.dc.user_message(
        thread, e.reader, "Reply from Discord", reply_to=int(in_thread[0]["id"])
    )
    await wait_for(lambda: count_is(2), 10, "the Discord reply to be stored")
    page_data = await e.service.thread(article.id)
    (top,) = page_data.comments
    assert top.comment.text == "Hello from Telegram"
    assert [r.comment.text for r in top.replies] == ["Reply from Discord"]
    assert top.replies[0].comment.author.platform is DC
    await e.drain()
    answers = [
        m for m in e.tg_bot_messages(DISCUSSION_A) if "Reply from Discord" in m.get("text", "")
    ]
    assert len(answers) == 1
    assert answers[0]["reply_to_message"]["message_id"] == rita["message_id"]  # native reply
    in_group = e.tg_bot_messages(GROUP, besides=group_post)
    assert len(in_group) == 2
    assert in_group[1]["reply_to_message"]["message_id"] == in_group[0]["message_id"]

    # 3. A web comment reaches both platforms.
    response = await post_comment(e.web, article.id, name="Wendy Web", text="From the web page")
    assert response.status == 303
    await wait_for(lambda: count_is(3), 10, "the web comment to be stored")
    await e.drain()
    assert any("From the web page" in m["content"] for m in e.dc_bot_messages(thread))
    assert any(
        "From the web page" in m.get("text", "")
        for m in e.tg_bot_messages(GROUP, besides=group_post)
    )
    assert any("From the web page" in m.get("text", "") for m in e.tg_bot_messages(DISCUSSION_A))

    # 4. Nothing echoed back: each comment appears once per other place, never where it began.
    assert len(e.dc_bot_messages(thread)) == 2  # the Telegram and the web comment
    assert len(e.tg_bot_messages(GROUP, besides=group_post)) == 3  # all three
    assert len(e.tg_bot_messages(DISCUSSION_A)) == 2  # the Discord and the web comment
    assert (await e.service.thread(article.id)).total == 3

    # 5. Deleting the Telegram comment removes every copy, and the page shows it no more.
    telegram_comment = CommentId(top.comment.id)
    await e.service.delete_comment(operator, telegram_comment)
    await e.drain()
    assert not any("Hello from Telegram" in m["content"] for m in e.dc_bot_messages(thread))
    assert not any(
        "Hello from Telegram" in m.get("text", "")
        for m in e.tg_bot_messages(GROUP, besides=group_post)
    )
    page = await (await e.web.get(f"/articles/{article.id}")).text()
    assert "Hello from Telegram" not in page and "From the web page" in page
