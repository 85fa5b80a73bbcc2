"""Telegram and Discord /comments page through a thread without skipping comments that did not fit.

A Telegram message and a Discord embed hold 4,096 characters; a page of long comments used to
be cut short there while "Next" went on after the last comment of the page the service made,
so the comments between the cut and the end of that page were never shown in the chat.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsbot import Actor, ArticleDraft, Author, MessageRef, NewsService, Platform
from newsbot.models import CommentId, IncomingComment
from storage import SqliteStore
from tests.discord_helpers import WorldFactory, fake, make_world
from tests.fakes.telegram import FakeTelegram
from tests.fakes.wait import wait_for
from tests.telegram_helpers import ADMIN, PUBLIC_URL, READER, World, build_world

START = datetime(2026, 1, 1, tzinfo=UTC)
__all__ = ["fake", "make_world"]  # fixtures


async def test_every_long_comment_is_shown_on_some_page(tmp_path: Path) -> None:
    async with FakeTelegram() as tg, SqliteStore(tmp_path / "newsbot.db") as store:
        build_world(tg)
        service = NewsService(
            store, admins={Platform.TELEGRAM: {str(ADMIN)}}, public_url=PUBLIC_URL
        )
        article = (
            await service.publish(Actor.operator(), ArticleDraft("Long talk", "Words"))
        ).article
        root: CommentId | None = None
        for n in range(40):
            stored = await store.ingest_comment(
                IncomingComment(
                    source=MessageRef(Platform.WEB, str(article.id), f"long-{n}"),
                    author=Author("R" * 120, Platform.WEB, f"w:reader{n}"),
                    text=f"comment-{n:02d} " + "word " * 200,
                    created_at=START + timedelta(seconds=n),
                    article_id=article.id,
                    parent_id=root,
                    mirror=False,
                )
            )
            assert stored is not None
            root = root or stored[0].id
        world = World(tg, store, service, tmp_path / "newsbot.db")
        seen: set[str] = set()
        try:
            await world.start()
            message = await world.say(READER, READER, f"/comments {article.id}")
            for _ in range(40):
                assert len(message["text"]) <= 4096
                seen |= set(re.findall(r"comment-\d\d", message["text"]))
                keyboard = message.get("reply_markup", {}).get("inline_keyboard", [[]])[0]
                buttons = [b for b in keyboard if b["text"] == "Next ›"]
                if not buttons:
                    break
                before = message["text"]
                tg.callback_press(
                    READER, message["message_id"], READER, buttons[0]["callback_data"]
                )

                def turned(mid: int = message["message_id"], old: str = before) -> bool:
                    now = tg.message(READER, mid)
                    return now is not None and now["text"] != old

                await wait_for(turned, 30, "the next page of comments")
                message = tg.message(READER, message["message_id"])  # type: ignore[assignment]  # turned() saw it
        finally:
            await world.stop()
    assert seen == {f"comment-{n:02d}" for n in range(40)}


async def test_discord_comments_show_every_long_comment_on_some_page(
    make_world: WorldFactory,
) -> None:
    world = await make_world()
    article = (
        await world.service.publish(Actor.operator(), ArticleDraft("Long talk", "Words"))
    ).article
    root: CommentId | None = None
    for n in range(30):
        stored = await world.store.ingest_comment(
            IncomingComment(
                source=MessageRef(Platform.WEB, str(article.id), f"long-{n}"),
                author=Author("*_" * 60, Platform.WEB, f"w:reader{n}"),
                # Markdown characters: escaping doubles them, the longest a line can be.
                text=f"comment-{n:02d} " + "*_" * 150,
                created_at=START + timedelta(seconds=n),
                article_id=article.id,
                parent_id=root,
                mirror=False,
            )
        )
        assert stored is not None
        root = root or stored[0].id
    payload = await world.fake.slash_command(
        world.guild, world.text, world.reader, "comments", {"article": article.id}
    )
    answer = await world.fake.wait_for_response(payload["id"], timeout=30)
    message_id = world.fake.interactions[int(payload["id"])].original_message_id
    assert message_id is not None
    seen: set[str] = set()
    for _ in range(30):
        description = answer["data"]["embeds"][0]["description"]
        seen |= {m.replace("\\", "") for m in re.findall(r"comment\\?-\d\d", description)}
        components = answer["data"].get("components") or []
        buttons = [c for row in components for c in row["components"]]
        following = [b for b in buttons if b.get("custom_id") == "newsbot:comments:next"]
        if not following or following[0].get("disabled"):
            break
        pressed = await world.fake.press_button(
            world.guild, world.text, world.reader, message_id, "newsbot:comments:next"
        )
        answer = await world.fake.wait_for_response(pressed["id"], timeout=30)
    assert seen == {f"comment-{n:02d}" for n in range(30)}
