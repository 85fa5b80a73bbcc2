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


async def apply(client: discord.Client, job: Job, thread_id: str, seconds: int) -> None:
    """Give the thread ``seconds`` of slow mode, unless it has them already (the gateway's
    cached thread says so, without a request). A thread gone or out of the bot's reach is
    logged and left: the core rule still applies.

    Raises:
        discord.HTTPException: any other refusal (a rate limit, a server error).
    """
    thread = client.get_channel(int(thread_id))
    if isinstance(thread, discord.Thread) and thread.slowmode_delay == seconds:
        return
    try:
        if not isinstance(thread, discord.Thread):
            fetched = await client.fetch_channel(int(thread_id))
            if not isinstance(fetched, discord.Thread) or fetched.slowmode_delay == seconds:
                return
            thread = fetched
        await thread.edit(slowmode_delay=seconds)
    except (discord.NotFound, discord.Forbidden) as exc:
        log.warning(
            "cannot set the thread's slow mode",
            extra={"article_id": job.article.id, "thread_id": thread_id, "error": str(exc)},
        )
        return
    log.info(
        "thread slow mode set",
        extra={"article_id": job.article.id, "thread_id": thread_id, "seconds": seconds},
    )
