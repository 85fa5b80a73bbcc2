"""The fake Telegram Bot API server, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from telegram import (
    Bot,
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    MessageOriginChannel,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram import (
    FakeTelegram,
    entity_text,
    loopback_request,
    run_in_subprocess,
    utf16_len,
)
from tests.fakes.wait import wait_for

pytestmark = [
    pytest.mark.asyncio,
    # PTB 22 warns inside RetryAfter.__init__ unless PTB_TIMEDELTA is set.
    pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"),
]

TOKEN = "123456:TEST"
ADMIN = 1001
READER = 1002
CHANNEL = -1001000000001
DISCUSSION = -1001000000002
GROUP = -1001000000003
QUIET_GROUP = -1001000000004  # the bot is a plain member there (privacy mode applies)


@pytest_asyncio.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as fake:
        fake.add_user(ADMIN, "Alice", "alice")
        fake.add_user(READER, "Bob", "bob")
        fake.add_chat(CHANNEL, "channel", "News", "news_channel", admins=[ADMIN], owner=ADMIN)
        fake.add_chat(DISCUSSION, "supergroup", "News chat", admins=[ADMIN], owner=ADMIN)
        fake.link_discussion(CHANNEL, DISCUSSION)
        fake.add_chat(GROUP, "supergroup", "Group", admins=[ADMIN])
        fake.add_chat(QUIET_GROUP, "supergroup", "Quiet", bot_is_admin=False)
        yield fake


@pytest_asyncio.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with make_bot(tg) as client:
        yield client


def make_bot(tg: FakeTelegram, token: str = TOKEN) -> Bot:
    return Bot(
        token,
        base_url=tg.base_url,
        base_file_url=tg.base_file_url,
        request=loopback_request(),
        get_updates_request=loopback_request(),
    )


def must(value: dict[str, Any] | None) -> dict[str, Any]:
    assert value is not None
    return value


def retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def drain(bot: Bot) -> list[Update]:
    """Fetch all pending updates and confirm them."""
    updates = list(await bot.get_updates(timeout=0))
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    return updates


# ------------------------------------------------------------------------------ basics


async def test_get_me_token_and_method_names(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "newsbot_test_bot", True)
    assert me.can_read_all_group_messages is False  # privacy mode on, like a new bot

    with pytest.raises(InvalidToken, match=r"(?i)rejected by the server"):
        async with make_bot(tg, "999:WRONG"):
            pass

    async with httpx.AsyncClient() as client:
        upper = await client.post(f"{tg.base_url}{TOKEN}/GETME")
        unknown = await client.post(f"{tg.base_url}{TOKEN}/noSuchMethod")
        json_body = await client.post(
            f"{tg.base_url}{TOKEN}/sendMessage", json={"chat_id": GROUP, "text": "json body"}
        )
        query = await client.get(f"{tg.base_url}{TOKEN}/getChat", params={"chat_id": GROUP})
    assert upper.status_code == 200 and upper.json()["result"]["username"] == "newsbot_test_bot"
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert json_body.json()["result"]["text"] == "json body"
    assert query.json()["result"]["title"] == "Group"
    assert [name for name, _ in tg.calls][-4:] == [
        "getMe",
        "noSuchMethod",
        "sendMessage",
        "getChat",
    ]


async def test_error_bodies_have_telegram_shape(tg: FakeTelegram) -> None:
    url = f"{tg.base_url}{TOKEN}"
    async with httpx.AsyncClient() as client:
        unauthorized = await client.post(f"{tg.base_url}1:BAD/getMe")
        too_long = await client.post(
            f"{url}/sendMessage", data={"chat_id": GROUP, "text": "x" * 5000}
        )
        tg.fail_next("sendMessage", 429, retry_after=3)
        flood = await client.post(f"{url}/sendMessage", data={"chat_id": GROUP, "text": "x"})
        tg.set_down(True)
        down = await client.post(f"{url}/getMe")
    assert (unauthorized.status_code, unauthorized.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert too_long.status_code == 400
    assert too_long.json()["description"] == "Bad Request: message is too long"
    assert flood.status_code == 429
    assert flood.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    assert down.status_code == 502 and down.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in down.text


async def test_send_text_with_entities_and_html(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(
        GROUP, "Hello 😀 world", entities=[MessageEntity(MessageEntity.BOLD, 6, 8)]
    )
    assert sent.text == "Hello 😀 world"
    assert sent.parse_entities() == {sent.entities[0]: "😀 world"}
    assert sent.from_user is not None and sent.from_user.id == bot.id
    assert tg.sent[-1]["entities"] == [{"type": "bold", "offset": 6, "length": 8}]
    assert tg.sent[-1]["chat"]["id"] == GROUP

    html = '<b>Title</b> &amp; <a href="https://example.com/a?b=1&amp;c=2">link</a> &lt;3'
    message = await bot.send_message(GROUP, html, parse_mode=ParseMode.HTML)
    assert message.text == "Title & link <3"
    stored = tg.messages(GROUP)[-1]
    assert stored["text"] == "Title & link <3"
    assert stored["entities"] == [
        {"type": "bold", "offset": 0, "length": 5},
        {"type": "text_link", "offset": 8, "length": 4, "url": "https://example.com/a?b=1&c=2"},
    ]
    params = tg.calls_to("sendMessage")[-1]
    assert params["parse_mode"] == "HTML" and params["chat_id"] == GROUP

    v2 = await bot.send_message(GROUP, "*Bold* costs 5\\.00\\!", parse_mode=ParseMode.MARKDOWN_V2)
    assert v2.text == "Bold costs 5.00!"
    assert [(e.type, e.offset, e.length) for e in v2.entities] == [("bold", 0, 4)]

    auto = await bot.send_message(GROUP, "Read https://example.com/post #news")
    assert {e.type: auto.parse_entity(e) for e in auto.entities} == {
        "url": "https://example.com/post",
        "hashtag": "#news",
    }


async def test_photo_upload_caption_and_download(tg: FakeTelegram, bot: Bot) -> None:
    photo = await bot.send_photo(
        GROUP, photo=b"\xff\xd8jpeg-bytes", caption="<i>Cover</i>", parse_mode="HTML"
    )
    assert photo.caption == "Cover"
    assert [(e.type, e.offset, e.length) for e in photo.caption_entities] == [("italic", 0, 5)]
    # Multipart upload with nested objects sent as JSON strings inside the form.
    with_markup = await bot.send_photo(
        GROUP,
        photo=b"more-bytes",
        caption="Bold caption",
        caption_entities=[MessageEntity(MessageEntity.BOLD, 0, 4)],
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Read", callback_data="r")]]),
        reply_parameters=ReplyParameters(photo.message_id),
    )
    assert with_markup.caption_entities[0].type == "bold"
    assert with_markup.reply_markup is not None
    assert with_markup.reply_to_message is not None
    assert with_markup.reply_to_message.message_id == photo.message_id
    assert tg.calls_to("sendPhoto")[-1]["caption_entities"] == [
        {"type": "bold", "offset": 0, "length": 4}
    ]
    assert len(photo.photo) == 3 and photo.photo[-1].width == 800
    assert tg.calls_to("sendPhoto")[0]["photo"]["size"] == len(b"\xff\xd8jpeg-bytes")
    file = await bot.get_file(photo.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == b"\xff\xd8jpeg-bytes"

    again = await bot.send_photo(GROUP, photo=photo.photo[0].file_id)
    assert again.photo[0].file_unique_id == photo.photo[0].file_unique_id
    by_url = await bot.send_photo(GROUP, photo="https://example.com/cover.jpg")
    assert by_url.photo and by_url.caption is None
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier/HTTP URL specified"):
        await bot.send_photo(GROUP, photo="not-a-file-id")
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_photo(GROUP, photo=photo.photo[0].file_id, caption="x" * 1025)


async def test_bad_markup_is_rejected_and_nothing_is_sent(tg: FakeTelegram, bot: Bot) -> None:
    for text in ("a < b", "<b>x</i>", "<b>never closed", "AT&T", "<p>para</p>", "<span>x</span>"):
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(GROUP, text, parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)Character '\.' is reserved"):
        await bot.send_message(GROUP, "Costs 5.00", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match=r"(?i)Can't find end of Bold entity"):
        await bot.send_message(GROUP, "*bold", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(GROUP, "😀ab", entities=[MessageEntity("bold", 3, 2)])
    ok = await bot.send_message(GROUP, "😀ab", entities=[MessageEntity("bold", 2, 2)])
    assert ok.parse_entity(ok.entities[0]) == "ab"
    assert [m["text"] for m in tg.sent] == ["😀ab"]


async def test_length_limits_are_utf16(tg: FakeTelegram, bot: Bot) -> None:
    astral = "a" * 4095 + "😀"  # 4096 characters, 4097 UTF-16 code units
    assert len(astral) == 4096 and utf16_len(astral) == 4097
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(GROUP, astral)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(GROUP, "b" * 4097)
    assert (await bot.send_message(GROUP, "a" * 4095)).text == "a" * 4095
    assert (await bot.send_message(GROUP, "😀" * 2048)).text == "😀" * 2048  # exactly 4096
    # The limit applies after parsing: markup does not count.
    long_html = "<b>" + "c" * 4096 + "</b>"
    assert (await bot.send_message(GROUP, long_html, parse_mode="HTML")).text == "c" * 4096
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(GROUP, "  \n ")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(GROUP, "<b></b>", parse_mode="HTML")
    trimmed = await bot.send_message(GROUP, "  padded  ")
    assert trimmed.text == "padded"
    assert len(tg.sent) == 4


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


async def test_my_chat_member_and_forbidden_after_kick(tg: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(DISCUSSION, "still here")
    await drain(bot)  # the automatic forwards etc.
    tg.kick_bot(DISCUSSION)
    tg.kick_bot(CHANNEL)
    updates = await drain(bot)
    changes = [u.my_chat_member for u in updates if u.my_chat_member]
    assert [c.chat.id for c in changes] == [DISCUSSION, CHANNEL]
    assert isinstance(changes[0].old_chat_member, ChatMemberAdministrator)
    assert isinstance(changes[0].new_chat_member, ChatMemberBanned)
    assert changes[0].new_chat_member.user.id == bot.id
    assert changes[0].from_user.id == ADMIN

    with pytest.raises(Forbidden, match=r"(?i)bot was kicked from the supergroup chat"):
        await bot.send_message(DISCUSSION, "hello?")
    with pytest.raises(Forbidden, match=r"(?i)bot was kicked from the channel chat"):
        await bot.send_message(CHANNEL, "hello?")
    with pytest.raises(Forbidden, match=r"(?i)bot was kicked from the supergroup chat"):
        await bot.edit_message_text("edited", chat_id=DISCUSSION, message_id=1)
    tg.user_sends(DISCUSSION, READER, "the bot no longer hears this")
    assert tg.pending_updates() == 0

    tg.add_bot_to_chat(DISCUSSION)
    back = (await drain(bot))[0].my_chat_member
    assert back is not None and isinstance(back.new_chat_member, ChatMemberAdministrator)
    assert (await bot.send_message(DISCUSSION, "back")).text == "back"


async def test_channel_rights_and_private_chats(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(-1009, "channel", "Not mine", bot_is_admin=False)
    tg.add_chat(-1010, "channel", "Read only", bot_can_post=False)
    with pytest.raises(Forbidden, match=r"(?i)bot is not a member of the channel chat"):
        await bot.send_message(-1009, "x")
    with pytest.raises(BadRequest, match=r"(?i)need administrator rights in the channel chat"):
        await bot.send_message(-1010, "x")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(-1999, "x")
    with pytest.raises(Forbidden, match=r"(?i)bot can't initiate conversation with a user"):
        await bot.send_message(READER, "hi")
    tg.user_sends(READER, READER, "/start")
    assert (await bot.send_message(READER, "hi")).chat.type == "private"
    tg.kick_bot(READER)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(READER, "hi again")


async def test_429_injection_and_outages(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "flood")
    assert retry_seconds(caught.value) == 7
    assert tg.count_429 == 1 and tg.count_429_by_chat == {GROUP: 1}
    assert (await bot.send_message(GROUP, "after the wait")).text == "after the wait"

    tg.fail_next("sendmessage", 500, count=2, chat_id=CHANNEL)
    assert await bot.send_message(GROUP, "other chats are fine")
    for _ in range(2):
        with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
            await bot.send_message(CHANNEL, "x")
    assert await bot.send_message(CHANNEL, "recovered")

    tg.set_down(True)
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.get_me()
    tg.set_down(False)
    assert (await bot.get_me()).id == bot.id
    assert [m["text"] for m in tg.sent] == ["after the wait", "other chats are fine", "recovered"]


async def test_edit_delete_and_keyboards(tg: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Open", url="https://example.com")]])
    message = await bot.send_message(GROUP, "Draft", reply_markup=keyboard)
    assert tg.sent[-1]["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://example.com"

    edited = await bot.edit_message_text(
        "<b>Final</b>",
        chat_id=GROUP,
        message_id=message.message_id,
        parse_mode="HTML",
        reply_markup=keyboard,
    )
    assert isinstance(edited, Message)
    assert edited.text == "Final" and edited.edit_date is not None
    assert must(tg.message(GROUP, message.message_id))["entities"][0]["type"] == "bold"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>Final</b>",
            chat_id=GROUP,
            message_id=message.message_id,
            parse_mode="HTML",
            reply_markup=keyboard,
        )
    plain = await bot.edit_message_text(
        "<b>Final</b>", chat_id=GROUP, message_id=message.message_id
    )
    assert isinstance(plain, Message)
    assert plain.text == "<b>Final</b>" and plain.reply_markup is None  # markup dropped
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=GROUP, message_id=9999)
    theirs = tg.user_sends(GROUP, READER, "user text")
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("x", chat_id=GROUP, message_id=theirs["message_id"])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(
            GROUP,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("b", callback_data="x" * 65)]]
            ),
        )

    assert await bot.delete_message(GROUP, message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(GROUP, message.message_id)
    assert tg.deleted == [(GROUP, message.message_id)]
    assert [m["message_id"] for m in tg.messages(GROUP)] == [theirs["message_id"]]
    assert [e["text"] for e in tg.edits] == ["Final", "<b>Final</b>"]
    mine_in_quiet = await bot.send_message(QUIET_GROUP, "mine")
    other_in_quiet = tg.user_sends(QUIET_GROUP, READER, "/theirs")
    assert await bot.delete_message(QUIET_GROUP, mine_in_quiet.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message can't be deleted"):
        await bot.delete_message(QUIET_GROUP, other_in_quiet["message_id"])


async def test_chat_members_administrators_and_get_chat(tg: FakeTelegram, bot: Bot) -> None:
    tg.user_sends(DISCUSSION, READER, "hello")
    bot_in_channel = await bot.get_chat_member(CHANNEL, bot.id)
    assert isinstance(bot_in_channel, ChatMemberAdministrator)
    assert bot_in_channel.can_post_messages is True and bot_in_channel.can_manage_chat is True
    assert isinstance(await bot.get_chat_member(CHANNEL, ADMIN), ChatMemberOwner)
    assert isinstance(await bot.get_chat_member(CHANNEL, READER), ChatMemberLeft)
    assert isinstance(await bot.get_chat_member(DISCUSSION, READER), ChatMemberMember)
    with pytest.raises(BadRequest, match=r"(?i)user not found"):
        await bot.get_chat_member(CHANNEL, 424242)

    admins = await bot.get_chat_administrators(CHANNEL)
    assert [(type(a), a.user.id) for a in admins] == [
        (ChatMemberOwner, ADMIN),
        (ChatMemberAdministrator, bot.id),
    ]
    group_admins = await bot.get_chat_administrators(GROUP)
    assert {a.user.id for a in group_admins} == {ADMIN, bot.id}

    info = await bot.get_chat("@news_channel")
    assert isinstance(info, ChatFullInfo)
    assert (info.id, info.type, info.linked_chat_id) == (CHANNEL, "channel", DISCUSSION)
    assert (await bot.get_chat(DISCUSSION)).linked_chat_id == CHANNEL
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat("@nobody_here")


async def test_commands_and_chat_actions(tg: FakeTelegram, bot: Bot) -> None:
    assert await bot.set_my_commands([("start", "Start"), ("latest", "Latest articles")])
    commands = await bot.get_my_commands()
    assert [(c.command, c.description) for c in commands] == [
        ("start", "Start"),
        ("latest", "Latest articles"),
    ]
    assert tg.commands()[1]["command"] == "latest"
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bad-Command", "nope")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert await bot.send_chat_action(GROUP, "typing")
    assert tg.chat_actions == [(GROUP, "typing")]


# ------------------------------------------------------------------------------ flood limits


class ManualClock:
    """A time source the flood-limit tests advance by hand: deterministic and instant."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def test_group_rate_window(tg: FakeTelegram, bot: Bot) -> None:
    clock = ManualClock()
    tg.clock = clock
    tg.set_limits(group_per_min=3, group_window=60, global_per_sec=100)
    for index in range(3):
        await bot.send_message(GROUP, f"burst {index}")
        clock.advance(10)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "one too many")
    assert retry_seconds(caught.value) == 30  # the oldest send leaves the window in 30 s
    assert tg.count_429_by_chat == {GROUP: 1}
    assert await bot.send_message(DISCUSSION, "another chat has its own window")
    clock.advance(29.5)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "still too early")
    assert retry_seconds(caught.value) == 1  # ceil(0.5), never 0
    clock.advance(0.5)
    assert tg.seconds_until_allowed(GROUP) == 0
    assert (await bot.send_message(GROUP, "later")).text == "later"
    assert len([m for m in tg.sent if m["chat"]["id"] == GROUP]) == 4
    assert tg.count_429 == 2


