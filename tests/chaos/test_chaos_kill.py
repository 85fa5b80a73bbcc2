"""SIGKILL the real bot (``python bot.py``) at random moments during a fan-out of one article
to every destination on Telegram and Discord while readers keep replying, restart it each
time, drain, and count: no post lost, no comment lost or doubled, no Discord post doubled,
and Telegram posts repeated only for sends in flight at a kill.

Small by default (100 destinations per platform, 5 kills); NEWSBOT_CHAOS_SCALE=full runs
2,000 per platform and 50 kills. NEWSBOT_CHAOS_SEED replays a run's random choices.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.chaos import kill
from tests.chaos.harness import (
    BotProcess,
    Chaos,
    recorded_posts,
    scale,
    seed,
    sending,
    sending_chats,
)
from tests.fakes.wait import wait_for


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
async def test_sigkill_during_fanout_and_replies(tmp_path: Path, synchronous: str) -> None:
    s, run_seed = scale(), seed()
    chaos = await Chaos.start(tmp_path, s.destinations, synchronous=synchronous)
    try:
        report = await kill.run(chaos, s, random.Random(run_seed), run_seed)
    finally:
        await chaos.stop()
    print(report.summary())
    assert report.kills == s.kills
    assert report.lost_posts == [], "every destination got the article"
    assert report.unrecorded_posts == [], "the database records a post each destination shows"
    assert report.discord_doubled_posts == [], "the nonce makes a Discord resend return the post"
    assert report.discord_doubled_threads == []
    assert report.telegram_repeated <= report.in_flight_telegram, (
        "Telegram repeats only sends in flight at a kill"
    )
    assert report.lost_comments == [], "every reply to a recorded post is stored"
    assert report.replies_to_repeats_stored == report.replies_to_repeats, (
        "replies to the first copy of a repeated Telegram post are stored too"
    )
    assert report.doubled_comments == []
    assert report.stray_comments == []


# -- defects the kill test found (fixed since), one deterministic test each ----------------


class CommentLost(AssertionError):
    """A reader's reply to a post of the bot was never stored."""


async def _expect_stored(chaos: Chaos, reply: dict[str, str], timeout: float = 15.0) -> None:
    try:
        await wait_for(lambda: chaos.is_stored(reply), timeout, f"{reply['text']} stored")
    except AssertionError as error:
        raise CommentLost(f"{reply} was never stored") from error


async def _published(chaos: Chaos) -> BotProcess:
    await chaos.subscribe_all()
    bot = await chaos.running_bot()
    try:
        await chaos.publish()
        await wait_for(chaos.all_recorded, 60, "every post recorded")
    except BaseException:
        bot.cleanup()
        raise
    return bot


async def test_discord_reply_written_while_down_survives_a_newer_live_reply(
    tmp_path: Path,
) -> None:
    """A reply written while the bot is down, then a newer one in the same thread stored
    live while the backfill is still on its way to that thread. Found lost: the backfill
    read each thread only after the newest comment stored from it (fixed in 3463e39 with a
    watermark only the backfill moves).

    The order is made, not hoped for: the fake holds the backfill's read of a newer
    article's thread (read first) until the live reply is stored."""
    chaos = await Chaos.start(tmp_path, 1, platforms=("discord",))
    channel = chaos.dc_world["channels"][0]
    bots: list[BotProcess] = []
    try:
        bots.append(await _published(chaos))
        await chaos.publish("Newer", "Read first by the backfill.")
        await wait_for(lambda: chaos.all_recorded(2), 60, "the newer post recorded")
        await bots[-1].kill()
        older, newer = (recorded_posts(chaos.db, a)[("discord", channel)] for a in (1, 2))
        assert older is not None and newer is not None
        while_down = await _reply_in_thread(chaos, channel, older)
        await _reply_in_thread(chaos, channel, newer)  # so that its thread is read
        await chaos.discord.post(
            "/fault", {"hold": {"method": "GET", "path": f"^/channels/{newer}/messages$"}}
        )
        bots.append(chaos.bot())
        await wait_for(lambda: _held(chaos), 60, "the backfill reading the newer thread")
        live = await _reply_in_thread(chaos, channel, older)
        await wait_for(lambda: chaos.is_stored(live), 60, "the live reply stored")
        reads = (await chaos.discord.get("/stats"))["history_reads"]
        assert reads.get(older, 0) == 0, "the backfill had not read the older thread yet"
        await chaos.discord.post("/fault", {"release": True})
        await _expect_stored(chaos, while_down, timeout=60)
    finally:
        for bot in bots:
            bot.cleanup()
        await chaos.stop()


async def _reply_in_thread(chaos: Chaos, channel: str, post: str) -> dict[str, str]:
    body = {"count": 1, "where": "thread", "post": f"{channel}/{post}"}
    [reply] = await chaos.discord.post("/reply", body)
    return dict(reply)


async def _held(chaos: Chaos) -> bool:
    return int((await chaos.discord.get("/stats"))["held"]) >= 1


