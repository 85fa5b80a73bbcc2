"""A story's slow mode on its Discord threads (``newsbot.slowmode``).

Discord enforces slow mode itself where it can: each article's thread gets the story's
seconds as its ``rate_limit_per_user`` (at most six hours, Discord's limit), set when the
thread is started and on every edit of the article's post (setting or lifting slow mode
re-sends the story's Discord posts as edits, through the outbox). Members with Manage
Messages, Manage Threads or Manage Channels are not slowed by Discord; the core rule still
holds their comments (and replies to the post in its channel, which no thread slow mode
covers) for review with the reason ``slow``.
"""

from __future__ import annotations

import logging

import discord

from newsbot import slowmode
from newsbot.models import Job
from newsbot.service import NewsService

log = logging.getLogger("newsbot.discord")


async def thread_seconds(service: NewsService, job: Job) -> int:
    """The slow mode the article's Discord thread should have, in seconds."""
    return min(await service.desk.slow_mode(job.article.id), slowmode.DISCORD_MAX)


async def apply(client: discord.Client, service: NewsService, job: Job, thread_id: str) -> None:
    """Give the article's thread its story's slow mode, unless it has it already.

    Only a thread the gateway has in its cache (an active one) is changed: what it has is
    read there, without a request, so an edit of a post costs one read of the store and no
    request when nothing changes. An archived thread (or one not loaded) is left alone:
    Discord refuses changes to it, and the core rule holds what comes too soon; the next
    edit of the post after it wakes sets it. A thread gone, or out of the bot's reach
    (Manage Threads), is logged and left.

    Raises:
        discord.HTTPException: any other refusal (a rate limit, a server error).
    """
    thread = client.get_channel(int(thread_id))
    if not isinstance(thread, discord.Thread) or thread.archived:
        return
    seconds = await thread_seconds(service, job)
    if thread.slowmode_delay == seconds:
        return
    try:
        await thread.edit(slowmode_delay=seconds)
    except discord.HTTPException as exc:
        if exc.status not in (400, 403, 404):
            raise
        log.warning(
            "cannot set the thread's slow mode",
            extra={"article_id": job.article.id, "thread_id": thread_id, "error": str(exc)},
        )
        return
    log.info(
        "thread slow mode set",
        extra={"article_id": job.article.id, "thread_id": thread_id, "seconds": seconds},
    )