async def test_global_rate_window_counts_edits(tg: FakeTelegram, bot: Bot) -> None:
    clock = ManualClock()
    tg.clock = clock
    tg.set_limits(global_per_sec=4, global_window=1, group_per_min=100)
    first = await bot.send_message(GROUP, "a")
    await bot.send_message(DISCUSSION, "b")
    await bot.edit_message_text("a2", chat_id=GROUP, message_id=first.message_id)
    await bot.send_message(QUIET_GROUP, "c")
    with pytest.raises(RetryAfter):
        await bot.send_message(GROUP, "fifth")
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("a3", chat_id=GROUP, message_id=first.message_id)
    assert tg.count_429 == 2
    assert (
        must(tg.message(GROUP, first.message_id))["text"] == "a2"
    )  # the refused edit changed nothing
    clock.advance(1)
    assert await bot.send_message(GROUP, "fine again")


async def test_private_chat_allows_a_short_burst(tg: FakeTelegram, bot: Bot) -> None:
    clock = ManualClock()
    tg.clock = clock
    tg.user_sends(READER, READER, "/start")
    tg.set_limits(private_burst=3, private_per_sec=1, private_window=1)
    for index in range(3):
        await bot.send_message(READER, f"burst {index}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(READER, "too fast")
    assert retry_seconds(caught.value) == 1
    clock.advance(1)
    assert await bot.send_message(READER, "paced")
    with pytest.raises(RetryAfter):
        await bot.send_message(READER, "too fast again")
    clock.advance(5)  # the bucket refills to the burst size, no further
    for index in range(3):
        await bot.send_message(READER, f"second burst {index}")
    with pytest.raises(RetryAfter):
        await bot.send_message(READER, "over the burst")


async def test_rate_window_in_real_time(tg: FakeTelegram, bot: Bot) -> None:
    tg.set_limits(group_per_min=1, group_window=0.3)
    await bot.send_message(GROUP, "first")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "second")
    assert retry_seconds(caught.value) == 1
    await wait_for(lambda: tg.seconds_until_allowed(GROUP) == 0, timeout=2, what="the window")
    assert (await bot.send_message(GROUP, "second, later")).text == "second, later"