async def test_discord_reply_in_the_thread_of_a_post_in_flight_at_a_kill_is_stored(
    tmp_path: Path,
) -> None:
    """A post made (message and thread) but not recorded at a SIGKILL; a reply in its thread
    while the bot is down. Found lost: the backfill ran at READY over the threads recorded
    then, and the resend recorded this one only later (fixed in 3463e39)."""
    chaos = await Chaos.start(tmp_path, 1, platforms=("discord",))
    channel = chaos.dc_world["channels"][0]
    bots: list[BotProcess] = []
    try:
        await chaos.subscribe_all()
        bots.append(await chaos.running_bot())
        # Answers take 2 s: once the post is made, the thread request is waiting in the fake.
        await chaos.discord.post("/fault", {"delay": 2.0})
        await chaos.publish()
        await wait_for(lambda: _discord_posted(chaos), 30, "the post")
        await wait_for(lambda: _thread_requested(chaos), 10, "the thread request in flight")
        await bots[-1].kill()
        await wait_for(lambda: _discord_threads(chaos, channel), 10, "the thread")
        assert sending_chats(chaos.db, "discord") == {channel}, "the kill beat the record"
        await chaos.discord.post("/fault", {"delay": 0})
        post = (await chaos.posts())[("discord", channel)][0]
        [reply] = await chaos.discord.post(
            "/reply", {"count": 1, "where": "thread", "post": f"{channel}/{post}"}
        )
        bots.append(await chaos.running_bot())
        await wait_for(chaos.all_recorded, 30, "the post recorded")
        await _expect_stored(chaos, reply)
    finally:
        for bot in bots:
            bot.cleanup()
        await chaos.stop()


async def _discord_posted(chaos: Chaos) -> bool:
    return any((await chaos.posts()).values())


async def _thread_requested(chaos: Chaos) -> bool:
    return int((await chaos.discord.get("/stats"))["thread_requests"]) >= 1


async def _discord_threads(chaos: Chaos, channel: str) -> bool:
    return int((await chaos.discord.get("/stats"))["threads"][channel]) == 1


async def test_discord_channel_reply_written_while_down_is_stored(tmp_path: Path) -> None:
    """A native reply to the post in the channel itself, written while the bot is down.
    Found lost: the backfill read only threads (fixed in 3463e39)."""
    chaos = await Chaos.start(tmp_path, 1, platforms=("discord",))
    bots: list[BotProcess] = []
    try:
        bots.append(await _published(chaos))
        [live] = await chaos.discord.post("/reply", {"count": 1, "where": "channel"})
        await wait_for(lambda: chaos.is_stored(live), 10, "a live channel reply stored")
        await bots[-1].kill()
        [while_down] = await chaos.discord.post("/reply", {"count": 1, "where": "channel"})
        bots.append(await chaos.running_bot())
        await _expect_stored(chaos, while_down)
    finally:
        for bot in bots:
            bot.cleanup()
        await chaos.stop()


async def test_telegram_reply_to_a_post_repeated_after_a_kill_is_stored(
    tmp_path: Path,
) -> None:
    """A channel post sent and made but not recorded at a SIGKILL is sent again after the
    restart; readers answer the first copy too. Found lost: that copy could not be resolved
    (fixed in 86ae964: a copy is linked by the article address it carries)."""
    chaos = await Chaos.start(tmp_path, 1, platforms=("telegram",))
    channel = chaos.tg_world["channels"][0]
    bots: list[BotProcess] = []
    try:
        await chaos.subscribe_all()
        bots.append(await chaos.running_bot())
        # Answers take 1.5 s: the kill lands while the fake is handling the send, which it
        # completes (Telegram does not undo a message when the client goes away).
        await chaos.telegram.control("delay", {"seconds": 1.5})
        await chaos.publish()
        await wait_for(lambda: _sends(chaos), 30, "the post to be on its way")
        await bots[-1].kill()
        in_flight = sending(chaos.db, "telegram")
        await wait_for(lambda: _posts_in(chaos, channel, 1), 10, "the first post")
        await chaos.telegram.control("delay", {"seconds": 0})
        bots.append(await chaos.running_bot())
        await wait_for(chaos.all_recorded, 30, "the post recorded")
        posts = (await chaos.posts())[("telegram", channel)]
        assert len(posts) == 2 and in_flight == 1, (posts, in_flight)
        [to_first] = await chaos.telegram.post(
            "/reply", {"count": 1, "post": f"{channel}/{posts[0]}"}
        )
        [to_second] = await chaos.telegram.post(
            "/reply", {"count": 1, "post": f"{channel}/{posts[1]}"}
        )
        await wait_for(lambda: chaos.is_stored(to_second), 15, "the reply to the recorded post")
        await _expect_stored(chaos, to_first)
    finally:
        for bot in bots:
            bot.cleanup()
        await chaos.stop()


async def _sends(chaos: Chaos) -> bool:
    calls = (await chaos.telegram.get("/stats"))["calls"]
    return int(calls.get("sendMessage", 0)) >= 1


async def _posts_in(chaos: Chaos, channel: str, count: int) -> bool:
    return len((await chaos.posts())[("telegram", channel)]) >= count
