"""The publishing use cases behind ``NewsService``: publishing, editing and retracting an
article, each delivered through the outbox.

Each function takes the service (any ``Host``) first; ``NewsService`` forwards to them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from newsbot.comments import NAME_MAX
from newsbot.drafts import clean_draft
from newsbot.errors import InvalidInput
from newsbot.i18n import N_
from newsbot.models import (
    Actor,
    Article,
    ArticleDraft,
    ArticleId,
    ArticleStatus,
    Author,
    DestinationId,
)
from newsbot.ports import Clock, Store
from newsbot.routing import Routing
from newsbot.scheduling import Priority, Schedule
from newsbot.text import clean_name

# The service's logger: the records are the service's, wherever its code lives.
log = logging.getLogger("newsbot.service")


@dataclass(frozen=True, slots=True)
class Change:
    """The result of publishing, editing or retracting: the article and the messages queued.

    ``repeated`` is true when the same request (a chat message, an interaction) had been
    carried out before: nothing was done again, and ``article`` is what it did then.
    """

    article: Article
    queued: int
    repeated: bool = False


class Host(Protocol):
    """What the publishing use cases need of ``NewsService``."""

    store: Store
    clock: Clock
    routing: Routing

    def _enqueued(self) -> None: ...

    def require_admin(self, actor: Actor, action: str) -> None:
        """``NewsService.require_admin``."""

    async def article(self, article_id: ArticleId) -> Article:
        """``NewsService.article``."""
        ...


async def publish(
    svc: Host,
    actor: Actor,
    draft: ArticleDraft,
    *,
    request: str | None = None,
    schedule: Schedule | None = None,
    priority: Priority = Priority.NORMAL,
) -> Change:
    """Validate and store an article, and enqueue it to every matching active destination.

    ``request`` names what asked (``telegram:CHAT:MESSAGE``, ``discord:interaction:ID``):
    the same request is carried out once, however often it arrives (a redelivered update,
    a retried interaction, a restart in between); again, it returns the first article
    with ``repeated`` set.

    With a ``schedule`` (``scheduling.plan``) the article is scheduled: readers see it from
    ``schedule.at``, and each platform's posts are not sent before its time. A ``breaking``
    ``priority`` puts its posts in the lane that overtakes a fan-out under way.

    Raises:
        PermissionDenied: the actor is not an admin.
        InvalidInput: a field is empty, too long or malformed.
    """
    svc.require_admin(actor, N_("publish"))
    draft = clean_draft(draft)
    author = Author(
        clean_name(actor.name)[:NAME_MAX] or actor.user_id, actor.platform, actor.user_id
    )
    destinations = await svc.store.list_destinations(active_only=True)
    filters = await svc.store.destination_filters()
    targets = [
        d.id
        for d in destinations
        if d.accepts(draft.tags)
        and svc.routing.verdict(filters.get(d.id), draft, author.name).passed
    ]
    now = svc.clock.now()
    delays = await svc.store.destination_delays()
    if schedule is None and priority is Priority.NORMAL and not delays.keys() & set(targets):
        article, created = await svc.store.add_article(
            draft, author, now, targets, request=request
        )
    else:
        at = schedule.at if schedule else now
        by_id = {d.id: d for d in destinations}
        due = [
            (t, (schedule.time_for(by_id[t].platform) if schedule else now) + stagger(delays, t))
            for t in targets
        ]
        article, created = await svc.store.add_planned_article(
            draft, author, now, at, due, priority.lane, request=request
        )
    if not created:
        log.info(
            "publish request seen before; nothing done",
            extra={"article_id": article.id, "request": request},
        )
        return Change(article, 0, repeated=True)
    log.info(
        "article published",
        extra={
            "article_id": article.id,
            "queued": len(targets),
            "by": str(actor.platform),
            "at": schedule.at.isoformat() if schedule else None,
            "priority": str(priority),
            "request": request,
        },
    )
    svc._enqueued()
    return Change(article, len(targets))


async def edit(
    svc: Host,
    actor: Actor,
    article_id: ArticleId,
    draft: ArticleDraft,
    *,
    request: str | None = None,
) -> Change:
    """Replace an article's content and enqueue an edit of every message already posted.

    Like ``publish``, one ``request`` is carried out once (``repeated`` after that).

    Raises:
        PermissionDenied: the actor is not an admin.
        NotFound: no such article.
        InvalidInput: a field is invalid, or the article was retracted.
    """
    svc.require_admin(actor, N_("edit articles"))
    current = await svc.article(article_id)
    if current.status is ArticleStatus.RETRACTED:
        raise InvalidInput(
            N_("Article %(id)s was retracted and can no longer be edited."), id=article_id
        )
    draft = clean_draft(draft)
    queued = await svc.store.update_article(article_id, draft, svc.clock.now(), request=request)
    article = await svc.article(article_id)
    if queued is None:
        log.info(
            "edit request seen before; nothing done",
            extra={"article_id": article_id, "request": request},
        )
        return Change(article, 0, repeated=True)
    log.info(
        "article edited",
        extra={"article_id": article_id, "queued": queued, "request": request},
    )
    svc._enqueued()
    return Change(article, queued)


async def retract(svc: Host, actor: Actor, article_id: ArticleId) -> Change:
    """Retract an article and enqueue the deletion of every message posted for it.

    Retracting an article twice is a no-op.

    Raises:
        PermissionDenied: the actor is not an admin.
        NotFound: no such article.
    """
    svc.require_admin(actor, N_("retract articles"))
    current = await svc.article(article_id)
    if current.status is ArticleStatus.RETRACTED:
        return Change(current, 0)
    queued = await svc.store.retract_article(article_id, svc.clock.now())
    article = await svc.article(article_id)
    log.info("article retracted", extra={"article_id": article_id, "queued": queued})
    svc._enqueued()
    return Change(article, queued)


def stagger(delays: Mapping[DestinationId, float], target: DestinationId) -> timedelta:
    """A destination's delay (``routing.set_delay``) added to its platform time."""
    return timedelta(seconds=delays.get(target, 0.0))
