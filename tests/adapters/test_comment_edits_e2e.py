"""Edits of a mirrored comment through the real clients and the fake servers (issue 16,
item 12): a Telegram reader edits a reply that was mirrored to a Discord thread.

Edits are paced by the intake limits (30 quick edits make a handful of Discord edit calls,
the last one with the final text) and held by ``mirror_delay`` like new comments (a moderator
who deletes the comment in the hold keeps the edited text off Discord). SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from newsbot import (
    Actor,
    ArticleDraft,
    Comment,
    DestinationKind,
    Dispatcher,
    IntakeLimits,
    MessageRef,
    NewDestination,
    NewsService,
    Platform,
)
from newsbot.ports import Store
from storage import open_store
from tests.adapters.both_platforms import both_platforms
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wait import wait_for
from tests.pg import BOTH
from tests.telegram_helpers import GROUP, READER

STORE_BACKENDS = BOTH

TG = Platform.TELEGRAM
DC = Platform.DISCORD


@dataclass
class Bridge:
    tg: FakeTelegram
    dc: FakeDiscord
    store: Store
    service: NewsService
    dispatcher: Dispatcher
    channel: int
    thread: int = 0  # the Discord thread on the article's post
    group_post: int = 0  # the article's post in the Telegram group

    async def publish(self) -> None:
        operator = Actor.operator()
        await self.service.subscribe(
            operator, NewDestination(TG, str(GROUP), DestinationKind.GROUP)
        )
        await self.service.subscribe(
            operator, NewDestination(DC, str(self.channel), DestinationKind.CHANNEL)
        )
        draft = ArticleDraft("Edits", "Comment, then edit.")
        article = (await self.service.publish(operator, draft)).article
        await self.dispatcher.drain(20)
        posts = {
            s.destination.chat_id: s.delivery for s in await self.service.deliveries(article.id)
        }
        self.thread = int(posts[str(self.channel)].thread_id or 0)
        self.group_post = int(posts[str(GROUP)].message_id or 0)
        assert self.thread and self.group_post

    async def comment(self, text: str) -> tuple[int, Comment, dict[str, Any]]:
        """A reader replies in the Telegram group; returns the message id, the comment and
        its copy in the Discord thread once mirrored."""
        sent = self.tg.user_sends(GROUP, READER, text, reply_to=self.group_post)
        source = MessageRef(TG, str(GROUP), str(sent["message_id"]))
        stored: list[Comment] = []

        async def is_stored() -> bool:
            comment = await self.store.get_comment_by_source(source)
            stored[:] = [comment] if comment is not None else []
            return bool(stored)

        await wait_for(is_stored, 10, "the reply to be stored")
        await wait_for(lambda: self.copy(text) is not None, 20, "the reply to reach Discord")
        copy = self.copy(text)
        assert copy is not None
        return int(sent["message_id"]), stored[0], copy

    def copy(self, text: str) -> dict[str, Any] | None:
        for message in self.dc.messages(self.thread):
            if message["_author_id"] == self.dc.bot_id and text in message["content"]:
                return message
        return None

    def edits_of(self, copy: dict[str, Any], since: int = 0) -> list[Any]:
        path = f"/channels/{self.thread}/messages/{copy['id']}"
        return [r for r in self.dc.requests[since:] if r[0] == "PATCH" and r[1] == path]

    async def text_is(self, message_id: int, text: str) -> bool:
        source = MessageRef(TG, str(GROUP), str(message_id))
        comment = await self.store.get_comment_by_source(source)
        return comment is not None and comment.text == text


@asynccontextmanager
async def bridge(database: str, **options: Any) -> AsyncIterator[Bridge]:
    async with open_store(database) as store, both_platforms(store, **options) as both:
        yield Bridge(both.tg, both.dc, store, both.service, both.dispatcher, both.channel)


async def test_thirty_edits_make_a_few_discord_edits(database: str) -> None:
    """The issue's case, at twice the pace: 30 edits in 7.5 s (before, 30 in 15 s made 19
    Discord edit calls). The comment and four edits fill the author's allowance; the other
    26 edits make one more call, with the final text, once the window has passed."""
    per_author, window = 5, 10.0
    limits = IntakeLimits(per_author=per_author, per_chat=60, window=window)
    async with bridge(database, intake=limits) as b:
        await b.publish()
        started = time.monotonic()
        message_id, _, copy = await b.comment("first words")
        before = len(b.dc.requests)
        for n in range(30):
            b.tg.user_edits(GROUP, message_id, f"edit {n}")
            await asyncio.sleep(0.25)  # a reader editing by hand: paces the input, not a wait
        await wait_for(lambda: b.text_is(message_id, "edit 29"), 20, "the last edit stored")
        took = time.monotonic() - started
        await wait_for(
            lambda: "edit 29" in b.dc.message(int(copy["id"]))["content"],
            window + 20,
            "the last edit to reach Discord",
        )
        await b.dispatcher.drain(20)
        # The author's allowance per window the edits took (the comment took one), plus the
        # paced update with the final text.
        allowed = per_author * (1 + int(took // window))
        edits = b.edits_of(copy, before)
        assert 1 <= len(edits) <= allowed, (len(edits), allowed, took)
        assert "edit 29" in edits[-1][2]["content"]


async def test_an_edit_is_held_and_a_moderator_can_stop_it(database: str) -> None:
    hold = 3.0
    async with bridge(database, mirror_delay=hold) as b:
        await b.publish()
        message_id, comment, copy = await b.comment("innocent words")
        before = len(b.dc.requests)
        b.tg.user_edits(GROUP, message_id, "SPAM buy now")
        await wait_for(lambda: b.text_is(message_id, "SPAM buy now"), 10, "the edit stored")
        edited = await b.service.comment(comment.id)
        assert edited.edited_at is not None
        (mirror,) = await b.service.store.deliveries_for_comment(comment.id)
        due = mirror.delivery.next_attempt_at
        assert due is not None and (due - edited.edited_at).total_seconds() >= hold
        assert "innocent words" in b.dc.message(int(copy["id"]))["content"]
        # A moderator removes it within the hold: the copy is deleted, never edited.
        await b.service.delete_comment(Actor.operator(), comment.id)
        await wait_for(lambda: b.copy("innocent words") is None, 20, "the copy deleted")
        await b.dispatcher.drain(20)
        assert not any("SPAM" in str(body) for _, _, body in b.dc.requests[before:])
        assert b.edits_of(copy, before) == []
        # Left alone, an edit arrives once the hold is over.
        message_id, comment, copy = await b.comment("second thoughts")
        b.tg.user_edits(GROUP, message_id, "second thoughts, fixed")
        await wait_for(lambda: b.text_is(message_id, "second thoughts, fixed"), 10, "stored")
        await wait_for(
            lambda: "fixed" in b.dc.message(int(copy["id"]))["content"],
            hold + 20,
            "the held edit to reach Discord",
        )
