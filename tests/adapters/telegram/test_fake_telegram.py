"""The fake Telegram Bot API server, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    InvalidToken,
)

from tests.adapters.telegram.fake_telegram_helpers import (
    GROUP,
    READER,
    TOKEN,
    bot,
    make_bot,
    tg,
)
from tests.fakes.telegram import (
    FakeTelegram,
    entity_text,
    run_in_subprocess,
    utf16_len,
)

__all__ = ["bot", "tg"]

pytestmark = [
    pytest.mark.asyncio,
    # PTB 22 warns inside RetryAfter.__init__ unless PTB_TIMEDELTA is set.
    pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"),
]


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