async def test_limits_are_off_unless_enabled(tg: FakeTelegram, bot: Bot) -> None:
    await asyncio.gather(*(bot.send_message(GROUP, f"n{i}") for i in range(25)))
    assert tg.count_429 == 0 and len(tg.sent) == 25


# ------------------------------------------------------------------------------ helpers


async def test_user_sends_builds_realistic_messages(tg: FakeTelegram) -> None:
    photo = tg.user_sends(GROUP, READER, photo=True, caption="/report see this")
    assert photo["caption_entities"][0] == {"type": "bot_command", "offset": 0, "length": 7}
    assert len(photo["photo"]) == 3 and "text" not in photo
    not_a_command = tg.user_sends(GROUP, READER, "/shrug", command=False)
    assert "entities" not in not_a_command
    emoji = tg.user_sends(GROUP, READER, "😀 /start")
    assert entity_text(emoji["text"], emoji["entities"][0]) == "/start"
    assert emoji["entities"][0]["offset"] == 3  # UTF-16 units
    edited = tg.user_edits(GROUP, emoji["message_id"], "changed")
    assert edited["edit_date"] >= edited["date"] and "entities" not in edited
    assert [next(k for k in u if k != "update_id") for u in tg.enqueued] == [
        "message",
        "message",
        "message",
        "edited_message",
    ]


async def test_runs_in_a_subprocess() -> None:
    fake = await asyncio.to_thread(run_in_subprocess)
    try:
        async with Bot("123456:TEST", base_url=fake.base_url) as client:
            assert (await client.get_me()).username == "newsbot_test_bot"
            await asyncio.to_thread(
                fake.control, "send", {"chat_id": -1002, "user_id": 1002, "text": "hi there"}
            )
            updates = await client.get_updates(timeout=0)
            assert [u.message.text for u in updates if u.message] == ["hi there"]
            await client.send_message(-1001, "demo post")
            messages = await asyncio.to_thread(fake.control, "messages", chat_id=-1002)
            assert [m["text"] for m in messages] == ["hi there", "demo post"]
    finally:
        await asyncio.to_thread(fake.stop)
    assert fake.process.returncode is not None
