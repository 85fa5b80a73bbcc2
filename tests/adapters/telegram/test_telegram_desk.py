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
