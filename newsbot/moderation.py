"""The moderation use cases behind ``NewsService``: banning authors and web names.

Each function takes the service (a ``comments.Host``) first; ``NewsService`` forwards to them.
"""

from __future__ import annotations

import logging

from newsbot.chats import CHAT_ID_MAX
from newsbot.comments import NAME_BAN, WEB_IDENTITY, Host, delete
from newsbot.errors import InvalidInput
from newsbot.i18n import N_
from newsbot.models import Actor, Platform
from newsbot.text import name_key, name_keys, valid_unicode

# The service's logger: the records are the service's, wherever its code lives.
log = logging.getLogger("newsbot.service")


async def ban(svc: Host, actor: Actor, platform: Platform, user_id: str) -> int:
    """Stop storing an author's comments and delete the ones stored. Returns how many.

    Banning twice is harmless: the second ban finds nothing left to delete. On the web a
    user id that is not a ``web_identity`` (a name, as older comments were keyed) is
    banned as a name too (see ``ban_name``).

    Raises:
        PermissionDenied: the actor is not an admin.
        InvalidInput: the user id is empty.
    """
    svc.require_admin(actor, N_("ban authors"))
    user_id = valid_unicode(user_id).strip()
    if not user_id or len(user_id) > CHAT_ID_MAX:
        raise InvalidInput(N_("The user id is empty or malformed."), field="user_id")
    now = svc.clock.now()
    await svc.store.set_ban(platform, user_id, True, now)
    if platform is Platform.WEB and not user_id.startswith((WEB_IDENTITY, NAME_BAN)):
        key = name_key(user_id)
        if key:
            await svc.store.set_ban(platform, NAME_BAN + key, True, now)
    comments = await svc.store.comments_by_author(platform, user_id)
    for comment in comments:
        await delete(svc, comment)
    log.info(
        "author banned",
        extra={
            "platform": platform,
            "user_id": user_id,
            "deleted": len(comments),
            "by": f"{actor.platform}:{actor.user_id}",
        },
    )
    return len(comments)


async def ban_name(svc: Host, actor: Actor, name: str) -> str:
    """Refuse web comments under a name and every name that looks like it. Returns the
    name's key (``name_key``).

    Raises:
        PermissionDenied: the actor is not an admin.
        InvalidInput: the name has no letters or digits.
    """
    svc.require_admin(actor, N_("ban names"))
    key = name_key(valid_unicode(name))
    if not key:
        raise InvalidInput(N_("The name has no letters or digits to ban."), field="name")
    await svc.store.set_ban(Platform.WEB, NAME_BAN + key, True, svc.clock.now())
    log.info("web name banned", extra={"key": key, "by": f"{actor.platform}:{actor.user_id}"})
    return key


async def unban(svc: Host, actor: Actor, platform: Platform, user_id: str) -> bool:
    """Allow an author to comment again. Returns whether they were banned."""
    svc.require_admin(actor, N_("unban authors"))
    user_id = user_id.strip()
    changed = await svc.store.set_ban(platform, user_id, False, svc.clock.now())
    if platform is Platform.WEB and not user_id.startswith((WEB_IDENTITY, NAME_BAN)):
        for key in name_keys(user_id):
            changed |= await svc.store.set_ban(platform, NAME_BAN + key, False, svc.clock.now())
    return changed
