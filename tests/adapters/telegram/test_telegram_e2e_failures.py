"""End to end: python-telegram-bot against the fake Bot API, with the real service, SQLite
store and dispatcher. People act through the fake (user_sends, callback_press, kick_bot)."""

from __future__ import annotations

import logging

import pytest

from adapters.telegram.handlers import APOLOGY, STALE_BUTTON
from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    DestinationKind,
    NewDestination,
    Platform,
)
from tests.adapters.telegram.telegram_e2e_helpers import (
    post_in,
    publish,
    subscribe_all,
    world_ref,
)
from tests.fakes.wait import wait_for
from tests.telegram_helpers import (
    ADMIN,
    CHANNEL_A,
    GROUP,
    IGNORE_RETRY_AFTER_WARNING,
    OTHER,
    READER,
    World,
    world,
)

__all__ = ["world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING


async def test_offset_is_saved_and_survives_a_restart(world: World) -> None:
    await world.start()
    await world.say(READER, READER, "/help")
    await world.processed()
    last = world.tg.enqueued[-1]["update_id"]
    await wait_for(lambda: _saved_offset(world, last + 1), 5, "the offset to be saved")
    await world.stop()
    await world.start()
    answer = await world.say(READER, READER, "/latest")
    assert "Nothing has been published" in answer["text"]
    helps = [m for m in world.bot_messages(READER) if m["text"].startswith("I publish")]
    assert len(helps) == 1  # the first /help was not answered again


async def _saved_offset(w: World, expected: int) -> bool:
    return await w.service.last_state("telegram.offset") == str(expected)


async def test_survives_an_outage_of_the_bot_api(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await world.start(retry_delay=0.05, retry_cap=0.2, poll_timeout=0.5)
    world.tg.set_down(True)

    def failed_polls() -> int:
        return sum(r.getMessage().startswith("getUpdates failed") for r in caplog.records)

    with caplog.at_level(logging.WARNING, logger="newsbot.telegram"):
        world.tg.user_sends(READER, READER, "/help")
        await wait_for(lambda: failed_polls() >= 3, 10, "failed polls")
    world.tg.set_down(False)
    await wait_for(lambda: bool(world.bot_messages(READER)), 10, "the answer after the outage")
    assert world.bot_messages(READER)[0]["text"].startswith("I publish")
    assert world.tg.token not in caplog.text


async def test_command_answers_do_not_wait_behind_a_fanout(world: World) -> None:
    channels = [-1006000000000 - n for n in range(60)]
    for chat in channels:
        world.tg.add_chat(chat, "channel", f"Channel {chat}", admins=[ADMIN])
        await world.service.subscribe(
            Actor.operator(), NewDestination(Platform.TELEGRAM, str(chat), DestinationKind.CHANNEL)
        )
    world.tg.set_limits()
    await world.start()
    await world.service.publish(Actor.operator(), ArticleDraft("Big", "fan-out"))
    await wait_for(lambda: len(world.tg.sent) >= 10, 10, "the fan-out to start")
    answer = await world.say(READER, READER, "/latest")
    posted = sum(bool(world.bot_messages(chat)) for chat in channels)
    assert "#1 Big" in answer["text"]
    assert posted < len(channels)  # answered while the fan-out was still going
    await world.drain()
    assert all(len(world.bot_messages(chat)) == 1 for chat in channels)
    assert world.tg.count_429 == 0


async def test_a_refused_photo_falls_back_to_text(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    world.tg.fail_next(
        "sendPhoto",
        400,
        description="Bad Request: wrong file identifier/HTTP URL specified",
        chat_id=GROUP,
    )
    await world.service.publish(
        Actor.operator(), ArticleDraft("Pic", "body", image_url="https://img.example/a.png")
    )
    await world.drain()
    assert "photo" in post_in(world, CHANNEL_A)
    fallback = post_in(world, GROUP)
    assert "photo" not in fallback
    assert fallback["text"].startswith("Pic\n\nbody")
    # Editing it later edits the text (there is no caption to edit).
    await world.service.edit(
        Actor.operator(),
        ArticleId(1),
        ArticleDraft("Pic 2", "body", image_url="https://img.example/a.png"),
    )
    await world.drain()
    assert post_in(world, GROUP)["text"].startswith("Pic 2")
    assert post_in(world, CHANNEL_A)["caption"].startswith("Pic 2")


async def test_unchanged_edits_and_vanished_messages_count_as_done(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Same\nbody")
    await world.service.edit(Actor.operator(), ArticleId(1), ArticleDraft("Same", "body"))
    await world.drain()  # Telegram answers "message is not modified"
    world.tg.fail_next(
        "deleteMessage", 400, description="Bad Request: message to delete not found", count=3
    )
    await world.service.retract(Actor.operator(), ArticleId(1))
    await world.drain()
    statuses = await world.service.deliveries(ArticleId(1))
    assert {(s.delivery.state, s.delivery.attempts) for s in statuses} == {("sent", 1)}


async def test_refused_token_is_a_config_error_without_the_token(world: World) -> None:
    from adapters.telegram import TelegramAdapter
    from newsbot import ConfigError

    adapter = TelegramAdapter(world.service, token="999:WRONG-SECRET", api_url=world.tg.base_url)
    with pytest.raises(ConfigError) as caught:
        await adapter.start()
    assert "WRONG-SECRET" not in str(caught.value)
    await adapter.stop()


async def test_starts_while_the_bot_api_is_down(world: World) -> None:
    world.tg.set_down(True)
    await world.start(retry_delay=0.05, retry_cap=0.1)
    await world.service.subscribe(
        Actor.operator(), NewDestination(Platform.TELEGRAM, str(GROUP), DestinationKind.GROUP)
    )
    world.tg.set_down(False)
    answer = await world.say(READER, READER, "/help")
    assert answer["text"].startswith("I publish")
    await world.service.publish(Actor.operator(), ArticleDraft("After", "the outage"))
    await world.drain()
    assert post_in(world, GROUP)["text"].startswith("After")


async def test_a_comment_that_hit_a_storage_failure_is_processed_again(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody waits for a comment: it is fetched again until it is stored (a command is
    answered instead, tests/adapters/telegram/test_telegram_once.py)."""
    await world.start(retry_delay=0.05, retry_cap=0.1)
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    post = post_in(world, GROUP)["message_id"]
    assert world.dispatcher is not None
    await world.dispatcher.stop(grace=1.0)
    world.dispatcher = None
    with caplog.at_level(logging.WARNING, logger="newsbot.telegram"):
        await world.store.close()  # the database goes away for a moment
        reply = world.tg.user_sends(GROUP, READER, "Stored in the end", reply_to=post)
        await wait_for(
            lambda: any("processed again" in r.getMessage() for r in caplog.records),
            10,
            "the failed update to be noticed",
        )
        await world.store.open()
        await world.processed()
    comment = await world.store.get_comment_by_source(world_ref(GROUP, reply["message_id"]))
    assert comment is not None
    assert comment.text == "Stored in the end"
    assert (await world.service.thread(ArticleId(1))).total == 1
    assert world.tg.token not in caplog.text


async def test_a_storage_failure_keeps_the_polls_frequent(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram is fine, only the database is not: the pauses stop growing at
    STORE_RETRY_CAP instead of the minute an outage earns, so commands are not kept waiting."""
    from adapters.telegram.adapter import STORE_RETRY_CAP

    await world.start(retry_delay=0.25, retry_cap=60)
    said = world.tg.user_sends(GROUP, READER, "Anyone here?")
    await world.processed()
    with caplog.at_level(logging.WARNING, logger="newsbot.telegram"):
        await world.store.close()
        reply = world.tg.user_sends(GROUP, OTHER, "Yes", reply_to=said["message_id"])

        def pauses() -> list[float]:
            return [
                r.retry_in  # type: ignore[attr-defined]
                for r in caplog.records
                if r.getMessage().startswith("an update could not be stored")
            ]

        await wait_for(lambda: len(pauses()) >= 5, 30, "five failed rounds")
        await world.store.open()
        await world.processed()
    # Not a comment (it answers no post), but looked up once the database was back.
    assert await world.store.get_comment_by_source(world_ref(GROUP, reply["message_id"])) is None
    assert pauses()[:4] == [0.25, 0.5, 1.0, STORE_RETRY_CAP]
    assert max(pauses()) == STORE_RETRY_CAP


async def test_a_failing_handler_is_logged_and_answered_with_an_apology(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    from adapters.telegram.handlers import run_guarded

    adapter = await world.start()
    answered: list[str] = []

    async def answer(text: str) -> None:
        answered.append(text)

    async def bug() -> None:
        # Every input the handlers parse is checked first (test_telegram_input.py), so a
        # bug is what is left to fail a handler; this stands for one.
        raise KeyError("a bug")

    fields = {"update_id": 7, "chat_id": READER}
    with caplog.at_level(logging.ERROR, logger="newsbot.telegram"):
        await run_guarded(adapter.handlers, "button", 7, fields, bug, answer)
    assert answered == [APOLOGY]
    failure = next(r for r in caplog.records if r.getMessage() == "handler failed")
    assert failure.action == "button"  # type: ignore[attr-defined]
    assert failure.chat_id == READER  # type: ignore[attr-defined]
    assert 7 not in adapter.failed  # not fetched again: a bug would only fail again


async def test_an_unknown_button_is_answered_politely(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    adapter = await world.start()
    # A button whose data the bot cannot parse (as from an older version of the bot).
    broken = InlineKeyboardMarkup([[InlineKeyboardButton("Next", callback_data="cm:x:")]])
    message = await adapter.application.bot.send_message(READER, "old page", reply_markup=broken)
    with caplog.at_level(logging.INFO, logger="newsbot.telegram"):
        world.tg.callback_press(READER, message.message_id, READER, "cm:x:")
        await wait_for(lambda: bool(world.tg.callback_answers), 10, "the answer")
    assert world.tg.callback_answers[0]["text"] == STALE_BUTTON
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(r.getMessage() == "unknown button data" for r in caplog.records)
    answer = await world.say(READER, READER, "/help")  # still running
    assert answer["text"].startswith("I publish")
