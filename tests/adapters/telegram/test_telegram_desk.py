"""End to end: readers' /report on Telegram reaches the moderation queue."""

from __future__ import annotations

from newsbot import Actor, ArticleId
from newsbot.review import View
from tests.adapters.telegram.telegram_e2e_helpers import (
    post_in,
    publish,
    subscribe_all,
    world_ref,
)
from tests.telegram_helpers import (
    ADMIN,
    GROUP,
    IGNORE_RETRY_AFTER_WARNING,
    OTHER,
    READER,
    World,
    world,
)

__all__ = ["world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING


async def test_a_report_reaches_the_queue_and_is_no_comment(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    post = post_in(world, GROUP)["message_id"]
    rude = world.tg.user_sends(GROUP, OTHER, "you <b>fool</b>", reply_to=post)
    await world.processed()
    comment = await world.store.get_comment_by_source(world_ref(GROUP, rude["message_id"]))
    assert comment is not None

    thanks = await world.say(GROUP, READER, "/report insults", reply_to=rude["message_id"])
    assert "a moderator will look" in thanks["text"]
    again = await world.say(GROUP, READER, "/report again", reply_to=rude["message_id"])
    assert "a moderator will look" in again["text"]
    (item,) = await world.service.desk.queue(Actor.operator(), View.REPORTED)
    assert item.comment.id == comment.id
    assert item.reports == 1 and item.report_reasons == ("insults",)
    assert item.comment.author.user_id == str(OTHER)
    # Not a reply to a comment: told how.
    lost = await world.say(GROUP, READER, "/report")
    assert "as a reply to the comment" in lost["text"]
    # The /report messages never became comments.
    assert (await world.service.thread(ArticleId(1))).total == 1


def _bot_texts(world: World) -> list[str]:
    """Everything the bot sent as a message."""
    return [str(c.get("text", "")) for c in world.tg.calls_to("sendMessage")]


async def test_policy_command_and_each_policy_on_telegram(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    post = post_in(world, GROUP)["message_id"]
    refused = await world.say(READER, READER, "/policy 1 closed")
    assert "Only newsbot admins" in refused["text"]
    assert "Usage: /policy" in (await world.say(ADMIN, ADMIN, "/policy 1 maybe"))["text"]
    answer = await world.say(ADMIN, ADMIN, "/policy 1 closed")
    assert answer["text"] == "Article 1: comments are closed."
    late = world.tg.user_sends(GROUP, READER, "too late to say", reply_to=post)
    await world.processed()
    comment = await world.store.get_comment_by_source(world_ref(GROUP, late["message_id"]))
    assert comment is not None and comment.status == "hidden"
    await world.drain()
    assert not any("too late to say" in t for t in _bot_texts(world))
    (item,) = await world.service.desk.queue(Actor.operator(), View.HELD)
    assert item.reasons == ("closed",)

    answer = await world.say(ADMIN, ADMIN, "/policy 1 premoderated")
    assert answer["text"] == "Article 1: comments are premoderated."
    waiting = world.tg.user_sends(GROUP, READER, "please approve me", reply_to=post)
    await world.processed()
    held = await world.store.get_comment_by_source(world_ref(GROUP, waiting["message_id"]))
    assert held is not None and held.status == "hidden"
    await world.service.desk.approve(Actor.operator(), held.id)
    await world.drain()
    assert sum("please approve me" in t for t in _bot_texts(world)) >= 1
    assert (await world.say(ADMIN, ADMIN, "/policy 1 default"))["text"].endswith("are open.")
    assert (await world.say(ADMIN, ADMIN, "/policy 1"))["text"].endswith("are open.")


async def test_slow_mode_on_telegram_holds_a_too_soon_reply_for_review(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await publish(world, "Title\nBody")
    post = post_in(world, GROUP)["message_id"]
    usage = await world.say(ADMIN, ADMIN, "/policy 1 slow soon")
    assert (
        "Usage: /policy ID [open|premoderated|closed|default] [slow SECONDS|off]" in usage["text"]
    )
    answer = await world.say(ADMIN, ADMIN, "/policy 1 slow 3600")
    assert answer["text"] == (
        "Article 1: comments are open. Slow mode: one comment per reader every 3600 seconds."
    )
    assert await world.service.desk.slow_mode(ArticleId(1)) == 3600

    async def reply(user: object, text: str) -> str:
        sent = world.tg.user_sends(GROUP, user, text, reply_to=post)  # type: ignore[arg-type]
        await world.processed()
        found = await world.store.get_comment_by_source(world_ref(GROUP, sent["message_id"]))
        assert found is not None
        return str(found.status)

    assert await reply(READER, "first word") == "visible"
    assert await reply(READER, "second word, too soon") == "hidden"
    assert await reply(OTHER, "another reader") == "visible"
    await world.drain()
    assert not any("too soon" in t for t in _bot_texts(world))  # never mirrored
    (item,) = await world.service.desk.queue(Actor.operator(), View.HELD)
    assert item.comment.text == "second word, too soon" and item.reasons == ("slow",)
    # The policy and slow mode are set together, and "off" reopens it all.
    both = await world.say(ADMIN, ADMIN, "/policy 1 open slow off")
    assert both["text"] == "Article 1: comments are open."
    assert await reply(READER, "free again") == "visible"
