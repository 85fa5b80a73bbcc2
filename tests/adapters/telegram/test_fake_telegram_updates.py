"""The fake Telegram Bot API server, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageOriginChannel,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
)
from telegram.ext import (
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.adapters.telegram.fake_telegram_helpers import (
    ADMIN,
    CHANNEL,
    DISCUSSION,
    GROUP,
    QUIET_GROUP,
    READER,
    TOKEN,
    bot,
    drain,
    make_bot,
    must,
    tg,
)
from tests.fakes.telegram import (
    FakeTelegram,
    loopback_request,
)
from tests.fakes.wait import wait_for

__all__ = ["bot", "tg"]

pytestmark = [
    pytest.mark.asyncio,
    # PTB 22 warns inside RetryAfter.__init__ unless PTB_TIMEDELTA is set.
    pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"),
]


# ------------------------------------------------------------------------------ updates


async def test_command_reaches_command_handler(tg: FakeTelegram) -> None:
    seen: list[tuple[str, list[str]]] = []

    async def on_ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        seen.append(("ping", list(context.args or [])))
        await update.effective_message.reply_text("pong", do_quote=True)

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        seen.append(("text", [update.effective_message.text or ""]))

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(tg.base_url)
        .request(loopback_request())
        .get_updates_request(loopback_request())
        .updater(None)
        .build()
    )
    app.add_handler(CommandHandler("ping", on_ping))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    async with app:
        addressed = tg.user_sends(GROUP, READER, "/ping@newsbot_test_bot now please")
        assert addressed["entities"] == [{"type": "bot_command", "offset": 0, "length": 22}]
        tg.user_sends(GROUP, READER, "/ping")
        tg.user_sends(GROUP, READER, "/ping@other_bot")  # addressed to another bot
        tg.user_sends(GROUP, READER, "just chatting")
        for update in await drain(app.bot):
            await app.process_update(update)
    assert seen == [
        ("ping", ["now", "please"]),
        ("ping", []),
        ("text", ["just chatting"]),
    ]
    pongs = [m for m in tg.sent if m["text"] == "pong"]
    assert [m["reply_to_message"]["message_id"] for m in pongs] == [addressed["message_id"], 2]
    assert pongs[0]["reply_to_message"]["from"]["id"] == READER


async def test_application_polling_end_to_end(tg: FakeTelegram) -> None:
    received: list[str] = []

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        received.append(update.effective_message.text or "")
        await update.effective_message.reply_text(f"ack {len(received)}")

    tg.user_sends(GROUP, READER, "sent before the bot started")
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(tg.base_url)
        .request(loopback_request())
        .get_updates_request(loopback_request())
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, on_text))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=10, drop_pending_updates=True)
        await app.start()
        tg.user_sends(GROUP, READER, "hello")
        tg.user_sends(GROUP, READER, "again")
        await wait_for(lambda: len(tg.sent) == 2, what="two acknowledgements")
        await app.updater.stop()
        await app.stop()
    assert received == ["hello", "again"]  # the dropped update never arrived
    assert [m["text"] for m in tg.sent] == ["ack 1", "ack 2"]
    assert tg.pending_updates() == 0  # PTB confirmed what it processed when stopping
    assert tg.calls_to("deleteWebhook")[0]["drop_pending_updates"] is True


async def test_privacy_mode_hides_chatter_from_non_admin_bot(tg: FakeTelegram, bot: Bot) -> None:
    tg.user_sends(QUIET_GROUP, READER, "chatter the bot must not see")
    command = tg.user_sends(QUIET_GROUP, READER, "/help")
    mine = await bot.send_message(QUIET_GROUP, "I am here")
    reply = tg.user_sends(QUIET_GROUP, READER, "answering the bot", reply_to=mine.message_id)
    updates = await drain(bot)
    assert [u.message.message_id for u in updates if u.message] == [
        command["message_id"],
        reply["message_id"],
    ]
    assert len(tg.messages(QUIET_GROUP)) == 4  # everything exists, the bot just isn't told


async def test_bot_channel_post_is_forwarded_to_discussion(tg: FakeTelegram, bot: Bot) -> None:
    post = await bot.send_message(CHANNEL, "<b>Article</b>", parse_mode="HTML")
    assert post.sender_chat is not None and post.sender_chat.id == CHANNEL
    assert post.from_user is None
    updates = await drain(bot)
    assert len(updates) == 1
    forwarded = updates[0].message
    assert forwarded is not None
    assert forwarded.chat.id == DISCUSSION
    assert forwarded.is_automatic_forward is True
    assert forwarded.sender_chat is not None and forwarded.sender_chat.id == CHANNEL
    assert forwarded.from_user is not None and forwarded.from_user.id == 777000
    assert isinstance(forwarded.forward_origin, MessageOriginChannel)
    assert forwarded.forward_origin.chat.id == CHANNEL
    assert forwarded.forward_origin.message_id == post.message_id
    assert forwarded.text == "Article" and forwarded.entities[0].type == "bold"
    assert forwarded.api_kwargs["forward_from_message_id"] == post.message_id
    assert must(tg.discussion_copy(CHANNEL, post.message_id))["message_id"] == forwarded.message_id

    by_admin = tg.channel_post(CHANNEL, "Posted by a human admin")
    kinds = [(u.channel_post is not None, u.message is not None) for u in await drain(bot)]
    assert kinds == [(True, False), (False, True)]
    assert tg.discussion_copy(CHANNEL, by_admin["message_id"]) is not None


async def test_replies_carry_the_replied_message_and_thread(tg: FakeTelegram, bot: Bot) -> None:
    post = await bot.send_message(CHANNEL, "Article")
    copy_id = must(tg.discussion_copy(CHANNEL, post.message_id))["message_id"]
    comment = tg.user_sends(DISCUSSION, READER, "first!", reply_to=copy_id)
    answer = tg.user_sends(DISCUSSION, ADMIN, "welcome", reply_to=comment["message_id"])
    updates = await drain(bot)
    first, second = (u.message for u in updates[1:])
    assert first is not None and second is not None
    assert first.reply_to_message is not None
    assert first.reply_to_message.is_automatic_forward is True
    assert first.reply_to_message.message_id == copy_id
    assert first.from_user is not None and first.from_user.username == "bob"
    assert first.message_thread_id == copy_id
    assert second.reply_to_message is not None
    assert second.reply_to_message.message_id == comment["message_id"]
    assert second.reply_to_message.reply_to_message is None  # one level deep, like Telegram
    assert second.message_thread_id == copy_id
    assert answer["reply_to_message"]["text"] == "first!"

    reply = await bot.send_message(
        DISCUSSION, "thanks", reply_parameters=ReplyParameters(comment["message_id"])
    )
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "first!"
    assert reply.message_thread_id == copy_id
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(DISCUSSION, "x", reply_parameters=ReplyParameters(9999))
    lenient = await bot.send_message(
        DISCUSSION,
        "x",
        reply_parameters=ReplyParameters(9999, allow_sending_without_reply=True),
    )
    assert lenient.reply_to_message is None


async def test_get_updates_offset_and_redelivery(tg: FakeTelegram, bot: Bot) -> None:
    for text in ("one", "two", "three"):
        tg.user_sends(GROUP, READER, text)
    first = await bot.get_updates(timeout=0)
    ids = [u.update_id for u in first]
    assert [u.message.text for u in first if u.message] == ["one", "two", "three"]
    assert ids == sorted(ids) and len(set(ids)) == 3
    again = await bot.get_updates(timeout=0)  # not confirmed: delivered again
    assert [u.update_id for u in again] == ids
    limited = await bot.get_updates(timeout=0, limit=1)
    assert [u.update_id for u in limited] == ids[:1]

    rest = await bot.get_updates(offset=ids[1], timeout=0)
    assert [u.update_id for u in rest] == ids[1:]
    assert tg.pending_updates() == 2 and tg.confirmed_offset == ids[1]
    assert await bot.get_updates(offset=ids[2] + 1, timeout=0) == ()
    assert tg.pending_updates() == 0
    assert await bot.get_updates(offset=ids[0], timeout=0) == ()  # gone for good

    message = await bot.send_message(
        GROUP,
        "vote",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Up", callback_data="up")]]),
    )
    tg.user_sends(GROUP, READER, "noise")
    tg.callback_press(GROUP, message.message_id, READER, "up")
    only_queries = await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    assert [u.callback_query.data for u in only_queries if u.callback_query] == ["up"]
    assert len(only_queries) == 1
    remembered = await bot.get_updates(timeout=0)  # the filter sticks, as on Telegram
    assert [u.update_id for u in remembered] == [u.update_id for u in only_queries]
    query = only_queries[0].callback_query
    assert query is not None and query.message is not None
    assert query.message.message_id == message.message_id
    assert await bot.answer_callback_query(query.id, text="Counted")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    assert tg.callback_answers[0]["text"] == "Counted"


async def test_long_poll_wakes_on_new_update(tg: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await wait_for(lambda: tg.active_polls == 1, what="the long poll to arrive")
    started = time.monotonic()
    tg.user_sends(GROUP, READER, "wake up")
    updates = await asyncio.wait_for(poll, 3)
    assert [u.message.text for u in updates if u.message] == ["wake up"]
    assert time.monotonic() - started < 1.0
    assert tg.active_polls == 0

    started = time.monotonic()
    assert (
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=dtm.timedelta(seconds=0.3))
        == ()
    )
    assert time.monotonic() - started >= 0.25  # it did wait for the timeout

    # A second bot instance polling at the same time ends the first poll, as on Telegram.
    first_poll = asyncio.create_task(bot.get_updates(timeout=5))
    await wait_for(lambda: tg.active_polls == 1, what="the first long poll")
    async with make_bot(tg) as second_instance:
        second_poll = asyncio.create_task(second_instance.get_updates(timeout=5))
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
            await asyncio.wait_for(first_poll, 3)
        await wait_for(lambda: tg.active_polls == 1, what="the second long poll")
        tg.user_sends(GROUP, READER, "for the survivor")
        assert len(await asyncio.wait_for(second_poll, 3)) == 1
