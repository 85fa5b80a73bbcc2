"""The notification use cases (``NewsService.notifications``): a stored reply told to the
person it answers, the ``/notifications`` switches, and what a refusal turns off.

``newsbot.notifications`` decides who is told and what a message holds; this module looks the
facts up and queues the notice in the store's notice outbox, which the dispatcher sends after
the article deliveries that are due (``newsbot.dispatcher``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Protocol

from newsbot import notifications
from newsbot.errors import NotFound, StorageError
from newsbot.models import Article, ArticleId, Comment, Platform
from newsbot.notifications import Key, Notice, Prefs
from newsbot.people import SIGNED_IN, Person, vouched_by
from newsbot.ports import Clock
from newsbot.ports.store import Store

log = logging.getLogger("newsbot.notifications")


class Host(Protocol):
    """What notifications need of ``NewsService``."""

    store: Store
    clock: Clock
    public_url: str  # the web site's address; a comment's permalink is ``/comments/ID`` on it

    def _enqueued(self) -> None: ...

    def article_url(self, article_id: ArticleId) -> str:
        """``NewsService.article_url``."""

    async def article(self, article_id: ArticleId) -> Article:
        """``NewsService.article``."""


class Notifications:
    """Reply notifications: who is told, and each account's switch.

    Attributes:
        delay: how long the first notice to an account waits for more (coalescing).
    """

    def __init__(self, svc: Host) -> None:
        self._svc = svc
        self.delay: timedelta = notifications.COALESCE
        self.queued = 0  # notices queued by this process, for monitoring

    async def replied(self, comment: Comment) -> int:
        """Queue a notice of ``comment`` to the author of the comment it answers, if they
        are to be told (``notifications.recipients``). Returns how many accounts are told.

        Never raises for a store failure: the comment is stored already, and a notice lost
        is logged rather than failing the reply."""
        try:
            return await self._replied(comment)
        except (StorageError, NotFound):
            log.exception("cannot queue a reply notice", extra={"comment_id": comment.id})
            return 0

    async def _replied(self, comment: Comment) -> int:
        svc = self._svc
        if comment.parent_id is None:
            return 0
        parent = await svc.store.get_comment(comment.parent_id)
        if not notifications.wanted(comment, parent):
            return 0
        assert parent is not None
        author = _chat_key((parent.author.platform, parent.author.user_id))
        person = await self._person(author)
        keys = notifications.chat_keys(person, author)
        if not keys:
            return 0
        replier_key = _chat_key((comment.author.platform, comment.author.user_id))
        replier = await self._person(replier_key)
        prefs = await svc.store.account_prefs(keys)
        told = notifications.recipients(person, author, replier, replier_key, prefs)
        if not told:
            return 0
        article = await svc.article(comment.article_id)
        notice = Notice(
            comment.id,
            comment.article_id,
            article.title,
            comment.author.name,
            notifications.trimmed(comment.text),
            f"{svc.public_url}/comments/{comment.id}",
        )
        now = svc.clock.now()
        item = notifications.encode(notice)
        for platform, account_id in told:
            await svc.store.queue_notice(platform, account_id, item, now + self.delay, now)
        self.queued += len(told)
        log.info(
            "reply notice queued",
            extra={"comment_id": comment.id, "accounts": len(told)},
        )
        svc._enqueued()
        return len(told)

    async def _person(self, key: Key) -> Person | None:
        return await self._svc.store.person_by_account(*key)

    async def started(self, platform: Platform, account_id: str) -> None:
        """An account opened a private chat with the bot: it may be written to."""
        await self._svc.store.set_account_prefs(platform, account_id, started=True)

    async def switch(self, platform: Platform, account_id: str, on: bool) -> bool:
        """``/notifications on|off`` from a chat account: the account's switch, and its
        person's when it is linked to one (then every linked account follows). Returns the
        setting now in force."""
        svc = self._svc
        await svc.store.set_account_prefs(platform, account_id, started=True, notify=on)
        person = await self._person((platform, account_id))
        if person is not None:
            await svc.store.set_person_flags(person.id, notify=on)
        return on

    async def switch_person(self, person: Person, on: bool) -> None:
        """The web switch of a signed-in person: their flag, and turning on also lifts an
        account's own "off" (a refusal, an earlier ``/notifications off``)."""
        await self._svc.store.set_person_flags(person.id, notify=on)
        if on:
            for platform, account_id in notifications.chat_keys(person, None):
                await self._svc.store.set_account_prefs(platform, account_id, notify=True)

    async def enabled(self, platform: Platform, account_id: str) -> bool:
        """Whether replies to this chat account's comments would reach it."""
        key = (platform, account_id)
        person = await self._person(key)
        prefs = await self._svc.store.account_prefs([key])
        return key in notifications.recipients(person, key, None, (Platform.WEB, ""), prefs)

    async def refused(self, platform: Platform, account_id: str) -> None:
        """The platform refused a private message to an account (blocked, never started,
        DMs closed): turn it off rather than try again."""
        await self._svc.store.set_account_prefs(platform, account_id, started=False, notify=False)
        log.info("notifications turned off: refused", extra={"platform": str(platform)})

    async def person_prefs(self, person: Person) -> dict[Key, Prefs]:
        """What is known of each chat account of a person (for ``bot.py person``)."""
        return await self._svc.store.account_prefs(notifications.chat_keys(person, None))


def _chat_key(key: Key) -> Key:
    """A signed-in web author's key as the chat account that vouched (``telegram@1``)."""
    platform, user_id = key
    vouching = vouched_by(user_id) if platform is Platform.WEB else None
    if vouching is not None:
        return (vouching, user_id.partition(SIGNED_IN)[2])
    return key
