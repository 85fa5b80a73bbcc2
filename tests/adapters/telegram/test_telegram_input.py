"""Malformed command arguments and button data get a clear answer, never a traceback: ASCII
digits only ("²" passes str.isdigit() and fails int()), button data checked before use."""

from __future__ import annotations

import base64
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.telegram.handlers import (
    STALE_BUTTON,
    THREAD_PAGE,
    parse_button,
    parse_chat,
    parse_id,
    parse_topic,
)
from adapters.telegram.publisher import chat_key
from newsbot import Actor, ArticleDraft, ArticleId, InvalidInput
from tests.fakes.wait import wait_for
from tests.telegram_helpers import ADMIN, GROUP, READER, World, world

__all__ = ["world"]

ASCII_DIGITS = frozenset("0123456789")


@given(st.lists(st.text(max_size=20), max_size=3))
def test_parse_id_takes_ascii_digits_or_refuses_with_the_usage(args: list[str]) -> None:
    try:
        value = parse_id(args, "Usage: /x ID")
    except InvalidInput as error:
        refused = str(error)
    else:
        refused = ""
    if refused:
        assert refused == "Usage: /x ID"
        return
    raw = args[0].removeprefix("#")
    assert set(raw) <= ASCII_DIGITS
    assert value == int(raw)


@given(st.text(max_size=80))
def test_button_data_is_understood_or_refused_never_raises(data: str) -> None:
    wanted = parse_button(data)
    if wanted is None or isinstance(wanted, bool):
        assert wanted is None or data in ("pub:yes", "pub:no")
        return
    article_id, cursor = wanted
    assert data == f"cm:{article_id}:{cursor}"
    assert data.isascii()


@given(st.text(max_size=30))
def test_chat_names_are_ids_or_usernames(raw: str) -> None:
    try:
        name = parse_chat(raw, "usage")
    except InvalidInput:
        return
    assert name.isascii()
    key = chat_key(name)  # never raises: a numeric id becomes an int, a @name stays
    assert isinstance(key, int) == (not name.startswith("@"))


@pytest.mark.parametrize("data", ["cm:1:AAAA", "cm:1:", "cm:7:", "cm:1:~abcdef"])
def test_well_formed_button_data(data: str) -> None:
    assert isinstance(parse_button(data), tuple)


@pytest.mark.parametrize(
    "data", ["cm:²:", "cm:1", "cm:1:x:y", "cm:x:", "cm:1:!!", "pub:maybe", "zz", "", "cm:-1:"]
)
def test_malformed_button_data(data: str) -> None:
    assert parse_button(data) is None


def test_topics_are_ascii_digits() -> None:
    assert parse_topic([], "u") is None
    assert parse_topic(["12"], "u") == "12"
    with pytest.raises(InvalidInput):
        parse_topic(["¹²"], "u")


COMMANDS = [
    (READER, "/article ²", "Usage: /article ID"),
    (READER, "/article 1234567890123", "Usage: /article ID"),
    (READER, "/comments ¹", "Usage: /comments ID"),
    (ADMIN, "/retract ³", "Usage: /retract ID"),
    (ADMIN, "/edit ² Title\nbody", "Usage: /edit ID"),
    (ADMIN, "/edit", "Usage: /edit ID"),
    (ADMIN, "/subscribe -¹²", "Name the chat as @username"),
    (ADMIN, "/subscribe @", "Name the chat as @username"),
    (ADMIN, "/unsubscribe -²", "Usage: /unsubscribe"),
    (ADMIN, "/approve ²", "Usage: /approve CHAT_ID"),
    (ADMIN, "/approve -1001 ²", "Usage: /approve CHAT_ID"),
]


async def test_malformed_arguments_get_the_usage_and_no_traceback(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await world.start()
    with caplog.at_level(logging.INFO, logger="newsbot"):
        for user, text, expected in COMMANDS:
            answer = await world.say(user, user, text)
            assert answer["text"].startswith(expected), (text, answer["text"])
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_malformed_button_data_is_answered_politely(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    await world.service.publish(Actor.operator(), ArticleDraft("An article", "body"))
    adapter = await world.start()
    for n in range(THREAD_PAGE + 1):  # a real "Next" button, whose cursor is then changed
        await world.service.add_web_comment(ArticleId(1), "Ann", f"c{n}", client_key=f"k{n}")
    made = (await world.service.thread(ArticleId(1), limit=THREAD_PAGE)).next_cursor
    assert made is not None

    def b64(raw: str) -> str:
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    answers = {
        "cm:²:": STALE_BUTTON,
        "cm:1:x:y": STALE_BUTTON,
        "pub:maybe": STALE_BUTTON,
        "cm:1:AAAA": STALE_BUTTON,
        # Cursors that decode to a position no store can hold, and a forged signature.
        f"cm:1:{b64('2026-01-01T00:00+00:00|99999999999999999999')}": STALE_BUTTON,
        f"cm:1:{b64('0001-01-01T00:00+14:00|1')}": STALE_BUTTON,
        f"cm:1:{made[:-2]}{'AA' if made[-2:] != 'AA' else 'BB'}": STALE_BUTTON,
        "cm:1:~nosuch": "This list has expired; send /comments again.",
        "cm:99:": "There is no article 99.",
    }
    # Telegram only sends the data of a button the bot made: these stand for the buttons of
    # an older version of the bot, or of a bug.
    keyboard = [[InlineKeyboardButton(f"b{n}", callback_data=d)] for n, d in enumerate(answers)]
    sent = await adapter.application.bot.send_message(
        READER, "old page", reply_markup=InlineKeyboardMarkup(keyboard)
    )
    page = world.tg.message(READER, sent.message_id)
    assert page is not None
    with caplog.at_level(logging.INFO, logger="newsbot"):
        for n, (data, expected) in enumerate(answers.items()):
            world.tg.callback_press(READER, page["message_id"], READER, data)
            await wait_for(lambda n=n: len(world.tg.callback_answers) > n, 10, data)  # type: ignore[misc]  # python/mypy#15459: a lambda default binding a loop variable
            assert world.tg.callback_answers[n].get("text") == expected, data
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert world.tg.message(READER, page["message_id"]) == page  # left alone
    # A /ban sent with a malformed reply is not a traceback either.
    assert "Send /ban as a reply" in (await world.say(GROUP, ADMIN, "/ban ²"))["text"]
