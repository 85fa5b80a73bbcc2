"""The Telegram adapter: its lifecycle and a getUpdates loop that loses no update.

python-telegram-bot's own Updater confirms updates before the handlers have run, so a crash
would lose them. Here the adapter fetches updates itself, hands each to
``Application.process_update``, and saves the next offset (``telegram.offset``) only once the
effects of every update before it are committed. A crash therefore replays at most the updates
in flight, and replaying is harmless: comments are keyed on (chat id, message id).

Within a batch, updates of one chat are processed in order, and different chats side by side,
so a command in a private chat does not wait behind a burst of replies in a busy group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from adapters.i18n import Speech
from adapters.telegram.fastpath import PlainReply, UpdatesRequest
from adapters.telegram.handlers import Handlers
from adapters.telegram.limiter import SendLimiter, retry_seconds
from adapters.telegram.publisher import TelegramPublisher, redact
from adapters.telegram.staffchat import TelegramStaffPoster
from newsbot.errors import ConfigError, DeliveryError, StorageError
from newsbot.models import DestinationKind, Platform
from newsbot.service import NewsService

log = logging.getLogger("newsbot.telegram")

OFFSET_KEY = "telegram.offset"
ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "my_chat_member",
    "callback_query",
    # Never sent unless asked for by name, and only to a bot that administers the chat.
    "message_reaction",
    "message_reaction_count",
]
SEEN_MAX = 10_000
STORE_RETRY_CAP = 2.0  # the longest pause after an update could not be stored
STANDBY_PAUSE = 0.2  # between looks at may_poll while it says no


class TelegramAdapter:
    """Receives Telegram updates and publishes to Telegram chats.

    Args:
        service: the use cases.
        token: the bot token from @BotFather.
        api_url: a Bot API server other than Telegram's, such as
            ``http://127.0.0.1:8081/bot`` (the token is appended).
        poll_timeout: seconds a getUpdates long poll waits for news.
        limiter: the send pacing (tests pass one with smaller windows).
        retry_delay: the first wait after a failed poll; it doubles up to ``retry_cap``.
        retry_cap: the longest wait between failed polls.
        check_visibility: at start, check in the background that the bot can see comments in
            each subscribed channel's discussion group, and log a warning where it cannot.
        read_timeout: seconds to wait for the Bot API's answer to a request.
        may_poll: asked before each poll and before handling what a poll brought; ``False``
            (this worker may have lost the platform's role, say after a pause) skips both, so
            a stale worker neither takes the poll from the new one nor acts on updates.
        speech: the language of posts' count lines and of answers (English by default).
    """

    name = "telegram"

    def __init__(
        self,
        service: NewsService,
        *,
        token: str,
        api_url: str | None = None,
        poll_timeout: float = 10.0,
        limiter: SendLimiter | None = None,
        retry_delay: float = 1.0,
        retry_cap: float = 60.0,
        check_visibility: bool = True,
        read_timeout: float = 40.0,
        may_poll: Callable[[], bool] | None = None,
        speech: Speech | None = None,
    ) -> None:
        if not token:
            raise ConfigError("NEWSBOT_TELEGRAM_TOKEN is empty")
        self.service = service
        self.token = token
        self.poll_timeout = poll_timeout
        self.retry_delay = retry_delay
        self.retry_cap = retry_cap
        self.check_visibility = check_visibility
        self.may_poll = may_poll or (lambda: True)
        self.limiter = limiter or SendLimiter()
        # A send answered after PTB's default 5 s read timeout has usually been posted all the
        # same; counting it as failed would post it again on every retry. Wait long enough
        # for a slow server (the dispatcher's own limit is 60 s).
        self._updates_request = UpdatesRequest()
        builder = (
            ApplicationBuilder()
            .token(token)
            .updater(None)
            .get_updates_request(self._updates_request)
            .rate_limiter(self.limiter)
            .read_timeout(read_timeout)
            .write_timeout(read_timeout)
            .media_write_timeout(read_timeout)
        )
        if api_url:
            base = api_url.rstrip("/")
            builder = builder.base_url(base)
            if base.endswith("/bot"):
                builder = builder.base_file_url(base[: -len("/bot")] + "/file/bot")
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self.application.add_error_handler(self._on_error)
        self._ready = asyncio.Event()
        self.speech = speech or Speech()
        self._publisher = TelegramPublisher(
            self.application.bot, service, ready=self._ready, token=token, speech=self.speech
        )
        service.staffchat.posters[Platform.TELEGRAM] = TelegramStaffPoster(
            self.application.bot, self._ready, token
        )
        self.failed: set[int] = set()
        self.handlers = Handlers(
            service,
            self._publisher,
            self.failed,
            token,
            self.speech,
            languages=self._publisher.languages,
        )
        self.handlers.install(self.application)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._helpers: set[asyncio.Task[None]] = set()
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._offset = 0
        self._saved = 0
        self._saver: asyncio.Task[None] | None = None
        self._batch: list[int] = []
        self._done: set[int] = set()
        self._started = False

    @property
    def publisher(self) -> TelegramPublisher:
        """The ``Publisher`` for Telegram destinations."""
        return self._publisher

    @property
    def rate_limit_answers(self) -> int:
        """How many answers of 429 Telegram gave this adapter (for ``/metrics``)."""
        return self.limiter.answers_429

    @property
    def offset(self) -> int:
        """The next update id to fetch (everything before it is processed)."""
        return self._offset

    async def start(self) -> None:
        """Connect, register the commands and start polling in the background.

        Raises:
            ConfigError: Telegram refused the token.
        """
        self._stopping.clear()
        try:
            await self._initialize()
        except InvalidToken:
            # The library's message quotes the token: do not chain it.
            raise ConfigError("NEWSBOT_TELEGRAM_TOKEN was refused by the Bot API server") from None
        except TelegramError as error:
            # Telegram may be unreachable for a while; keep trying in the background.
            log.warning(
                "cannot reach telegram yet, will keep trying",
                extra={"error": redact(str(error), self.token)},
            )
        self._task = asyncio.create_task(self._run(), name="telegram-updates")

    async def stop(self) -> None:
        """Finish the batch in progress, save the offset and disconnect."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=15.0)
            except TimeoutError:
                log.warning("update batch did not finish in time; it will be redelivered")
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            except Exception:
                log.exception("the update loop had failed")
            self._task = None
        if self._saver is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._saver), timeout=10.0)
        await self._close()

    async def abort(self) -> None:
        """Stop at once, as a crash would: the batch in progress is abandoned and no offset
        is saved beyond what is already stored. Connections are closed."""
        self._stopping.set()
        for task in (self._task, self._saver):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._saver = None
        await self._close()

    async def __aenter__(self) -> TelegramAdapter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- lifecycle ------------------------------------------------------------------------

    async def _initialize(self) -> None:
        if self._started:
            return
        await self.application.initialize()
        await self.application.start()
        self._started = True
        me = self.application.bot.bot
        self.handlers.bot_id = me.id
        self.handlers.sees_all = bool(me.can_read_all_group_messages)
        log.info(
            "connected to telegram",
            extra={"bot": me.username, "sees_all_group_messages": self.handlers.sees_all},
        )
        if not self.handlers.sees_all:
            log.info(
                "privacy mode is on: in groups and discussion groups the bot sees replies only "
                "where it is an administrator (and direct replies to its own messages)"
            )
        self._ready.set()
        self._spawn(self._register_commands())
        if self.check_visibility:
            self._spawn(self._check_discussion_groups())

    async def _close(self) -> None:
        for task in list(self._helpers):
            task.cancel()
        await asyncio.gather(*self._helpers, return_exceptions=True)
        self._ready.clear()
        if self._started:
            self._started = False
            with contextlib.suppress(TelegramError):
                await self.application.stop()
            with contextlib.suppress(TelegramError):
                await self.application.shutdown()
        else:
            # initialize() may have opened the HTTP clients before getMe failed.
            with contextlib.suppress(TelegramError):
                await self.application.bot.shutdown()

    def _spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    async def _register_commands(self) -> None:
        try:
            await self.handlers.register_commands(self.application)
        except (TelegramError, DeliveryError) as error:
            log.warning(
                "could not register the command list",
                extra={"error": redact(str(error), self.token)},
            )

    async def _check_discussion_groups(self) -> None:
        """Warn about subscribed channels whose comments the bot cannot see."""
        bot = self.application.bot
        try:
            destinations = await self.service.destinations(Platform.TELEGRAM)
        except StorageError:
            return
        for destination in destinations[:50]:
            if not destination.active or destination.kind is not DestinationKind.CHANNEL:
                continue
            try:
                chat = await bot.get_chat(destination.chat_id)
                if chat.linked_chat_id is None:
                    continue
                member = await bot.get_chat_member(chat.linked_chat_id, bot.id)
            except (TelegramError, DeliveryError) as error:
                log.warning(
                    "cannot check the channel's discussion group",
                    extra={"chat_id": destination.chat_id, "error": str(error)},
                )
                continue
            admin = member.status in ("administrator", "creator")
            if member.status in ("left", "kicked"):
                problem = "the bot is not a member of the discussion group"
            elif not admin and not self.handlers.sees_all:
                problem = "the bot is not an administrator there and privacy mode is on"
            else:
                continue
            log.warning(
                "comments in a discussion group are invisible to the bot",
                extra={
                    "chat_id": destination.chat_id,
                    "group_id": chat.linked_chat_id,
                    "problem": problem,
                },
            )

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Handlers catch their own errors; this sees only failures inside the library.
        fields: dict[str, Any] = {"error": redact(str(context.error), self.token)}
        if isinstance(update, Update):
            fields["update_id"] = update.update_id
        log.error("error while processing an update", extra=fields)

    # -- the update loop ------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.retry_delay
        while not self._stopping.is_set():
            try:
                await self._initialize()
                break
            except TelegramError as error:
                log.warning(
                    "cannot reach telegram, retrying",
                    extra={"error": redact(str(error), self.token), "retry_in": delay},
                )
            if await self._pause(delay):
                return
            delay = min(delay * 2, self.retry_cap)
        try:
            stored = await self.service.last_state(OFFSET_KEY)
        except StorageError:
            log.exception("cannot read the saved update offset; starting from Telegram's")
            stored = None
        valid = stored is not None and stored.isascii() and stored.isdigit()
        self._offset = self._saved = int(stored) if stored is not None and valid else 0
        log.info("polling for updates", extra={"offset": self._offset})
        delay = self.retry_delay
        while not self._stopping.is_set():
            cap = self.retry_cap
            if not self.may_poll():
                # Whoever holds the role now polls; the updates stay unconfirmed for them.
                if await self._pause(STANDBY_PAUSE):
                    return
                continue
            try:
                updates = await self._fetch()
                if updates is None:
                    return
                if updates and not self.may_poll():
                    log.info("updates left to the new holder", extra={"count": len(updates)})
                    continue
                if not updates or await self._process(updates):
                    delay = self.retry_delay
                    continue
                # Something could not be stored: poll again from it after a pause. Telegram is
                # fine, so keep the pause short: commands (which may still be answered from
                # the database) wait for the next poll.
                problem = "an update could not be stored; it will be processed again"
                cap = min(cap, STORE_RETRY_CAP)
                delay = min(delay, cap)
            except RetryAfter as error:
                delay = max(delay, retry_seconds(error))
                problem = "getUpdates was rate limited"
            except Conflict:
                problem = "another process is polling with this bot token"
            except InvalidToken:
                problem = "the bot token was refused; check NEWSBOT_TELEGRAM_TOKEN"
            except TelegramError as error:
                problem = f"getUpdates failed: {redact(str(error), self.token)}"
            except StorageError:
                problem = "the database failed while processing updates"
            except Exception:  # a bug must not stop the bot from receiving
                log.exception("unexpected error in the update loop")
                problem = "unexpected error in the update loop"
            log.warning(problem, extra={"retry_in": delay})
            if await self._pause(delay):
                return
            delay = min(delay * 2, cap)

    async def _pause(self, seconds: float) -> bool:
        """Sleep unless asked to stop; returns whether the adapter is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    async def _fetch(self) -> list[Update | PlainReply] | None:
        """One long poll; ``None`` when the adapter stops while waiting."""
        self._updates_request.take()  # left by a poll that failed or was cancelled late
        fetch = asyncio.ensure_future(
            self.application.bot.get_updates(
                offset=self._offset or None,
                timeout=timedelta(seconds=self.poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
            )
        )
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            cancelled = not fetch.done()
            if cancelled:
                fetch.cancel()
        if cancelled:
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await fetch
            return None
        updates: list[Update | PlainReply] = list(fetch.result())
        return updates + self._updates_request.take()

    async def _process(self, updates: list[Update | PlainReply]) -> bool:
        """Process one batch; returns whether every update's effects were committed."""
        updates = sorted(updates, key=lambda u: u.update_id)
        self._batch = [u.update_id for u in updates]
        self._done = set()
        chains: dict[object, list[Update | PlainReply]] = {}
        for update in updates:
            chains.setdefault(_chain_key(update), []).append(update)
        results = await asyncio.gather(*(self._run_chain(chain) for chain in chains.values()))
        await self._advance()
        return all(results)

    async def _run_chain(self, chain: list[Update | PlainReply]) -> bool:
        for run in _runs(chain):
            todo = [u for u in run if u.update_id not in self._seen]
            # Plain replies in a row go side by side: started in order, they reach the store's
            # group commit in order and are written together, a reply to an earlier one of
            # them included; so do reaction updates in a row (the reactions' batches, in
            # order: the latest wins). Anything else goes alone (a run of one).
            results = await asyncio.gather(*(self._process_one(u) for u in todo))
            failed = {u.update_id for u, ok in zip(todo, results, strict=True) if not ok}
            for update in run:
                if update.update_id in failed:
                    return False  # later updates of this chat wait for this one
                self._remember(update.update_id)
                self._done.add(update.update_id)
            await self._advance()
        return True

    async def _process_one(self, update: Update | PlainReply) -> bool:
        self.failed.discard(update.update_id)
        try:
            if isinstance(update, PlainReply):
                await self.handlers.plain_reply(update)
            else:
                await self.application.process_update(update)
        except Exception:  # a library failure: logged, and the update is not retried
            log.exception("update processing failed", extra={"update_id": update.update_id})
        if update.update_id in self.failed:
            self.failed.discard(update.update_id)
            return False
        return True

    def _remember(self, update_id: int) -> None:
        self._seen[update_id] = None
        while len(self._seen) > SEEN_MAX:
            self._seen.popitem(last=False)

    async def _advance(self) -> None:
        """Move the offset past every update done so far, and have it saved.

        The save runs beside the processing (one write at a time): while the database is
        locked it can wait the whole busy timeout, and commands must not wait with it. Saving
        late loses nothing: every update before the offset is already committed, and one
        processed again after a crash is recognised.
        """
        for update_id in self._batch:
            if update_id not in self._done:
                break
            self._offset = max(self._offset, update_id + 1)
        if self._saved < self._offset and (self._saver is None or self._saver.done()):
            self._saver = asyncio.create_task(self._save_offset(), name="telegram-offset")

    async def _save_offset(self) -> None:
        try:
            while self._saved < self._offset:
                target = self._offset
                await self.service.save_state(OFFSET_KEY, str(target))
                self._saved = target
        except StorageError:
            log.exception("cannot save the update offset; updates may be redelivered")


def _runs(chain: list[Update | PlainReply]) -> list[list[Update | PlainReply]]:
    """The chain cut into runs: consecutive plain replies together, consecutive reaction
    updates together, anything else alone."""
    runs: list[list[Update | PlainReply]] = []
    for update in chain:
        kind = _batched(update)
        if kind and runs and _batched(runs[-1][-1]) == kind:
            runs[-1].append(update)
        else:
            runs.append([update])
    return runs


def _batched(update: Update | PlainReply) -> str:
    """The kind of update handled in batches beside its like ('' for any other)."""
    if isinstance(update, PlainReply):
        return "reply"
    if update.message_reaction is not None or update.message_reaction_count is not None:
        return "reaction"
    return ""


def _chain_key(update: Update | PlainReply) -> object:
    """Updates with the same key are processed in order; different keys side by side."""
    if isinstance(update, PlainReply):
        return update.chat_id
    chat = update.effective_chat
    if chat is not None:
        return chat.id
    user = update.effective_user
    return ("user", user.id) if user is not None else "other"
