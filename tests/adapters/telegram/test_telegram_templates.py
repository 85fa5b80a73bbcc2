"""A chat's own template and filter on Telegram, end to end (python-telegram-bot against the
fake Bot API): the chat with a template gets its layout, the others the built-in one."""

from __future__ import annotations

import re

from adapters import templates
from newsbot import Actor, ArticleDraft, DestinationId
from tests.adapters.telegram.telegram_e2e_helpers import posts_in, subscribe_all
from tests.telegram_helpers import CHANNEL_B, GROUP, IGNORE_RETRY_AFTER_WARNING, World, world

__all__ = ["world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING


async def test_template_and_filter_per_chat(world: World) -> None:
    await world.start()
    await subscribe_all(world)
    by_chat = {d.chat_id: d.id for d in await world.service.destinations()}
    operator = Actor.operator()
    group = DestinationId(by_chat[str(GROUP)])
    await world.service.routing.set_template(operator, group, templates.READY["headline"])
    await world.service.routing.set_filter(
        operator, DestinationId(by_chat[str(CHANNEL_B)]), "-sport"
    )
    world.adapter.publisher.templates.refresh = 0  # type: ignore[union-attr]
    await world.service.publish(operator, ArticleDraft("Quake @admin", "Body **bold**"))
    await world.service.publish(operator, ArticleDraft("Sport results", "Scores"))
    await world.drain()
    group_posts = [m for m in world.bot_messages(GROUP) if "articles/" in m["text"]]
    assert [p["text"].split("\n")[0] for p in group_posts] == [
        "Quake @\u2060admin",
        "Sport results",
    ]
    assert group_posts[0]["entities"][0]["type"] == "bold"
    # The link names the chat it was posted in (``?via=``, counted as an arrival).
    assert re.search(r"/articles/1\?via=d\d+$", group_posts[0]["text"])
    assert [p["text"].split("\n")[0] for p in posts_in(world, CHANNEL_B)] == ["Quake @admin"]
    # A test post: that chat alone, marked, in the chat's layout, and no page behind it.
    await world.service.routing.test_send(operator, group)
    await world.drain()
    last = world.bot_messages(GROUP)[-1]
    assert last["text"].startswith("[TEST] newsbot test post\n")
    assert [p["text"].split("\n")[0] for p in posts_in(world, CHANNEL_B)] == ["Quake @admin"]
    assert [a.title for a in (await world.service.latest()).articles] == [
        "Sport results",
        "Quake @admin",
    ]
