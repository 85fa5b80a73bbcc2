"""The subscription use cases behind ``NewsService``: chats subscribing and unsubscribing,
requests waiting for approval, and chats that moved or removed the bot.

Each function takes the service (any ``Host``) first; ``NewsService`` forwards to them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from newsbot.chats import CHAT_ID_MAX, check_chat_id
from newsbot.drafts import TITLE_MAX, clean_tags
from newsbot.errors import InvalidInput, NotFound, PermissionDenied
from newsbot.i18n import N_, Message, chat_language_key, no_catalog, normalise_language
from newsbot.models import Actor, Destination, NewDestination, Platform
from newsbot.ports import Clock, Store
from newsbot.text import clean_name, has_control_chars, valid_unicode

# The service's logger: the records are the service's, wherever its code lives.
log = logging.getLogger("newsbot.service")

PENDING_MAX = 100
"""The most subscription requests that wait for approval at once; past it a request is refused."""
REQUESTS_PER_DAY = 10
"""New subscription requests one person may make in 24 hours."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """The result of subscribing: the destination and whether it is new (or reactivated).

    A ``destination.pending`` subscription waits for a newsbot admin's approval.
    """

    destination: Destination
    created: bool


class Host(Protocol):
    """What the subscription use cases need of ``NewsService``."""

    store: Store
    clock: Clock
    open_subscriptions: bool

    def is_admin(self, actor: Actor) -> bool:
        """``NewsService.is_admin``."""
        ...

    def require_admin(self, actor: Actor, action: str) -> None:
        """``NewsService.require_admin``."""

    async def rate_slot(self, key: str, limit: int, window: float) -> float:
        """``NewsService.rate_slot``."""
        ...


async def subscribe(
    svc: Host, actor: Actor, new: NewDestination, *, moved: bool = False
) -> Subscription:
    """Subscribe a chat to future articles; subscribing an active chat again is a no-op.

    Admins, and actors the adapter verified as administrators of that chat, may subscribe.
    A chat admin who is not a newsbot admin gets a pending subscription (the chat receives
    nothing until a newsbot admin approves it), unless subscriptions are open. At most
    ``PENDING_MAX`` requests wait at once, and one person makes at most
    ``REQUESTS_PER_DAY`` new ones a day, so nobody can bury the others' requests;
    ``moved`` (a request that only changes its chat id, the old one withdrawn next) counts
    against neither.

    Raises:
        PermissionDenied: the actor administers neither newsbot nor the chat.
        InvalidInput: the chat id or tags are malformed, or the request is over a limit
            (the message says which, and what to do).
    """
    if not (actor.chat_admin or svc.is_admin(actor)):
        raise PermissionDenied(
            N_("Only an administrator of this chat or a newsbot admin can subscribe it.")
        )
    chat_id = valid_unicode(new.chat_id).strip()
    if (
        not chat_id
        or len(chat_id) > CHAT_ID_MAX
        or has_control_chars(chat_id, allow_newlines=False)
    ):
        raise InvalidInput(N_("The chat id is empty or malformed."), field="chat_id")
    check_chat_id(new.platform, chat_id, new.thread_id or None)
    new = NewDestination(
        platform=new.platform,
        chat_id=chat_id,
        kind=new.kind,
        title=clean_name(new.title)[:TITLE_MAX],
        thread_id=new.thread_id or None,
        tags=clean_tags(new.tags),
    )
    pending = not (svc.open_subscriptions or svc.is_admin(actor))
    if pending and not moved:
        await _admit_request(svc, actor, new)
    destination, created = await svc.store.add_destination(new, svc.clock.now(), pending=pending)
    if created:
        log.info(
            "subscription waiting for approval"
            if destination.pending
            else "destination subscribed",
            extra={
                "platform": new.platform,
                "chat_id": chat_id,
                "destination_id": destination.id,
                "by": f"{actor.platform}:{actor.user_id}",
            },
        )
    return Subscription(destination, created)


async def _admit_request(svc: Host, actor: Actor, new: NewDestination) -> None:
    """Refuse a new subscription request past ``PENDING_MAX`` waiting or past the actor's
    ``REQUESTS_PER_DAY``; asking again for a chat that waits (or is subscribed) is free."""
    known = await svc.store.get_destination(new.platform, new.chat_id, new.thread_id)
    if known is not None and (known.pending or known.active):
        return
    fields = {"platform": new.platform, "chat_id": new.chat_id, "by": actor.user_id}
    if len(await pending_destinations(svc)) >= PENDING_MAX:
        log.warning("subscription request refused: too many waiting", extra=fields)
        raise InvalidInput(
            Message.ngettext(
                "%(count)s chat is already waiting for a newsbot admin's approval, the "
                "most that can wait. Ask a newsbot admin to go through them, then try again.",
                "%(count)s chats are already waiting for a newsbot admin's approval, the "
                "most that can wait. Ask a newsbot admin to go through them, then try again.",
                PENDING_MAX,
            )
        )
    key = f"subscription-requests:{actor.platform}:{actor.user_id}"
    if await svc.rate_slot(key, REQUESTS_PER_DAY, 86400):
        log.warning("subscription request refused: too many from one person", extra=fields)
        raise InvalidInput(
            Message.ngettext(
                "You have asked for %(count)s subscription in the last 24 hours, "
                "the most one person may; they wait for a newsbot admin. Try again tomorrow.",
                "You have asked for %(count)s subscriptions in the last 24 hours, "
                "the most one person may; they wait for a newsbot admin. Try again tomorrow.",
                REQUESTS_PER_DAY,
            )
        )


async def approve(
    svc: Host, actor: Actor, platform: Platform, chat_id: str, thread_id: str | None = None
) -> Destination:
    """Approve a pending subscription: the chat receives articles from now on.

    Raises:
        PermissionDenied: the actor is not a newsbot admin.
        NotFound: no subscription of that chat waits for approval.
    """
    svc.require_admin(actor, N_("approve subscriptions"))
    destination = await svc.store.get_destination(platform, chat_id.strip(), thread_id)
    if destination is None or not destination.pending:
        raise NotFound(N_("No subscription of that chat is waiting for approval."))
    await svc.store.approve_destination(destination.id, svc.clock.now())
    log.info(
        "subscription approved",
        extra={"destination_id": destination.id, "by": f"{actor.platform}:{actor.user_id}"},
    )
    approved = await svc.store.get_destination(platform, destination.chat_id, thread_id)
    assert approved is not None
    return approved


async def pending_destinations(svc: Host) -> list[Destination]:
    """Subscriptions waiting for a newsbot admin's approval, oldest first."""
    return [d for d in await svc.store.list_destinations(active_only=False) if d.pending]


