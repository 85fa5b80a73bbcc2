"""A story closed from Telegram, end to end on every surface: the Telegram post's count line
and the Discord post's footer say so, the Discord thread is locked and archived, the web form
is gone, a Telegram reply (which cannot be prevented) is stored hidden and not mirrored;
reopening takes all of it back.

The real python-telegram-bot and discord.py clients against the fakes, the real aiohttp app.
"""

from __future__ import annotations

from typing import Any

from newsbot import (
    Actor,
    ArticleDraft,
    CommentStatus,
    CountRefresh,
    DestinationKind,
    MessageRef,
    NewDestination,
)
from tests.adapters.test_mirror_e2e import DC, TG, Everywhere, everywhere  # noqa: F401
from tests.fakes.wait import wait_for
from tests.telegram_helpers import ADMIN, GROUP, READER

CLOSED = "🔒 Comments are closed"


def _states(e: Everywhere, post: int, thread: int) -> tuple[bool, bool, bool, bool]:
    """(the line on the Telegram post, on the Discord post, the thread locked, archived)."""
    [tg_post] = [m for m in e.tg.messages(GROUP) if m["message_id"] == post]
    [dc_post] = e.dc_bot_messages(e.channel)
    meta: dict[str, Any] = e.dc.threads[thread]["thread_metadata"]
    return (
        CLOSED in str(tg_post.get("text")),
        CLOSED in dc_post["embeds"][0]["footer"]["text"],
        bool(meta.get("locked")),
        bool(meta["archived"]),
    )


async def test_closed_from_telegram_shows_on_every_platform_and_reopens(
    everywhere: Everywhere,  # noqa: F811
) -> None:
    e = everywhere
    e.service.count_refresh = CountRefresh(min_interval=0.0, per_second=100.0)
    operator = Actor.operator()
    await e.service.subscribe(operator, NewDestination(TG, str(GROUP), DestinationKind.GROUP))
    await e.service.subscribe(
        operator, NewDestination(DC, str(e.channel), DestinationKind.CHANNEL)
    )
    article = (await e.service.publish(operator, ArticleDraft("Closing", "Body"))).article
    await e.drain()
    posts = {s.destination.chat_id: s.delivery for s in await e.service.deliveries(article.id)}
    post = int(posts[str(GROUP)].message_id or 0)
    thread = int(posts[str(e.channel)].thread_id or 0)
    assert _states(e, post, thread) == (False, False, False, False)

    e.tg.user_sends(ADMIN, ADMIN, f"/policy {article.id} closed")
    await wait_for(lambda: _states(e, post, thread) == (True,) * 4, 20, "closed everywhere")
    page = await (await e.web.get(f"/articles/{article.id}")).text()
    assert "Comments are closed" in page and 'name="text"' not in page
    late = e.tg.user_sends(GROUP, READER, "a reply nobody can stop", reply_to=post)

    async def stored_hidden() -> bool:
        ref = MessageRef(TG, str(GROUP), str(late["message_id"]))
        found = await e.service.comment_by_source(ref)
        return found is not None and found.status is CommentStatus.HIDDEN

    await wait_for(stored_hidden, 10, "the late reply stored hidden")
    await e.drain()
    assert not any("nobody can stop" in str(m.get("content")) for m in e.dc.messages(thread))

    e.tg.user_sends(ADMIN, ADMIN, f"/policy {article.id} open")
    await wait_for(lambda: _states(e, post, thread) == (False,) * 4, 20, "open everywhere")
    page = await (await e.web.get(f"/articles/{article.id}")).text()
    assert 'name="text"' in page
