"""The use cases of scheduled articles behind ``NewsService``: list, move and cancel them.

What a scheduled article is, and the rules of its times, are ``newsbot.scheduling``'s; editing
its content is a plain ``publishing.edit`` (a waiting post is sent as the article stands).
"""

from __future__ import annotations

import logging

from newsbot.errors import InvalidInput, NotFound
from newsbot.i18n import N_, Message
from newsbot.models import Actor, ArticleId, Destination, DestinationId, Platform
from newsbot.publishing import Host
from newsbot.scheduling import Schedule, ScheduledArticle, clean_mention, mention_key

log = logging.getLogger("newsbot.service")


async def scheduled(svc: Host, actor: Actor) -> list[ScheduledArticle]:
    """The articles waiting for their time, soonest first (admins only).

    Raises:
        PermissionDenied: the actor is not an admin.
    """
    svc.require_admin(actor, N_("see scheduled articles"))
    return await svc.store.scheduled_articles(svc.clock.now())


async def reschedule(
    svc: Host, actor: Actor, article_id: ArticleId, schedule: Schedule | None
) -> ScheduledArticle | None:
    """Move a scheduled article to ``schedule`` (``None``: out now, everywhere); returns it
    as it now waits, or ``None`` when it went out at once.

    Raises:
        PermissionDenied: the actor is not an admin.
        NotFound: no such article.
        InvalidInput: the article is not scheduled any more (it went out, or was cancelled).
    """
    svc.require_admin(actor, N_("reschedule articles"))
    now = svc.clock.now()
    at = schedule.at if schedule else now
    platforms = dict(schedule.platforms) if schedule else {}
    if not await svc.store.reschedule_article(article_id, at, platforms, now):
        await _refuse(svc, article_id, N_("moved"))
    log.info(
        "article rescheduled",
        extra={"article_id": article_id, "at": at.isoformat()},
    )
    svc._enqueued()
    return await svc.store.scheduled_article(article_id, now)


async def cancel(svc: Host, actor: Actor, article_id: ArticleId) -> None:
    """Take a scheduled article back before it goes out: it becomes a draft, never sent.

    Raises:
        PermissionDenied: the actor is not an admin.
        NotFound: no such article.
        InvalidInput: it is not scheduled any more (retract it instead once it is out).
    """
    svc.require_admin(actor, N_("cancel scheduled articles"))
    if not await svc.store.cancel_scheduled_article(article_id, svc.clock.now()):
        await _refuse(svc, article_id, N_("cancelled"))
    log.info("scheduled article cancelled", extra={"article_id": article_id})
    svc._enqueued()


async def _refuse(svc: Host, article_id: ArticleId, verb: str) -> None:
    if await svc.store.get_article(article_id) is None:
        raise NotFound(N_("There is no article %(id)s."), id=article_id)
    raise InvalidInput(
        N_(
            "Article %(id)s is not scheduled (it is out, or was cancelled), so it cannot "
            "be %(verb)s; edit or retract it instead."
        ),
        id=article_id,
        verb=Message(verb),
    )


async def set_breaking_mention(
    svc: Host, actor: Actor, chat_id: str, value: str, thread_id: str | None = None
) -> tuple[Destination, str]:
    """Choose whom a Discord channel's breaking-news posts mention (a role, ``everyone`` for
    the operator only, or none); returns the channel and the mention as stored.

    Raises:
        PermissionDenied: the actor is not an admin, or not the operator for ``everyone``.
        NotFound: the channel is not subscribed.
        InvalidInput: the mention is malformed.
    """
    svc.require_admin(actor, N_("choose breaking-news mentions"))
    mention = clean_mention(value, actor)
    destination = await svc.store.get_destination(Platform.DISCORD, chat_id, thread_id)
    if destination is None:
        raise NotFound(N_("Discord channel %(id)s is not subscribed."), id=chat_id[:30])
    await svc.store.set_state(mention_key(destination.id), mention)
    log.info(
        "breaking mention set",
        extra={"destination_id": destination.id, "mention": mention or "none"},
    )
    return destination, mention


async def breaking_mention(svc: Host, destination_id: DestinationId) -> str:
    """A channel's breaking-news mention: a role id, ``everyone``, or ``""``."""
    return await svc.store.get_state(mention_key(destination_id)) or ""
