"""What reply notifications and first-comment holding cost the ingestion (``ingest`` group).

The rows beside the plain ones of ``bench.core``: the same replies from the same reader, but
answering comments (one per article, by ten writers) instead of the articles' posts, so each
reply runs the notification path (``Notifications.replied``: the parent, the people behind
both authors, their switches); with the writers signed in each reply also queues a notice
(coalesced into the writer's pending one); with ``NEWSBOT_HOLD_FIRST_COMMENTS`` on each reply
asks whether its author has a visible comment (``Store.has_visible_comment``). A last pair
compares that check with what it replaced, reading every visible comment of the author.
"""

from __future__ import annotations

import asyncio
import dataclasses

from bench import core
from bench.core import TG, Prepare
from bench.report import Result
from newsbot import Author, MessageRef, NewsService, Platform
from newsbot.people import Proof, Proven

VARIANTS = (
    (", first comments held", False, False, True),
    (", replies to comments, nobody told", True, False, False),
    (", replies to comments, writers told", True, True, False),
    (", replies to comments, writers told, first comments held", True, True, True),
)
BEFORE = 2_000
"""Replies in the comparison with the old check, which grows with the author's comments."""


def parents(comments: bool, told: bool, first: bool) -> Prepare:
    """With ``comments``, one comment per article by ten writers (signed in when ``told``),
    answered by the bench's replies instead of the posts; first-comment holding on when
    ``first``."""

    async def prepare(service: NewsService, refs: list[MessageRef]) -> list[MessageRef]:
        targets = await _comments(service, refs, told) if comments else refs
        if first:  # after the writers' comments: they stay visible
            service.desk_settings = dataclasses.replace(service.desk_settings, first_time=True)
        return targets

    return prepare


async def _comments(service: NewsService, refs: list[MessageRef], told: bool) -> list[MessageRef]:
    targets = []
    for i, ref in enumerate(refs):
        writer = Author(f"Writer {i}", TG, str(9000 + i))
        if told:
            await service.people.sign_in(
                Proven(TG, writer.user_id, writer.name, Proof.TELEGRAM_LOGIN)
            )
        source = MessageRef(TG, "-100", f"parent{i}")
        await service.record_reply(reply_to=ref, source=source, author=writer, text="hi")
        targets.append(source)
    return targets


def reading_all(prepare: Prepare) -> Prepare:
    """``prepare``, with the first-comment check as it was: every visible comment read."""

    async def old(service: NewsService, refs: list[MessageRef]) -> list[MessageRef]:
        store = service.store

        async def every(platform: Platform, user_id: str) -> bool:
            return bool(await store.comments_by_author(platform, user_id))

        setattr(store, "has_visible_comment", every)  # noqa: B010 - on this store object only
        return await prepare(service, refs)

    return old


def run(quick: bool, seconds: float, postgres: str | None = None) -> list[Result]:
    """Capacity (closed loop) per variant, and the offered 5,000/s with everything on (for
    at most 5 s: the backlog it leaves takes minutes to store)."""
    count = 5_000 if quick else 20_000
    variants = [(label, parents(*flags)) for label, *flags in VARIANTS]
    all_on, everything = variants[-1]
    if postgres is not None:
        return [asyncio.run(core.ingestion_capacity(count, postgres, everything, all_on))]
    results = [
        asyncio.run(core.ingestion_capacity(count, None, prepare, label))
        for label, prepare in variants
    ]
    offered = min(seconds, 5.0)
    results += asyncio.run(core.ingestion(offered, 5_000, prepare=everything, variant=all_on))
    first = parents(False, False, True)
    for prepare, when in ((first, "existence check"), (reading_all(first), "before")):
        variant = f", first comments held ({when}: {BEFORE:,} replies)"
        results.append(asyncio.run(core.ingestion_capacity(BEFORE, None, prepare, variant)))
    return results
