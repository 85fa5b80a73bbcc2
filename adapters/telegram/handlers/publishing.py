"""Publishing commands for newsbot admins: /publish (and its dialogue), /cancel, /edit and
/retract."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram import Message as TgMessage

from adapters.telegram.handlers.base import (
    Context,
    HandlerGroup,
    Shared,
    guarded,
)
from adapters.telegram.handlers.parsing import (
    parse_id,
    request_key,
)
from adapters.telegram.handlers.scheduling import comments_of, slow_of, take_options, when_of
from adapters.telegram.publisher import photo_key
from adapters.telegram.render import (
    entities_to_markdown,
    render_post,
    split_article,
    split_command,
    tail,
)
from newsbot.answers import publish_terms
from newsbot.drafts import clean_draft
from newsbot.errors import (
    InvalidInput,
)
from newsbot.i18n import N_, Message
from newsbot.models import (
    ArticleDraft,
    ArticleId,
    ArticleStatus,
)
from newsbot.scheduling import published
from newsbot.service import NewsService

log = logging.getLogger("newsbot.telegram")

DIALOGUE_TTL = 3600.0
BODY_PLEASE = N_("Now send the body, in Markdown (or /cancel).")
PHOTO_TITLE_PLEASE = N_("Got the photo. Now send the title (or /cancel).")
CANCELLED = N_("Cancelled; nothing was published.")


@dataclass(slots=True)
class Dialogue:
    """An article being written step by step in a private chat (kept in memory only)."""

    step: str  # "title", "body" or "confirm"
    started: float
    title: str = ""
    body: str = ""
    image_url: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # at=, in=, priority=...


_AT_CONFIRMATION = frozenset({"comments", "slow"})


def _check(service: NewsService, options: dict[str, str]) -> None:
    """Refuse a bad time, comment policy or slow mode before anything is asked or stored."""
    when_of(service, options)
    comments_of(options)
    slow_of(options)


class Publishing(HandlerGroup):
    """Articles written, edited and retracted from a private chat."""

    def __init__(self, shared: Shared) -> None:
        super().__init__(shared)
        self.dialogues: dict[int, Dialogue] = {}

    @guarded("publish")
    async def publish(self, update: Update, context: Context) -> None:
        """``/publish``: title on the first line, Markdown body below; alone, a dialogue."""
        if not await self.private_only(update, "/publish"):
            return
        actor = self.actor(update)
        self.service.require_admin(actor, N_("publish"))
        message = update.effective_message
        assert message is not None
        rest, entities = split_command(message.text or "", message.entities)
        options, rest, entities = take_options(rest, entities)
        _check(self.service, options)  # refuse a bad option before asking for more
        title, body = split_article(rest, entities)
        if not title:
            self.dialogues[int(actor.user_id)] = Dialogue(
                "title", time.monotonic(), options=options
            )
            await self.say(update, N_("Send me the title of the article (or /cancel)."))
            return
        if not body:
            self.dialogues[int(actor.user_id)] = Dialogue(
                "body", time.monotonic(), title, options=options
            )
            await self.say(update, BODY_PLEASE)
            return
        await self.do_publish(update, ArticleDraft(title=title, body=body), options)

    async def do_publish(
        self, update: Update, draft: ArticleDraft, options: dict[str, str] | None = None
    ) -> None:
        """Publish once per command: the same update (fetched again after a restart, say)
        finds its article instead of publishing another."""
        actor = self.actor(update)
        schedule, priority = when_of(self.service, options or {})
        comments = comments_of(options or {})
        slow = slow_of(options or {})
        change = await self.service.publish(
            actor,
            draft,
            request=request_key(update),
            schedule=schedule,
            priority=priority,
            comments=comments,
            slow=slow,
        )
        self.dialogues.pop(int(actor.user_id), None)
        article = change.article
        tr = (await self.speech(update)).tr
        page = Message(N_("Page: %(url)s"), values={"url": self.service.article_url(article.id)})
        if change.repeated:
            if update.callback_query is not None:
                again = N_("Article %(id)s was already published from this button: %(title)s")
            else:
                again = N_("Article %(id)s was already published from this message: %(title)s")
            said = Message(again, values={"id": article.id, "title": article.title})
            await self.send(update, f"{said.render(tr)}\n{page.render(tr)}")
            return
        done = published(article.id, schedule, priority).render(tr)
        queued = Message.ngettext(
            "Queued for %(count)s destination(s).",
            "Queued for %(count)s destination(s).",
            change.queued,
        )
        policy = "".join(m.render(tr) + " " for m in publish_terms(comments, slow))
        await self.send(
            update,
            f"{done}: {article.title}\n{queued.render(tr)} {policy}{page.render(tr)}",
        )

    @guarded("publish photo")
    async def publish_photo(self, update: Update, context: Context) -> None:
        """A photo captioned ``/publish Title`` (body below) or ``/edit ID Title``."""
        message = update.effective_message
        assert message is not None
        assert message.photo
        actor = self.actor(update)
        caption = message.caption or ""
        editing = caption.startswith("/edit")
        self.service.require_admin(actor, N_("edit articles") if editing else N_("publish"))
        image_url = await self.remember_photo(message)
        rest, entities = split_command(caption, message.caption_entities)
        if editing:
            await self.do_edit(update, rest, entities, image_url)
            return
        options, rest, entities = take_options(rest, entities)
        _check(self.service, options)
        title, body = split_article(rest, entities)
        if not title or not body:
            self.dialogues[int(actor.user_id)] = Dialogue(
                "body" if title else "title",
                time.monotonic(),
                title,
                image_url=image_url,
                options=options,
            )
            if title:
                await self.say(
                    update, N_("Got the photo. Now send the body, in Markdown (or /cancel).")
                )
            else:
                await self.say(update, PHOTO_TITLE_PLEASE)
            return
        await self.do_publish(
            update, ArticleDraft(title=title, body=body, image_url=image_url), options
        )

    async def remember_photo(self, message: TgMessage) -> str:
        """Keep an uploaded photo's file id; the article refers to it by a stable address."""
        largest = message.photo[-1]
        await self.service.save_state(photo_key(largest.file_unique_id), largest.file_id)
        return f"{self.service.public_url}/media/telegram/{largest.file_unique_id}"

    @guarded("dialogue")
    async def dialogue(self, update: Update, context: Context) -> None:
        """The next answer in a publishing dialogue."""
        user = update.effective_user
        message = update.effective_message
        if user is None or message is None:
            return
        state = self.dialogues.get(user.id)
        if state is not None and time.monotonic() - state.started > DIALOGUE_TTL:
            del self.dialogues[user.id]
            state = None
        if state is None:
            await self.say(update, N_("Send /help to see what I can do."))
            return
        if message.photo:
            state.image_url = await self.remember_photo(message)
        text = message.text or message.caption or ""
        entities = message.entities if message.text else message.caption_entities
        if state.step == "title":
            title = " ".join(text.split())
            if not title:
                await self.say(update, PHOTO_TITLE_PLEASE)
                return
            clean_draft(ArticleDraft(title=title, body="-"))  # refuse a bad title right away
            state.title, state.step = title, "body"
            await self.say(update, BODY_PLEASE)
        elif state.step == "body":
            body = entities_to_markdown(text, entities).strip()
            if not body:
                await self.say(update, N_("Send the body as text (or /cancel)."))
                return
            clean_draft(ArticleDraft(title=state.title, body=body))
            state.body, state.step = body, "confirm"
            tr = (await self.speech(update)).tr
            preview = render_post(
                state.title,
                state.body,
                article_url=self.service.public_url,
                comment_count=0,
                tr=tr,
            )
            await self.send(update, preview)
            buttons = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(tr.gettext(N_("Publish")), callback_data="pub:yes"),
                        InlineKeyboardButton(tr.gettext(N_("Cancel")), callback_data="pub:no"),
                    ]
                ]
            )
            await self.send(update, await self._confirm_question(update, state), markup=buttons)
        else:
            if await self._options_answer(update, state, text):
                return
            answer = text.strip().lower()
            if answer in ("yes", "y", "publish", "ok"):
                await self.confirm(update, True)
            elif answer in ("no", "n", "cancel"):
                await self.confirm(update, False)
            else:
                await self.say(update, N_("Answer yes to publish or no to cancel."))

    async def _options_answer(self, update: Update, state: Dialogue, text: str) -> bool:
        """``comments=closed`` (or ``--comments closed``) and ``slow=60`` answered at the
        confirmation: the story's comment policy or slow mode changes before it is
        published."""
        options, rest, _ = take_options(text, [])
        if not options or not options.keys() <= _AT_CONFIRMATION or rest.strip():
            return False
        comments_of(options)
        slow_of(options)
        state.options.update(options)
        await self.send(update, await self._confirm_question(update, state))
        return True

    async def _confirm_question(self, update: Update, state: Dialogue) -> str:
        """The confirmation's question, with the comment policy and slow mode chosen so far."""
        tr = (await self.speech(update)).tr
        chosen = comments_of(state.options)
        question = N_(
            "Publish this article? Comments: %(policy)s; slow mode: %(slow)s "
            "(answer comments=open, premoderated or closed, or slow=SECONDS, to change them)."
        )
        policy = str(chosen) if chosen else tr.gettext(N_("the default"))
        seconds = slow_of(state.options) or 0
        slow = Message.ngettext("%(count)s second", "%(count)s seconds", seconds).render(tr)
        pace = slow if seconds else tr.gettext(N_("off"))
        return Message(question, values={"policy": policy, "slow": pace}).render(tr)

    async def confirm(self, update: Update, publish: bool) -> None:
        user = update.effective_user
        state = self.dialogues.get(user.id) if user else None
        if user is None or state is None or state.step != "confirm":
            await self.say(update, N_("There is no article waiting to be published."))
            return
        if not publish:
            del self.dialogues[user.id]
            await self.say(update, CANCELLED)
            return
        # The dialogue ends once the article is stored (do_publish): after a storage failure
        # the admin can confirm again.
        await self.do_publish(
            update,
            ArticleDraft(title=state.title, body=state.body, image_url=state.image_url),
            state.options,
        )

    @guarded("cancel")
    async def cancel(self, update: Update, context: Context) -> None:
        """``/cancel``: end the publishing dialogue."""
        user = update.effective_user
        if user is not None and self.dialogues.pop(user.id, None) is not None:
            await self.say(update, CANCELLED)
        else:
            await self.say(update, N_("There is nothing to cancel."))

    @guarded("edit")
    async def edit(self, update: Update, context: Context) -> None:
        """``/edit ID Title`` with the new body below (without a body, the body stays)."""
        if not await self.private_only(update, "/edit"):
            return
        self.service.require_admin(self.actor(update), N_("edit articles"))
        message = update.effective_message
        assert message is not None
        rest, entities = split_command(message.text or "", message.entities)
        await self.do_edit(update, rest, entities, None)

    async def do_edit(
        self,
        update: Update,
        rest: str,
        entities: Sequence[MessageEntity],
        image_url: str | None,
    ) -> None:
        usage = N_("Usage: /edit ID New title, then the new body on the next lines.")
        words = rest.split(maxsplit=1)
        article_id = ArticleId(parse_id(words[:1], usage))
        after_id = rest.find(words[0]) + len(words[0])
        remainder, remainder_entities = tail(rest, entities, after_id)
        title, body = split_article(remainder, remainder_entities)
        current = await self.service.article(article_id)
        if not title and not body and image_url is None:
            raise InvalidInput(usage)
        draft = ArticleDraft(
            title=title or current.title,
            body=body or current.body,
            summary=current.summary,
            url=current.url,
            image_url=image_url or current.image_url,
            tags=current.tags,
        )
        change = await self.service.edit(
            self.actor(update), article_id, draft, request=request_key(update)
        )
        if change.repeated:
            await self.say(
                update, N_("This edit of article %(id)s was already made."), id=article_id
            )
            return
        await self.say(
            update,
            Message.ngettext(
                "Edited article %(id)s (revision %(revision)s); "
                "%(count)s message(s) will be updated.",
                "Edited article %(id)s (revision %(revision)s); "
                "%(count)s message(s) will be updated.",
                change.queued,
                id=article_id,
                revision=change.article.revision,
            ),
        )

    @guarded("retract")
    async def retract(self, update: Update, context: Context) -> None:
        """``/retract ID``: delete every message posted for the article."""
        if not await self.private_only(update, "/retract"):
            return
        article_id = ArticleId(parse_id(context.args or [], N_("Usage: /retract ID")))
        actor = self.actor(update)
        self.service.require_admin(actor, N_("retract articles"))
        # Retracting again changes nothing; say so rather than "0 messages will be deleted".
        if (await self.service.article(article_id)).status is ArticleStatus.RETRACTED:
            await self.say(update, N_("Article %(id)s was already retracted."), id=article_id)
            return
        change = await self.service.retract(actor, article_id)
        await self.say(
            update,
            Message.ngettext(
                "Retracted article %(id)s; %(count)s message(s) will be deleted.",
                "Retracted article %(id)s; %(count)s message(s) will be deleted.",
                change.queued,
                id=article_id,
            ),
        )
