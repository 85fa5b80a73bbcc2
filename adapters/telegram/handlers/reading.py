"""Reading commands: /start, /help, /latest, /article and /comments with its page buttons."""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest

from adapters.i18n import Speech
from adapters.telegram.handlers.base import (
    STALE_BUTTON,
    Context,
    HandlerGroup,
    Shared,
    describe,
    guarded,
)
from adapters.telegram.handlers.parsing import (
    parse_id,
)
from adapters.telegram.publisher import NO_PREVIEW
from adapters.telegram.render import (
    Rendered,
    render_article,
    render_list,
    render_thread,
)
from newsbot.errors import (
    InvalidInput,
    NotFound,
)
from newsbot.i18n import N_
from newsbot.models import (
    Actor,
    ArticleId,
    ArticleStatus,
)
from newsbot.threads import PAGE_COMMENTS

log = logging.getLogger("newsbot.telegram")

THREAD_PAGE = 8

HELP = N_("""I publish the news here and collect your replies as comments.

/latest — the latest articles
/article ID — one article
/comments ID — its comments
/subscribe — send new articles to this group (group admins; a newsbot admin approves it); \
for a channel, send me /subscribe @channel in private
/unsubscribe — stop sending them

Reply to an article's post to comment on it; reply to a comment to answer it.""")

ADMIN_HELP = N_("""For newsbot admins:
/publish Title, then the body (Markdown) on the next lines; send a photo with a /publish \
caption for an article with an image; /publish alone starts a short dialogue (/cancel ends it)
/edit ID Title, then the new body · /retract ID
Reply to a comment with /delete to remove it, or /ban to stop storing its author's comments.
/approve lists the chats waiting for approval to receive articles; /approve CHAT_ID \
approves one.
/feed add URL [tags] · /feed list · /feed remove URL · /feed poll URL — publish a site's feed""")


