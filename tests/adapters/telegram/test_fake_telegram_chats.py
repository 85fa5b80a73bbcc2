"""The fake Telegram Bot API server, driven by the real python-telegram-bot client."""

from __future__ import annotations

import pytest
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
)
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
)

from tests.adapters.telegram.fake_telegram_helpers import (
    ADMIN,
    CHANNEL,
    DISCUSSION,
    GROUP,
    QUIET_GROUP,
    READER,
    bot,
    drain,
    must,
    retry_seconds,
    tg,
)
from tests.fakes.telegram import (
    FakeTelegram,
)

__all__ = ["bot", "tg"]

pytestmark = [
    pytest.mark.asyncio,
    # PTB 22 warns inside RetryAfter.__init__ unless PTB_TIMEDELTA is set.
    pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"),
]


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
