"""Breaking news on Discord, end to end (discord.py against the fake): the mention chosen for
a channel pings that role only, on breaking posts only; @everyone only when the operator
chose it; other channels and normal posts ping nobody."""

from __future__ import annotations

import pytest

from newsbot import Actor, ArticleDraft, DestinationId, Platform
from newsbot.errors import InvalidInput, NotFound, PermissionDenied
from newsbot.scheduling import Priority
from tests.discord_helpers import World, fake, make_world, world

__all__ = ["fake", "make_world", "world"]
ADMIN = Actor.operator()


async def test_breaking_mentions_the_chosen_role_only(world: World) -> None:
    await world.subscribe(world.text)
    await world.subscribe(world.news)
    await world.service.set_breaking_mention(ADMIN, str(world.text), f"<@&{world.role}>")
    await world.service.publish(ADMIN, ArticleDraft("Routine", "Normal"))
    await world.service.publish(ADMIN, ArticleDraft("Quake", "Now"), priority=Priority.BREAKING)
    await world.dispatcher.drain()
    posts = {m["embeds"][0]["title"]: m for m in world.bot_messages(world.text)}
    assert posts["Quake"]["content"] == f"<@&{world.role}>"
    assert [str(r) for r in posts["Quake"]["_allowed_mentions"]["roles"]] == [str(world.role)]
    assert not posts["Routine"].get("content")
    assert [(str(m), p) for m, p in world.fake.pings] == [
        (str(posts["Quake"]["id"]), f"role:{world.role}")
    ]
    other = {m["embeds"][0]["title"]: m for m in world.bot_messages(world.news)}
    assert not other["Quake"].get("content")  # no mention chosen there


async def test_everyone_is_the_operators_choice_only(world: World) -> None:
    await world.subscribe(world.text)
    with pytest.raises(InvalidInput, match="role id"):
        await world.service.set_breaking_mention(ADMIN, str(world.text), "@mods")
    with pytest.raises(NotFound):
        await world.service.set_breaking_mention(ADMIN, "123456789012345678", "none")
    discord_admin = Actor(Platform.DISCORD, "99", "Lee Listed")
    with pytest.raises(PermissionDenied, match="Only the operator"):
        await world.service.set_breaking_mention(discord_admin, str(world.text), "everyone")
    _, stored = await world.service.set_breaking_mention(ADMIN, str(world.text), "everyone")
    assert stored == "everyone"
    await world.service.publish(ADMIN, ArticleDraft("Quake", "Now"), priority=Priority.BREAKING)
    await world.dispatcher.drain()
    [post] = world.bot_messages(world.text)
    assert post["content"] == "@everyone" and post["mention_everyone"]
    _, stored = await world.service.set_breaking_mention(ADMIN, str(world.text), "none")
    assert stored == ""


async def test_a_channel_template_shapes_its_embed(world: World) -> None:
    text_dest = await world.subscribe(world.text)
    await world.subscribe(world.news)
    template = "{{ title }}\n{{ summary }} **x** @everyone\n{{ link }}"
    await world.service.routing.set_template(ADMIN, DestinationId(text_dest), template)
    world.adapter.publisher.templates.refresh = 0
    await world.service.publish(ADMIN, ArticleDraft("Quake", "Body", summary="Short"))
    await world.dispatcher.drain()
    [post] = world.bot_messages(world.text)
    embed = post["embeds"][0]
    assert embed["title"] == "Quake"
    assert embed["description"].startswith("Short \\*\\*x\\*\\* @\u200beveryone")
    assert not post.get("mention_everyone") and world.fake.pings == []
    [other] = world.bot_messages(world.news)
    assert other["embeds"][0]["description"] == "Short"  # the built-in layout