async def unsubscribe(
    svc: Host, actor: Actor, platform: Platform, chat_id: str, thread_id: str | None = None
) -> Destination:
    """Stop sending articles to a chat.

    Raises:
        PermissionDenied: the actor administers neither newsbot nor the chat.
        NotFound: the chat is not subscribed.
    """
    if not (actor.chat_admin or svc.is_admin(actor)):
        raise PermissionDenied(
            N_("Only an administrator of this chat or a newsbot admin can unsubscribe it.")
        )
    destination = await svc.store.get_destination(platform, chat_id.strip(), thread_id)
    if destination is None or not (destination.active or destination.pending):
        raise NotFound(N_("This chat is not subscribed."))
    await svc.store.deactivate_destination(
        destination.id, f"unsubscribed by {actor.platform}:{actor.user_id}", svc.clock.now()
    )
    log.info("destination unsubscribed", extra={"destination_id": destination.id})
    return destination


async def destination_gone(svc: Host, platform: Platform, chat_id: str, reason: str) -> int:
    """Deactivate every destination in a chat the bot was removed from. Returns how many."""
    count = 0
    for destination in await svc.store.list_destinations(platform, active_only=True):
        if destination.chat_id == chat_id and await svc.store.deactivate_destination(
            destination.id, reason, svc.clock.now()
        ):
            count += 1
            log.warning(
                "destination deactivated",
                extra={"destination_id": destination.id, "chat_id": chat_id, "reason": reason},
            )
    return count


async def chat_migrated(svc: Host, platform: Platform, old_id: str, new_id: str) -> int:
    """Move a chat's subscriptions to the chat's new id (a Telegram group that became a
    supergroup). Returns how many moved.

    Only the platform reports such a move (nobody can forge it), so no actor is asked:
    an approved subscription stays approved and a request keeps waiting (it counts
    against no request limit), under the new id only; the old id's are deactivated.
    Reported again, the move finds nothing left to move.

    Raises:
        InvalidInput: the new id cannot name a chat on ``platform``.
    """
    new_id = new_id.strip()
    now = svc.clock.now()
    moved = 0
    for old in await svc.store.list_destinations(platform, active_only=False):
        if old.chat_id != old_id or not (old.active or old.pending):
            continue
        check_chat_id(platform, new_id, old.thread_id)
        new = NewDestination(platform, new_id, old.kind, old.title, old.thread_id, old.tags)
        pending = old.pending and not svc.open_subscriptions
        destination, _ = await svc.store.add_destination(new, now, pending=pending)
        await svc.store.deactivate_destination(old.id, f"the chat moved to {new_id}", now)
        moved += 1
        log.info(
            "subscription moved to a new chat id",
            extra={"from": old.id, "to": destination.id, "chat_id": new_id},
        )
    return moved


async def set_language(
    svc: Host, actor: Actor, platform: Platform, chat_id: str, language: str | None
) -> str:
    """Set (or with ``None`` clear, giving ``""``) a subscribed chat's own language.

    Raises:
        PermissionDenied: the actor is not a newsbot admin.
        NotFound: no destination is that chat.
        InvalidInput: newsbot has no catalog for ``language``.
    """
    svc.require_admin(actor, N_("set a chat's language"))
    known = await svc.store.list_destinations(platform, active_only=False)
    if not any(d.chat_id == chat_id for d in known):
        raise NotFound(
            N_("%(platform)s chat %(id)s is not subscribed."), platform=platform, id=chat_id
        )
    try:
        code = normalise_language(language) if language else ""
    except ValueError as error:
        raise InvalidInput(no_catalog(language or ""), field="language") from error
    await svc.store.set_state(chat_language_key(platform, chat_id), code)
    return code
