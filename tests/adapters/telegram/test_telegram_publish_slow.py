"""End to end on Telegram: ``/publish slow=SECONDS`` sets a story's slow mode at publish time
(its option and its dialogue's confirmation); a bad value is refused, translated, and
publishes nothing."""

from __future__ import annotations

from newsbot import ArticleId, slowmode
from newsbot.policy import CommentPolicy
from tests.adapters.telegram.telegram_e2e_helpers import post_in, publish, subscribe_all
from tests.fakes.wait import wait_for
from tests.telegram_helpers import ADMIN, GROUP, IGNORE_RETRY_AFTER_WARNING, World, world

__all__ = ["world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING
BAD = f"Slow mode must be a whole number of seconds from 0 to {slowmode.SLOW_MAX}"


async def test_publish_with_slow_mode_and_bad_values(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    for value in ("soon", "-5", str(slowmode.SLOW_MAX + 1)):
        bad = await world.say(ADMIN, ADMIN, f"/publish slow={value} Title\nBody")
        assert BAD in bad["text"], bad["text"]
    assert (await world.service.latest()).articles == []
    answer = await publish(world, "slow=90 --comments premoderated Slow story\nBody")
    assert "Comments: premoderated." in answer["text"]
    assert "Slow mode: one comment per reader every 90 seconds." in answer["text"]
    assert await world.service.desk.slow_mode(ArticleId(1)) == 90
    assert await world.service.desk.policy(ArticleId(1)) is CommentPolicy.PREMODERATED
    answer = await publish(world, "--slow off Plain story\nBody")
    assert "Slow mode" not in answer["text"]
    assert await world.service.desk.slow_mode(ArticleId(2)) == 0
    twice = await world.say(ADMIN, ADMIN, "/publish slow=5 slow=6 Title\nBody")
    assert "slow= is given twice" in twice["text"]


async def test_a_bad_slow_mode_is_refused_in_german(world: World) -> None:
    await world.start()
    world.tg.add_user(ADMIN, "Ada", "ada", last_name="Admin", language_code="de")
    bad = await world.say(ADMIN, ADMIN, "/publish slow=never Title\nBody")
    assert "Der Slow-Modus muss eine ganze Zahl von Sekunden" in bad["text"], bad["text"]
    assert str(slowmode.SLOW_MAX) in bad["text"]


async def test_the_publish_dialogue_takes_a_slow_mode(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    await world.say(ADMIN, ADMIN, "/publish slow=30")
    await world.say(ADMIN, ADMIN, "Slow story")
    before = len(world.bot_messages(ADMIN))
    world.tg.user_sends(ADMIN, ADMIN, "The body")
    await wait_for(lambda: len(world.bot_messages(ADMIN)) >= before + 2, 10, "the preview")
    question = world.bot_messages(ADMIN)[-1]["text"]
    assert "Comments: the default; slow mode: 30 seconds" in question, question
    bad = await world.say(ADMIN, ADMIN, "slow=forever")
    assert BAD in bad["text"]
    changed = await world.say(ADMIN, ADMIN, "slow=120 comments=closed")
    assert "Comments: closed; slow mode: 120 seconds" in changed["text"]
    off = await world.say(ADMIN, ADMIN, "slow=off")
    assert "Comments: closed; slow mode: off" in off["text"]
    changed = await world.say(ADMIN, ADMIN, "--slow 1")
    assert "slow mode: 1 second " in changed["text"]
    done = await world.say(ADMIN, ADMIN, "yes")
    assert "Published article 1" in done["text"]
    assert "Slow mode: one comment per reader every 1 second." in done["text"]
    assert await world.service.desk.slow_mode(ArticleId(1)) == 1
    assert await world.service.desk.policy(ArticleId(1)) is CommentPolicy.CLOSED
    await world.drain()
    assert str(post_in(world, GROUP).get("text", "")).startswith("Slow story")
