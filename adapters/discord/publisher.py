"""``DiscordPublisher``: posts, edits and deletes newsbot's messages on Discord.

An article goes out as one embed. In a text channel a public thread is started on the post
(the thread id equals the post's id) and, in an announcement channel, the post is also
published to followers; in a forum channel the article opens a forum post. Mirrored comments go
into the article's thread, with link previews suppressed (a reader's link must not unfurl
into an embed of someone else's choosing under the bot's name). Every message creation
carries the job's nonce with ``enforce_nonce``, so a resend after a crash returns the message
already posted.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Final, Literal

import aiohttp
import discord

from adapters.discord import slowmode as slow
from adapters.discord.ids import snowflake
from adapters.discord.pacing import ChannelPacer
from adapters.discord.render import (
    article_embed,
    comment_content,
    notice_content,
    templated_embed,
    thread_name,
)
from adapters.i18n import ChatSpeech, Speech
from adapters.templates import TemplateBook
from adapters.templates import render as render_template
from newsbot.errors import DeliveryError, DestinationGone, InvalidInput, RateLimited
from newsbot.models import DestinationKind, Job, MessageRef, Platform, Posted
from newsbot.notifications import NoticeJob
from newsbot.scheduling import EVERYONE
from newsbot.service import NewsService

log = logging.getLogger("newsbot.discord")

NO_MENTIONS = discord.AllowedMentions.none()
THREAD_ARCHIVE_MINUTES: Final[Literal[10080]] = 10080
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
THREAD_EXISTS = 160004
ALREADY_CROSSPOSTED = 40033
FORUM_TAGS_MAX = 5
UNTHREADED_MAX = 1000

_NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


def translate(exc: BaseException, *, destination: bool) -> DeliveryError:
    """The ``DeliveryError`` for an SDK or network failure.

    Args:
        exc: what discord.py or aiohttp raised.
        destination: whether the request addressed the destination channel itself; only then
            do Forbidden and Unknown Channel mean the destination is gone (a locked or deleted
            thread inside it does not).
    """
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, discord.RateLimited):
        return RateLimited(exc.retry_after, scope="chat")
    if isinstance(exc, discord.HTTPException):
        detail = f"HTTP {exc.status} (code {exc.code}): {exc.text or exc.response.reason}"[:300]
        if exc.status == 429:
            retry = exc.response.headers.get("Retry-After", "5")
            try:
                retry_after = float(retry)
            except ValueError:
                retry_after = 5.0
            return RateLimited(retry_after, scope="global", message=detail)
        if destination and (
            isinstance(exc, discord.Forbidden)
            or (isinstance(exc, discord.NotFound) and exc.code == UNKNOWN_CHANNEL)
        ):
            return DestinationGone(detail)
        return DeliveryError(detail)
    if isinstance(exc, _NETWORK_ERRORS):
        return DeliveryError(f"network error: {type(exc).__name__}: {exc}"[:300])
    return DeliveryError(f"{type(exc).__name__}: {exc}"[:300])


def _gone_message(exc: discord.HTTPException) -> bool:
    return isinstance(exc, discord.NotFound) and exc.code in (UNKNOWN_MESSAGE, UNKNOWN_CHANNEL)


class DiscordPublisher:
    """The ``Publisher`` for Discord.

    Args:
        client: returns the connected client, or ``None`` before the adapter started (the
            client is replaced if the gateway refuses the message content intent).
        service: used to look up whether a reply target lives in a thread.
        channel_pacer: the per-channel budget for message writes.
    """

    def __init__(
        self,
        client: Callable[[], discord.Client | None],
        service: NewsService,
        *,
        channel_pacer: ChannelPacer | None = None,
        speech: Speech | None = None,
    ) -> None:
        self.speech = speech or Speech()
        self.languages = ChatSpeech(
            lambda chat: service.chat_language(Platform.DISCORD, chat), self.speech
        )
        service.on_chat_language(
            lambda platform, chat: (
                self.languages.forget(chat) if platform is Platform.DISCORD else None
            )
        )
        self._client = client
        self.service = service
        self.pacer = channel_pacer or ChannelPacer()
        self.templates = TemplateBook(service)  # each channel's own template, if it has one
        # Posts whose thread could not be started yet, by nonce: a retry starts the thread
        # without sending the post again.
        self._unthreaded: dict[str, str] = {}
        # Called with (thread id, channel id) when a resend finds its thread already made.
        self.on_resent_thread: Callable[[str, str], None] | None = None

    @property
    def platform(self) -> Platform:
        return Platform.DISCORD

    # -- the Publisher port ---------------------------------------------------------------

    async def post(self, job: Job) -> Posted:
        client = self._ready_client()
        _check_ids(job)
        if job.comment is None:
            await self.languages.refresh(job.destination.chat_id)
            posted = await self._post_article(client, job)
            if job.comments_closed and posted.thread_id is not None:
                await self._set_thread(client, job, posted.thread_id, closed=True)
            return posted
        return await self._post_comment(client, job)

    async def edit(self, job: Job) -> None:
        client = self._ready_client()
        _check_ids(job)
        await self.languages.refresh(job.destination.chat_id)
        message_id = job.delivery.message_id
        if message_id is None:
            return
        where = self._message_channel(client, job)
        message = client.get_partial_messageable(int(where)).get_partial_message(int(message_id))
        thread_id = job.thread_id or job.delivery.thread_id if job.comment is None else None
        if thread_id is not None:  # reopened: unlocked first (a forum post's message is in it)
            await self._set_thread(
                client,
                job,
                thread_id,
                closed=job.comments_closed,
                inside=where == thread_id,
                before=True,
            )
        async with self._write("edit", where):
            try:
                if job.comment is None:
                    embed = await self._embed(job)
                    await message.edit(embed=embed, allowed_mentions=NO_MENTIONS)
                    await self._slow_thread(client, job)
                else:
                    content, _reference = await self._comment_message(job, where)
                    await message.edit(content=content, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as exc:
                if _gone_message(exc) and not (
                    exc.code == UNKNOWN_CHANNEL and where == job.destination.chat_id
                ):
                    log.info("edited message is gone", extra=_fields(job, error=str(exc)))
                    return
                raise translate(exc, destination=where == job.destination.chat_id) from exc
            except _NETWORK_ERRORS as exc:
                raise translate(exc, destination=False) from exc
        if thread_id is not None and job.comments_closed:
            await self._set_thread(client, job, thread_id, closed=True)

    async def delete(self, job: Job) -> None:
        client = self._ready_client()
        _check_ids(job)
        message_id = job.delivery.message_id
        if message_id is None:
            return
        where = self._message_channel(client, job)
        message = client.get_partial_messageable(int(where)).get_partial_message(int(message_id))
        async with self._write("delete", where):
            try:
                await message.delete()
            except discord.HTTPException as exc:
                if not _gone_message(exc):
                    raise translate(exc, destination=where == job.destination.chat_id) from exc
            except _NETWORK_ERRORS as exc:
                raise translate(exc, destination=False) from exc
        thread_id = job.thread_id or job.delivery.thread_id
        if job.comment is None and thread_id is not None:
            await self._set_thread(client, job, thread_id, closed=True)

    # -- articles -------------------------------------------------------------------------

    async def _post_article(self, client: discord.Client, job: Job) -> Posted:
        destination = job.destination
        target = destination.thread_id or destination.chat_id
        channel = await self._channel(client, target, destination=True)
        embed = await self._embed(job)
        if isinstance(channel, discord.ForumChannel):
            return await self._post_forum(channel, job, embed)
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            raise DestinationGone(f"channel {target} is not a text, announcement or forum channel")
        message_id = self._unthreaded.get(job.nonce)
        if message_id is None:
            content, mentions = await self._mention(job)
            async with self._write("create", target):
                try:
                    message = await channel.send(
                        content, embed=embed, nonce=job.nonce, allowed_mentions=mentions
                    )
                except (discord.HTTPException, *_NETWORK_ERRORS) as exc:
                    raise translate(exc, destination=True) from exc
            message_id = str(message.id)
            if isinstance(channel, discord.TextChannel) and channel.is_news():
                await self._crosspost(message, job)
        links = [MessageRef(Platform.DISCORD, target, message_id)]
        if isinstance(channel, discord.Thread):
            # The destination is itself a thread: replies to the post are the comments.
            return Posted(message_id, None, tuple(links))
        thread_id = await self._start_thread(channel, job, message_id)
        if thread_id is not None:
            links.append(MessageRef(Platform.DISCORD, thread_id, thread_id))
        return Posted(message_id, thread_id, tuple(links))

    async def _crosspost(self, message: discord.Message, job: Job) -> None:
        try:
            await message.publish()
        except discord.HTTPException as exc:
            if exc.code != ALREADY_CROSSPOSTED:
                # The post is out in the channel; followers missing it is not worth a resend.
                log.warning("crosspost failed", extra=_fields(job, error=str(exc)))
        except _NETWORK_ERRORS as exc:
            log.warning("crosspost failed", extra=_fields(job, error=repr(exc)))

    async def _start_thread(
        self, channel: discord.TextChannel, job: Job, message_id: str
    ) -> str | None:
        try:
            thread = await channel.create_thread(
                name=thread_name(job.article),
                message=discord.Object(id=int(message_id)),
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                slowmode_delay=await slow.thread_seconds(self.service, job) or None,
            )
        except discord.HTTPException as exc:
            if exc.code == THREAD_EXISTS:
                # A resend after a crash: the post and its thread were made, never recorded.
                # Readers may have written there meanwhile; the adapter reads it back once
                # the dispatcher has recorded the post.
                thread_id: str | None = message_id
                if self.on_resent_thread is not None:
                    self.on_resent_thread(message_id, job.destination.chat_id)
            elif exc.status in (400, 403, 404):
                # A permanent refusal (Create Public Threads missing, say): keep the post,
                # without a thread; replies to the post still become comments.
                log.warning(
                    "cannot start a thread on the post", extra=_fields(job, error=str(exc))
                )
                thread_id = None
            else:
                self._remember_unthreaded(job.nonce, message_id)
                raise translate(exc, destination=False) from exc
        except _NETWORK_ERRORS as exc:
            self._remember_unthreaded(job.nonce, message_id)
            raise translate(exc, destination=False) from exc
        else:
            thread_id = str(thread.id)
        self._unthreaded.pop(job.nonce, None)
        return thread_id

    def _remember_unthreaded(self, nonce: str, message_id: str) -> None:
        if len(self._unthreaded) >= UNTHREADED_MAX:  # deliveries given up on never come back
            self._unthreaded.pop(next(iter(self._unthreaded)))
        self._unthreaded[nonce] = message_id

    async def _post_forum(
        self, forum: discord.ForumChannel, job: Job, embed: discord.Embed
    ) -> Posted:
        wanted = {tag.lower() for tag in job.article.tags}
        tags = [t for t in forum.available_tags if t.name.lower() in wanted][:FORUM_TAGS_MAX]
        if not tags and forum.flags.require_tag:
            tags = [t for t in forum.available_tags if not t.moderated][:1]
        chat_id = str(forum.id)
        content, mentions = await self._mention(job)
        async with self._write("create", chat_id):
            try:
                created = await forum.create_thread(
                    name=thread_name(job.article),
                    content=content,
                    embed=embed,
                    applied_tags=tags,
                    allowed_mentions=mentions,
                    auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                    slowmode_delay=await slow.thread_seconds(self.service, job) or None,
                )
            except (discord.HTTPException, *_NETWORK_ERRORS) as exc:
                raise translate(exc, destination=True) from exc
        thread_id = str(created.thread.id)
        message_id = str(created.message.id)
        # The starter message lives in the post's own channel and shares the thread's id.
        links = (MessageRef(Platform.DISCORD, thread_id, message_id),)
        return Posted(message_id, thread_id, links)

    async def _embed(self, job: Job) -> discord.Embed:
        """The article's embed: the chat's own template when it has one, else the layout."""
        tr = self.languages.of(job.destination.chat_id).tr
        template = await self.templates.get(job.destination.id)
        if template is not None:
            try:
                out = render_template(
                    template, job.article, link=job.article_url, comment_count=job.comment_count
                )
            except InvalidInput as error:  # checked when set; this article broke it anyway
                log.warning(
                    "template failed, built-in layout used", extra=_fields(job, error=str(error))
                )
            else:
                return templated_embed(
                    out,
                    job.article,
                    url=job.article_url,
                    comment_count=job.comment_count,
                    reaction_count=job.reaction_count,
                    tr=tr,
                    comments_closed=job.comments_closed,
                )
        return article_embed(
            job.article,
            url=job.article_url,
            comment_count=job.comment_count,
            reaction_count=job.reaction_count,
            tr=tr,
            comments_closed=job.comments_closed,
        )

    async def _mention(self, job: Job) -> tuple[str | None, discord.AllowedMentions]:
        """A breaking post's mention, chosen per channel, and the only ping allowed: that
        role (or everyone, which only the operator can choose); nothing for other posts."""
        if job.delivery.lane <= 0:
            return None, NO_MENTIONS
        mention = await self.service.breaking_mention(job.destination.id)
        if mention == EVERYONE:
            return "@everyone", discord.AllowedMentions(
                everyone=True, users=False, roles=False, replied_user=False
            )
        if mention.isdigit():
            return f"<@&{mention}>", discord.AllowedMentions(
                everyone=False,
                users=False,
                roles=[discord.Object(int(mention))],
                replied_user=False,
            )
        return None, NO_MENTIONS

    async def _slow_thread(self, client: discord.Client, job: Job) -> None:
        """The story's slow mode on the thread of its post (``adapters.discord.slowmode``)."""
        thread_id = job.thread_id or job.delivery.thread_id
        if thread_id is not None:
            await slow.apply(client, self.service, job, thread_id)

    async def _set_thread(
        self,
        client: discord.Client,
        job: Job,
        thread_id: str,
        *,
        closed: bool,
        inside: bool = False,
        before: bool = False,
    ) -> None:
        """Bring the article's thread to what ``thread_change`` says. Needs Manage Threads: a
        refusal, or a thread gone, is logged and not retried. The thread's state comes from
        the client's cache, else from Discord (archived threads are not cached)."""
        try:
            thread = client.get_channel(int(thread_id)) or await client.fetch_channel(
                int(thread_id)
            )
            if not isinstance(thread, discord.Thread):
                return
            change = thread_change(
                thread.locked, thread.archived, closed=closed, inside=inside, before=before
            )
            if change is not None:
                await thread.edit(locked=change[0], archived=change[1])
        except discord.HTTPException as exc:
            if isinstance(exc, discord.NotFound | discord.Forbidden):
                log.warning("cannot lock the article's thread", extra=_fields(job, error=str(exc)))
                return
            raise translate(exc, destination=False) from exc
        except _NETWORK_ERRORS as exc:
            raise translate(exc, destination=False) from exc

    # -- comments -------------------------------------------------------------------------

    async def _post_comment(self, client: discord.Client, job: Job) -> Posted:
        where = self._message_channel(client, job)
        content, reference = await self._comment_message(job, where)
        channel = client.get_partial_messageable(int(where))
        async with self._write("create", where):
            try:
                if reference is None:
                    message = await channel.send(
                        content,
                        nonce=job.nonce,
                        allowed_mentions=NO_MENTIONS,
                        suppress_embeds=True,
                    )
                else:
                    message = await channel.send(
                        content,
                        nonce=job.nonce,
                        allowed_mentions=NO_MENTIONS,
                        suppress_embeds=True,
                        reference=reference,
                    )
            except (discord.HTTPException, *_NETWORK_ERRORS) as exc:
                raise translate(exc, destination=where == job.destination.chat_id) from exc
        message_id = str(message.id)
        return Posted(message_id, None, (MessageRef(Platform.DISCORD, where, message_id),))

    async def _comment_message(
        self, job: Job, where: str
    ) -> tuple[str, discord.MessageReference | None]:
        """The content of a mirrored comment and the message it natively replies to.

        A native reply needs the target in the same channel: the article post (in the
        channel), a comment written there, or an earlier mirror posted there. When the reply
        cannot point at the parent comment itself, the parent is quoted instead.
        """
        assert job.comment is not None
        reference = None
        replies_to_parent = False
        if job.reply_to is not None and job.reply_to != job.thread_id:
            link = await self.service.resolve(MessageRef(Platform.DISCORD, where, job.reply_to))
            if link is not None:
                reference = discord.MessageReference(
                    message_id=int(job.reply_to), channel_id=int(where), fail_if_not_exists=False
                )
                replies_to_parent = job.parent is not None and link.comment_id == job.parent.id
        quote = job.parent if job.parent is not None and not replies_to_parent else None
        tr = self.languages.of(job.destination.chat_id).tr
        return comment_content(job.comment, quote=quote, tr=tr), reference

    async def notify(self, job: NoticeJob) -> None:
        """Send a reply notice as a DM (``POST /users/@me/channels``, then the message);
        Discord refuses a user who shares no server with the bot or closed their DMs (403
        50007: ``DestinationGone``)."""
        client = self._ready_client()
        user = snowflake(job.account_id)
        if user is None:
            raise DestinationGone(f"not a Discord user id: {job.account_id[:40]!r}")
        try:
            channel = await client.create_dm(discord.Object(user))
            tr = self.speech.tr  # a DM has no language of its own: NEWSBOT_LANGUAGE
            await channel.send(
                notice_content(job, tr=tr), allowed_mentions=NO_MENTIONS, suppress_embeds=True
            )
        except (discord.HTTPException, *_NETWORK_ERRORS) as exc:
            translated = translate(exc, destination=True)
            log.info(
                "discord refused a notice", extra={"notice_id": job.id, "error": str(translated)}
            )
            raise translated from exc

    # -- helpers --------------------------------------------------------------------------

    def _ready_client(self) -> discord.Client:
        client = self._client()
        if client is None or client.is_closed() or not client.is_ready():
            # Not an attempt: the dispatcher waits and tries again once the gateway is up.
            raise RateLimited(1.0, scope="global", message="Discord is not connected yet")
        return client

    @staticmethod
    def _message_channel(client: discord.Client, job: Job) -> str:
        """The channel (or thread) the job's message lives in."""
        destination = job.destination
        if job.comment is not None:
            return job.thread_id or destination.thread_id or destination.chat_id
        # A forum post's starter message lives in the post; trust the channel's actual type
        # over the kind recorded at subscription, when the cache knows it.
        chat = client.get_channel(int(destination.chat_id))
        if chat is not None:
            forum = isinstance(chat, discord.ForumChannel)
        else:
            forum = destination.kind is DestinationKind.FORUM
        if forum:
            return job.delivery.thread_id or job.thread_id or destination.chat_id
        return destination.thread_id or destination.chat_id

    @staticmethod
    async def _channel(
        client: discord.Client, channel_id: str, *, destination: bool
    ) -> discord.abc.GuildChannel | discord.Thread | discord.abc.PrivateChannel:
        channel = client.get_channel(int(channel_id))
        if channel is not None:
            return channel
        try:
            return await client.fetch_channel(int(channel_id))
        except (discord.HTTPException, *_NETWORK_ERRORS) as exc:
            raise translate(exc, destination=destination) from exc

    @contextlib.asynccontextmanager
    async def _write(self, op: str, channel_id: str) -> AsyncIterator[None]:
        """Hold a per-channel write slot, or raise ``RateLimited`` at once when there is none."""
        wait = self.pacer.try_acquire(op, channel_id)
        if wait:
            raise RateLimited(wait, scope="chat")
        try:
            yield
        finally:
            self.pacer.release(op, channel_id)


