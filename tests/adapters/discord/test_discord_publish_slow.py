"""End to end on Discord: ``/publish slow:SECONDS`` sets a story's slow mode at publish time
(with a body, and through the form), the thread of its post gets it; a value out of range is
refused, translated, and publishes nothing."""

from __future__ import annotations

from newsbot import ArticleId, slowmode
from tests.discord_helpers import World, content, ephemeral, fake, make_world, world
from tests.fakes.wait import wait_for

__all__ = ["fake", "make_world", "world"]


def _option(world: World, command: str, name: str) -> dict[str, object]:
    [found] = [c for c in world.fake.commands if c["name"] == command]
    [option] = [o for o in found["options"] if o["name"] == name]
    return dict(option)


async def test_publish_with_slow_mode_slows_the_thread(world: World) -> None:
    slow = _option(world, "publish", "slow")
    assert (slow["type"], slow["min_value"], slow["max_value"]) == (4, 0, slowmode.SLOW_MAX)
    await world.subscribe(world.text)
    answer = await world.slash(
        "publish", world.owner, world.text, title="Slow", body="B", comments="open", slow=45
    )
    said = content(answer)
    assert "Published article 1" in said and "Comments: open." in said
    assert "Slow mode: one comment per reader every 45 seconds." in said
    assert await world.service.desk.slow_mode(ArticleId(1)) == 45
    await world.dispatcher.drain()  # the post, then (if it went out first) its edit
    _post, thread_id = await world.post_of(1, world.text)
    assert thread_id is not None

    def slowed() -> bool:
        return world.fake.channels[int(thread_id)].get("rate_limit_per_user") == 45

    await wait_for(slowed, 20, "the story's thread in slow mode")


async def test_a_slow_mode_out_of_range_is_refused_in_the_members_language(
    world: World,
) -> None:
    await world.subscribe(world.text)
    too_long = slowmode.SLOW_MAX + 1  # Discord's client keeps to the range; the API may not
    refused = await world.slash(
        "publish", world.owner, world.text, title="T", body="B", slow=too_long
    )
    assert ephemeral(refused)
    assert "Slow mode must be a whole number of seconds from 0 to 604800" in content(refused)
    world.fake.users[world.owner]["locale"] = "uk"
    refused = await world.slash("publish", world.owner, world.text, title="T", slow=-1)
    assert ephemeral(refused) and refused["type"] != 9  # refused before the form
    assert "Повільний режим — ціле число секунд від 0 до 604800" in content(refused)
    assert (await world.service.latest()).articles == []


async def test_the_form_keeps_the_slow_option(world: World) -> None:
    await world.subscribe(world.text)
    form = await world.slash("publish", world.owner, world.text, title="Held", slow=600)
    assert form["type"] == 9
    values = {"title": "Held", "summary": "", "body": "Body", "when": "", "comments": ""}
    await world.fake.submit_modal(
        world.guild, world.text, world.owner, form["data"]["custom_id"], values
    )

    async def published() -> bool:  # slow mode is set just after the article is stored
        if not (await world.service.latest()).articles:
            return False
        return await world.service.desk.slow_mode(ArticleId(1)) == 600

    await wait_for(published, 20, "the form's article in slow mode")
