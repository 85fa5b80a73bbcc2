"""No update is lost across a crash and none is stored twice.

One test abandons the adapter in the middle of a stream of replies (in process, then rewinds
the saved offset to the worst case); the other runs ``python bot.py`` as a child process and
kills it with SIGKILL mid-stream.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    DestinationKind,
    MessageRef,
    NewDestination,
    Platform,
)
from storage import SqliteStore
from tests.fakes.wait import wait_for
from tests.telegram_helpers import ADMIN, GROUP, OTHER, READER, World, world

__all__ = ["world"]

REPLIES = 200
ROOT = Path(__file__).resolve().parents[3]


async def count_comments(store: SqliteStore, article_id: int) -> int:
    return await store.count_comments(ArticleId(article_id))


async def sources(store: SqliteStore, message_ids: list[int]) -> list[int]:
    """How many comments were stored for each reply message (each must be exactly 1)."""
    found = []
    for message_id in message_ids:
        comment = await store.get_comment_by_source(
            MessageRef(Platform.TELEGRAM, str(GROUP), str(message_id))
        )
        found.append(0 if comment is None else 1)
    return found


async def publish_in_group(w: World) -> int:
    """Subscribe the group, publish one article and return the id of its post there."""
    await w.service.subscribe(
        Actor.operator(), NewDestination(Platform.TELEGRAM, str(GROUP), DestinationKind.GROUP)
    )
    await w.service.publish(Actor.operator(), ArticleDraft("Crash test", "body"))
    await wait_for(lambda: bool(w.bot_messages(GROUP)), 10, "the post")
    return int(w.bot_messages(GROUP)[0]["message_id"])


def send_replies(w: World, post: int, numbers: range) -> list[int]:
    users = (READER, OTHER)
    return [
        w.tg.user_sends(GROUP, users[n % 2], f"reply {n}", reply_to=post)["message_id"]
        for n in numbers
    ]


async def test_abandoned_mid_stream_then_restarted_stores_each_reply_once(world: World) -> None:
    await world.start()
    post = await publish_in_group(world)
    await world.stop()

    sent = send_replies(world, post, range(REPLIES // 2))
    # Every answer 3 s late: the poll that would confirm the stored batch to Telegram is
    # still on its way when the crash comes. (Replies are stored a batch at a time now, so
    # a crash "somewhere in the middle" no longer finds them half done.)
    world.tg.set_delay(3)
    await world.start()
    await wait_for(lambda: _at_least(world, REPLIES // 2), 20, "the first batch to be stored")
    assert world.adapter is not None
    await world.adapter.abort()  # a crash: the batch in progress is abandoned
    world.tg.set_delay(0)
    world.adapter = None
    assert world.dispatcher is not None
    await world.dispatcher.stop(grace=0.1)
    world.dispatcher = None
    stored_at_crash = await count_comments(world.store, 1)
    assert REPLIES // 2 <= stored_at_crash < REPLIES
    update_of = {
        u["message"]["message_id"]: u["update_id"]
        for u in world.tg.enqueued
        if "message" in u and u["message"]["chat"]["id"] == GROUP
    }
    stored = [m for m, seen in zip(sent, await sources(world.store, sent), strict=True) if seen]
    redelivered = [m for m in stored if update_of[m] >= world.tg.confirmed_offset]
    assert redelivered, "the crash should leave stored replies unconfirmed"

    # The worst case: the effects were committed but the offset was never saved. Every
    # update Telegram has not seen confirmed comes again.
    await world.service.save_state("telegram.offset", str(world.tg.confirmed_offset))
    sent += send_replies(world, post, range(REPLIES // 2, REPLIES))
    await world.start()
    await wait_for(lambda: _at_least(world, REPLIES), 30, "every reply to be stored")
    await world.processed()
    assert await count_comments(world.store, 1) == REPLIES
    assert await sources(world.store, sent) == [1] * REPLIES
    page = await world.service.thread(ArticleId(1), limit=100)
    assert page.total == REPLIES


async def _at_least(w: World, count: int) -> bool:
    return await count_comments(w.store, 1) >= count


def bot_process(w: World, db_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NEWSBOT_TELEGRAM_TOKEN": w.tg.token,
        "NEWSBOT_TELEGRAM_API_URL": w.tg.base_url,
        "NEWSBOT_TELEGRAM_ADMINS": str(ADMIN),
        "NEWSBOT_DATABASE": str(db_path),
        "NEWSBOT_WEB": "false",
        "NEWSBOT_LOG_LEVEL": "WARNING",
        # Two readers send 200 replies in seconds: far over the anti-flood limits.
        "NEWSBOT_COMMENTS_PER_AUTHOR": "0",
        "NEWSBOT_COMMENTS_PER_CHAT": "0",
    }
    env.pop("NEWSBOT_DISCORD_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def test_bot_killed_mid_stream_and_restarted_stores_each_reply_once(
    world: World,
) -> None:
    await world.start()
    post = await publish_in_group(world)
    await world.stop()
    sent = send_replies(world, post, range(REPLIES))

    child = bot_process(world, world.db_path)
    try:
        await wait_for(lambda: _at_least(world, 20), 30, "the first bot to store replies")
        child.send_signal(signal.SIGKILL)
        await asyncio.to_thread(child.wait, 10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        assert child.stderr is not None
        child.stderr.close()
    stored_at_kill = await count_comments(world.store, 1)
    assert stored_at_kill < REPLIES, "the bot finished before it was killed"

    child = bot_process(world, world.db_path)
    try:
        await wait_for(lambda: _at_least(world, REPLIES), 30, "the second bot to store the rest")
        await wait_for(lambda: world.tg.pending_updates() == 0, 20, "every update confirmed")
    finally:
        child.send_signal(signal.SIGTERM)
        _, errors = await asyncio.to_thread(child.communicate, None, 15)
    assert child.returncode == 0, errors.decode()
    assert await count_comments(world.store, 1) == REPLIES
    assert await sources(world.store, sent) == [1] * REPLIES
    assert world.tg.token not in errors.decode()
