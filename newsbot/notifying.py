"""The notification use cases (``NewsService.notifications``): a stored reply told to the
person it answers, the ``/notifications`` switches, and what a refusal turns off.

``newsbot.notifications`` decides who is told and what a message holds; this module looks the
facts up and queues the notice in the store's notice outbox, which the dispatcher sends after
the article deliveries that are due (``newsbot.dispatcher``). Replies stored together are told
together (``newsbot.coalescing``): the replies of a few milliseconds are looked up set-wise
(their parents, the people behind their accounts, the accounts' switches, the articles) and
their notices written in one transaction, each caller awaiting its own count.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Protocol

from newsbot import notifications
from newsbot.coalescing import Coalescer
from newsbot.errors import NotFound, StorageError
from newsbot.models import Article, ArticleId, Comment, CommentId, Platform
from newsbot.notifications import Facts, Key, Notice, Prefs
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


class Notifications:
    """Reply notifications: who is told, and each account's switch.

    Attributes:
        delay: how long the first notice to an account waits for more (coalescing).
        batches: the buffer replies wait in to be told together (``size``: most replies a
            batch takes; ``wait``: how long a batch waits for company, in seconds).
    """

    def __init__(self, svc: Host, *, batch_size: int = 500, batch_wait: float = 0.005) -> None:
        self._svc = svc
        self.delay: timedelta = notifications.COALESCE
        self.queued = 0  # notices queued by this process, for monitoring
        self.batches: Coalescer[None, Comment, int] = Coalescer(
            self._told, size=batch_size, wait=batch_wait
        )

    async def replied(self, comment: Comment) -> int:
        """Queue a notice of ``comment`` to the author of the comment it answers, if they
        are to be told (``notifications.told``), with the other replies of the moment.
        Returns how many accounts are told.

        Never raises for a store failure: the comment is stored already, and a notice lost
        is logged rather than failing the reply (every reply of a failed batch is)."""
        if comment.parent_id is None:
            return 0
        try:
            return (await self.batches.submit(None, [comment]))[0]
        except (StorageError, NotFound):
            log.exception("cannot queue a reply notice", extra={"comment_id": comment.id})
            return 0

    async def _told(self, _key: None, replies: list[Comment]) -> list[int]:
        """One batch: its facts looked up set-wise, each reply decided, every notice queued
        in one write. Returns the accounts told per reply."""
        store = self._svc.store
        parents = await store.comments_by_ids({c.parent_id for c in replies if c.parent_id})
        authors = [_authors(c, parents) for c in replies]
        keys = {
            key
            for reply, pair in zip(replies, authors, strict=True)
            if notifications.wanted(reply, _parent(reply, parents))
            for key in pair
        }
        people = await store.people_by_accounts(keys)
        prefs = await store.account_prefs(_chat_accounts(keys, people))
        facts = Facts(parents, people, prefs)
        told = [
            notifications.told(c, *pair, facts) for c, pair in zip(replies, authors, strict=True)
        ]
        articles = await store.articles_by_ids(
            {c.article_id for c, t in zip(replies, told, strict=True) if t}
        )
        items: list[tuple[Key, str]] = []
        counts: list[int] = []
        for reply, accounts in zip(replies, told, strict=True):
            article = articles.get(reply.article_id)
            if article is None:  # no such article (none to tell, or nothing to quote)
                accounts = []
            else:
                item = notifications.encode(self._notice(reply, article))
                items += [(key, item) for key in accounts]
            counts.append(len(accounts))
        await self._queue(items)
        return counts

    def _notice(self, reply: Comment, article: Article) -> Notice:
        return Notice(
            reply.id,
            reply.article_id,
            article.title,
            reply.author.name,
            notifications.trimmed(reply.text),
            f"{self._svc.public_url}/comments/{reply.id}",
        )

    async def _queue(self, items: list[tuple[Key, str]]) -> None:
        if not items:
            return
        svc = self._svc
        now = svc.clock.now()
        await svc.store.queue_notices(notifications.folded(items), now + self.delay, now)
        self.queued += len(items)
        log.info("reply notices queued", extra={"accounts": len(items)})
        svc._enqueued()

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


def _authors(reply: Comment, parents: dict[CommentId, Comment]) -> tuple[Key, Key]:
    """The chat keys of the author ``reply`` answers (the web's empty key when its parent is
    not known: ``notifications.told`` drops it) and of its own author."""
    parent = _parent(reply, parents)
    author = (Platform.WEB, "") if parent is None else _chat_key(_key(parent))
    return author, _chat_key(_key(reply))


def _parent(reply: Comment, parents: dict[CommentId, Comment]) -> Comment | None:
    return None if reply.parent_id is None else parents.get(reply.parent_id)


def _key(comment: Comment) -> Key:
    return (comment.author.platform, comment.author.user_id)


def _chat_accounts(keys: set[Key], people: dict[Key, Person]) -> set[Key]:
    """The chat accounts whose switches a batch needs: each author's, or their person's."""
    return {k for key in keys for k in notifications.chat_keys(people.get(key), key)}


def _chat_key(key: Key) -> Key:
    """A signed-in web author's key as the chat account that vouched (``telegram@1``)."""
    platform, user_id = key
    vouching = vouched_by(user_id) if platform is Platform.WEB else None
    if vouching is not None:
        return (vouching, user_id.partition(SIGNED_IN)[2])
    return key