def thread_change(
    locked: bool, archived: bool, *, closed: bool, inside: bool, before: bool
) -> tuple[bool, bool] | None:
    """The (locked, archived) an article's thread, now ``locked`` and ``archived``, is to be
    given, or ``None`` when it is as it should be: before an edit (``before``), a reopened
    story's lock comes off (and the archive with it), and a thread the edited message is
    ``inside`` (a forum post's) is unarchived, as Discord edits nothing in an archived thread;
    after a post or an edit, a ``closed`` story's thread is locked and archived."""
    if before:
        if not closed and locked:
            return False, False
        return (locked, False) if inside and archived else None
    return (True, True) if closed and not (locked and archived) else None


def _check_ids(job: Job) -> None:
    """Refuse a destination whose chat or thread id is not a Discord id (one subscribed by
    hand with a typo): it can never receive anything."""
    destination = job.destination
    if snowflake(destination.chat_id) is None or (
        destination.thread_id is not None and snowflake(destination.thread_id) is None
    ):
        raise DestinationGone(f"not a Discord channel id: {destination.chat_id[:40]!r}")


def _fields(job: Job, **extra: object) -> dict[str, object]:
    return {
        "delivery_id": job.delivery.id,
        "article_id": job.article.id,
        "comment_id": job.comment.id if job.comment else None,
        "chat_id": job.destination.chat_id,
        **extra,
    }