class Reading(HandlerGroup):
    """Commands anyone may send, and the thread pages their buttons ask for."""

    def __init__(self, shared: Shared) -> None:
        super().__init__(shared)
        self._cursors: OrderedDict[str, tuple[int, str]] = OrderedDict()

    @guarded("help")
    async def help(self, update: Update, context: Context) -> None:
        """``/start`` and ``/help``."""
        tr = await self.speech(update)
        text = tr.gettext(HELP)
        user = update.effective_user
        chat = update.effective_chat
        if user is not None and chat is not None and chat.type == ChatType.PRIVATE:
            if self.service.is_admin(self.actor(update)):
                text += "\n\n" + tr.gettext(ADMIN_HELP)
            # Operators need this id for NEWSBOT_TELEGRAM_ADMINS.
            text += "\n\n" + tr.gettext("Your Telegram user id is %(id)s.") % {"id": user.id}
        await self.send(update, text)

    @guarded("latest")
    async def latest(self, update: Update, context: Context) -> None:
        """``/latest``: the last five articles, with links."""
        tr = await self.speech(update)
        page = await self.service.latest(5)
        if not page.articles:
            await self.send(update, tr.gettext("Nothing has been published yet."))
            return
        items = [(f"#{a.id} {a.title}", self.service.article_url(a.id)) for a in page.articles]
        await self.send(update, render_list(items, tr.gettext("Latest articles")))

    @guarded("article")
    async def article(self, update: Update, context: Context) -> None:
        """``/article ID``."""
        tr = await self.speech(update)
        article_id = ArticleId(parse_id(context.args or [], tr.gettext("Usage: /article ID")))
        article = await self.service.article(article_id)
        if article.status != "published":
            raise NotFound(N_("There is no article %(id)s."), id=article_id)
        count = await self.service.comment_count(article_id)
        rendered = render_article(
            article,
            article_url=self.service.article_url(article_id),
            comment_count=count,
            tr=tr.tr,
        )
        await self.send(update, rendered)

    @guarded("comments")
    async def comments(self, update: Update, context: Context) -> None:
        """``/comments ID``: the thread, nested, with buttons for the next pages."""
        tr = await self.speech(update)
        article_id = ArticleId(parse_id(context.args or [], tr.gettext("Usage: /comments ID")))
        rendered, markup = await self.thread_page(article_id, None, self.viewer(update), tr)
        await self.send(update, rendered, markup=markup)

    def viewer(self, update: Update) -> Actor | None:
        """Who reads a thread; a retracted article's thread is gone for all but admins."""
        return self.actor(update) if update.effective_user is not None else None

    async def thread_page(
        self,
        article_id: ArticleId,
        cursor: str | None,
        viewer: Actor | None,
        speech: Speech | None = None,
    ) -> tuple[Rendered, InlineKeyboardMarkup | None]:
        """One page of a thread and the buttons to move on.

        Raises:
            NotFound: no such article, or one ``viewer`` may not read (retracted).
        """
        tr = speech or self.shared.speech
        article = await self.service.readable_article(article_id, viewer)
        title = article.title
        if article.status is not ArticleStatus.PUBLISHED:
            title = f"[{article.status}] {title}"  # only admins get this far
        size = PAGE_COMMENTS
        for _ in range(4):
            page = await self.service.thread(
                article_id, cursor=cursor, limit=THREAD_PAGE, viewer=viewer, size=size
            )
            rendered = render_thread(
                title,
                page.comments,
                total=page.total,
                article_url=self.service.article_url(article_id),
                tr=tr.tr,
            )
            if not rendered.truncated or size <= 1:
                break
            # The message holds fewer comments than the page: ask for a page of those only,
            # so that "Next" goes on from the first one left out instead of skipping it.
            size = max(1, min(size - 1, rendered.shown))
        buttons = []
        if cursor is not None:
            buttons.append(
                InlineKeyboardButton(tr.gettext("« First"), callback_data=f"cm:{article_id}:")
            )
        if page.next_cursor is not None:
            data = f"cm:{article_id}:{page.next_cursor}"
            if len(data.encode()) > 64:
                data = f"cm:{article_id}:~{self.remember_cursor(article_id, page.next_cursor)}"
            buttons.append(InlineKeyboardButton(tr.gettext("Next ›"), callback_data=data))
        return rendered, InlineKeyboardMarkup([buttons]) if buttons else None

    def remember_cursor(self, article_id: int, cursor: str) -> str:
        """A short token for a cursor too long for callback data (kept in memory)."""
        token = secrets.token_urlsafe(6)
        self._cursors[token] = (article_id, cursor)
        while len(self._cursors) > 5000:
            self._cursors.popitem(last=False)
        return token

    async def thread_button(self, update: Update, article_id: ArticleId, cursor: str) -> None:
        """A thread page's button: the page it asks for, in place of the one shown."""
        query = update.callback_query
        assert query is not None
        tr = await self.speech(update)
        if cursor.startswith("~"):
            remembered = self._cursors.get(cursor[1:])
            if remembered is None or remembered[0] != article_id:
                await query.answer(tr.gettext("This list has expired; send /comments again."))
                return
            cursor = remembered[1]
        try:
            rendered, markup = await self.thread_page(
                article_id, cursor or None, self.viewer(update), tr
            )
        except InvalidInput as error:
            if error.field != "cursor":
                raise
            # A page of an older bot, or data made up by a client: the cursor is refused
            # before it reaches the store.
            log.info("button with a cursor this bot never made", extra=describe(update))
            await query.answer(tr.gettext(STALE_BUTTON))
            return
        await query.answer()
        if query.message is not None and isinstance(query.message, Message):
            try:
                await query.message.edit_text(
                    rendered.text,
                    entities=rendered.entities,
                    link_preview_options=NO_PREVIEW,
                    reply_markup=markup,
                )
            except BadRequest as error:
                if "not modified" not in str(error).lower():
                    raise
