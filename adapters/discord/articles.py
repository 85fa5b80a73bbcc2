"""Articles for newsbot admins: /publish, /edit (with their form) and /retract."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar, Literal

import discord
from discord import app_commands

from adapters.discord.groups import CommandGroup, answer_failure
from adapters.discord.interactions import (
    CLEAR,
    acknowledge,
    actor_of,
    admit,
    command_name,
    parse_tags,
    reply,
    request_key,
    say,
    service_of,
    speech_of,
    words,
)
from adapters.discord.render import escape_name
from adapters.discord.scheduling import (
    WHEN_HINT,
    priority_of,
    schedule_of,
    when_field,
)
from newsbot import slowmode
from newsbot.answers import publish_terms
from newsbot.errors import InvalidInput
from newsbot.i18n import ENGLISH, N_, Message, Translator
from newsbot.models import ArticleDraft, ArticleId
from newsbot.policy import CommentPolicy, choose
from newsbot.scheduling import Priority, Schedule, published
from newsbot.service import Change

MODAL_TEXT_MAX = 4000

ArticleSubmit = Callable[[discord.Interaction, str, str, str], Awaitable[None]]


class ArticleModal(discord.ui.Modal):
    """A form with Title, Summary and Body; ``submit`` receives the three values.

    Args:
        heading: the form's title (at most 45 characters).
        custom_id: unique per form shown (discord.py looks submitted forms up by it).
        submit: called with the interaction and the title, summary and body.
        title: the Title field's starting value.
        summary: the Summary field's starting value.
        body: the Body field's starting value.
        when: the When field's starting value; ``None`` shows no When field.
        comments: the Comments field's starting value (the story's comment policy);
            ``None`` shows no Comments field.
        tr: the language of the fields' labels.
    """

    def __init__(
        self,
        *,
        heading: str,
        custom_id: str,
        submit: ArticleSubmit,
        title: str = "",
        summary: str = "",
        body: str = "",
        when: str | None = None,
        comments: str | None = None,
        tr: Translator = ENGLISH,
    ) -> None:
        super().__init__(title=heading, custom_id=custom_id, timeout=30 * 60)
        self._submit = submit
        self.headline: discord.ui.TextInput[ArticleModal] = discord.ui.TextInput(
            label=tr.gettext(N_("Title")), custom_id="title", max_length=256, default=title or None
        )
        self.summary: discord.ui.TextInput[ArticleModal] = discord.ui.TextInput(
            label=tr.gettext(N_("Summary")),
            custom_id="summary",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=1024,
            default=summary or None,
        )
        self.body: discord.ui.TextInput[ArticleModal] = discord.ui.TextInput(
            label=tr.gettext(N_("Body (Markdown)")),
            custom_id="body",
            style=discord.TextStyle.paragraph,
            max_length=MODAL_TEXT_MAX,
            default=body or None,
        )
        for item in (self.headline, self.summary, self.body):
            self.add_item(item)
        self.when: discord.ui.TextInput[ArticleModal] | None = None
        if when is not None:
            self.when = discord.ui.TextInput(
                label=tr.gettext(N_("When (blank: now)")),
                custom_id="when",
                required=False,
                max_length=40,
                placeholder=WHEN_HINT,
                default=when or None,
            )
            self.add_item(self.when)
        self.comments: discord.ui.TextInput[ArticleModal] | None = None
        if comments is not None:
            self.comments = discord.ui.TextInput(
                label=tr.gettext(N_("Comments (blank: the default)")),
                custom_id="comments",
                required=False,
                max_length=20,
                placeholder=tr.gettext(N_("open, premoderated or closed")),
                default=comments or None,
            )
            self.add_item(self.comments)

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return await admit(interaction)

    async def on_submit(self, interaction: discord.Interaction, /) -> None:
        await self._submit(interaction, self.headline.value, self.summary.value, self.body.value)

    async def on_error(  # type: ignore[override]  # Modal's own signature
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        await answer_failure(interaction, "form", error)


def _optional(value: str | None, current: str | None) -> str | None:
    if value is None:
        return current
    return None if value.strip().lower() in CLEAR else value


async def _published(
    interaction: discord.Interaction,
    change: Change,
    schedule: Schedule | None = None,
    lane: Priority = Priority.NORMAL,
    comments: CommentPolicy | None = None,
    slow: int | None = None,
) -> None:
    article = change.article
    url = service_of(interaction).article_url(article.id)
    title = escape_name(article.title)
    tr = (await speech_of(interaction)).tr
    page = Message(N_("Page: %(url)s"), values={"url": url}).render(tr)
    if change.repeated:
        again = N_("Article %(id)s was already published by this command: %(title)s")
        said = Message(again, values={"id": article.id, "title": title}).render(tr)
        text = f"{said}\n{page}"
    else:
        queued = Message.ngettext(
            "Queued for %(count)s channel(s).", "Queued for %(count)s channel(s).", change.queued
        ).render(tr)
        done = published(article.id, schedule, lane).render(tr)
        policy = "".join(m.render(tr) + " " for m in publish_terms(comments, slow))
        text = f"{done}: {title}\n{queued} {policy}{page}"
    await reply(interaction, text)


class ArticleCommands(CommandGroup, name="articles", description=N_("Articles (newsbot admins)")):
    """Publishing, editing and retracting: newsbot admins only, checked before any form."""

    ACTIONS: ClassVar[dict[str, str]] = {
        "publish": N_("publish"),
        "edit": N_("edit articles"),
        "retract": N_("retract articles"),
    }

    async def check(self, interaction: discord.Interaction) -> None:
        action = self.ACTIONS.get(command_name(interaction), N_("manage articles"))
        service_of(interaction).require_admin(actor_of(interaction), action)

    @app_commands.command(description=N_("Publish an article to every subscribed channel."))
    @app_commands.describe(
        title=N_("The headline (opens a form when there is no body)"),
        body=N_("The article in Markdown; leave out to write it in a form"),
        summary=N_("A short summary shown in the post"),
        url=N_("The original article's address"),
        image=N_("An image address shown in the post"),
        tags=N_("Tags, separated by spaces or commas"),
        at=f"Schedule it: {WHEN_HINT}",
        delay="Schedule it after a delay: 2h, 90m, 1d12h",
        telegram_at="A later time (or delay) for the Telegram posts",
        discord_at="A later time (or delay) for the Discord posts",
        priority="breaking overtakes the posts of articles already going out",
        comments="Its comment policy: open, premoderated or closed (else the default)",
        slow=N_("Slow mode: one comment per reader per this many seconds (0: off)"),
    )
    @app_commands.rename(delay="in")
    async def publish(
        self,
        interaction: discord.Interaction,
        title: str | None = None,
        body: str | None = None,
        summary: str | None = None,
        url: str | None = None,
        image: str | None = None,
        tags: str | None = None,
        at: str | None = None,
        delay: str | None = None,
        telegram_at: str | None = None,
        discord_at: str | None = None,
        priority: Literal["normal", "breaking"] = "normal",
        comments: Literal["open", "premoderated", "closed"] | None = None,
        slow: app_commands.Range[int, 0, slowmode.SLOW_MAX] | None = None,
    ) -> None:
        """Publish an article to every subscribed channel, now or at a time."""
        service = service_of(interaction)
        request = request_key(interaction)
        lane = priority_of(priority)
        schedule_of(service, at, delay, telegram_at, discord_at)  # a bad time: before the form
        if slow is not None:
            slowmode.check(slow)  # and slow mode out of range

        async def submit(done: discord.Interaction, title: str, summary: str, body: str) -> None:
            when_at, when_in = at, delay
            policy: str | None = comments
            if modal is not None and modal.when is not None:
                when_at, when_in = when_field(modal.when.value)
            if modal is not None and modal.comments is not None:
                policy = modal.comments.value.strip() or None
            schedule = schedule_of(service, when_at, when_in, telegram_at, discord_at)
            chosen = None if policy is None else choose(policy)
            if not await acknowledge(done):
                return
            draft = ArticleDraft(title, body, summary, url, image, parse_tags(tags))
            change = await service.publish(
                actor_of(done),
                draft,
                request=request,
                schedule=schedule,
                priority=lane,
                comments=chosen,
                slow=slow,
            )
            await _published(done, change, schedule, lane, chosen, slow)

        modal: ArticleModal | None = None
        if body is None:
            modal = ArticleModal(
                heading=(await speech_of(interaction)).gettext(N_("Publish an article")),
                custom_id=f"newsbot:publish:{interaction.id}",
                submit=submit,
                title=title or "",
                summary=summary or "",
                when=at or delay or "",
                comments=comments or "",
                tr=(await speech_of(interaction)).tr,
            )
            await interaction.response.send_modal(modal)
            return
        await submit(interaction, title or "", summary or "", body)

    @app_commands.command(description=N_("Change an article; every post of it is updated."))
    @app_commands.describe(
        article=N_("The article's number"),
        title=N_("A new headline"),
        body=N_("A new body in Markdown (leave every option out to edit in a form)"),
        summary=N_("A new summary ('-' removes it)"),
        url=N_("A new original address ('-' removes it)"),
        image=N_("A new image address ('-' removes it)"),
        tags=N_("New tags ('-' removes them)"),
    )
    async def edit(
        self,
        interaction: discord.Interaction,
        article: app_commands.Range[int, 1],
        title: str | None = None,
        body: str | None = None,
        summary: str | None = None,
        url: str | None = None,
        image: str | None = None,
        tags: str | None = None,
    ) -> None:
        """Change an article; every post of it is updated."""
        service = service_of(interaction)
        article_id = ArticleId(article)
        request = request_key(interaction)

        async def apply(done: discord.Interaction, draft: ArticleDraft) -> None:
            change = await service.edit(actor_of(done), article_id, draft, request=request)
            revision = change.article.revision
            if change.repeated:
                await say(
                    done,
                    N_(
                        "This command had already edited article %(id)s "
                        "(now revision %(revision)s); nothing more was changed."
                    ),
                    id=article_id,
                    revision=revision,
                )
                return
            edited = Message.ngettext(
                "Edited article %(id)s (revision %(revision)s); "
                "%(count)s post(s) will be updated.",
                "Edited article %(id)s (revision %(revision)s); "
                "%(count)s post(s) will be updated.",
                change.queued,
                id=article_id,
                revision=revision,
            )
            await say(done, edited)

        if all(v is None for v in (title, body, summary, url, image, tags)):
            current = await service.article(article_id)
            if len(current.body) > MODAL_TEXT_MAX:
                raise InvalidInput(
                    Message.ngettext(
                        "The body is longer than a Discord form holds (%(count)s "
                        "characters); give the new text with the body option instead.",
                        "The body is longer than a Discord form holds (%(count)s "
                        "characters); give the new text with the body option instead.",
                        MODAL_TEXT_MAX,
                    )
                )

            async def submit(
                done: discord.Interaction, title: str, summary: str, body: str
            ) -> None:
                if not await acknowledge(done):
                    return
                await apply(
                    done,
                    ArticleDraft(
                        title, body, summary, current.url, current.image_url, current.tags
                    ),
                )

            modal = ArticleModal(
                heading=await words(interaction, N_("Edit article %(id)s"), id=article_id),
                custom_id=f"newsbot:edit:{interaction.id}",
                submit=submit,
                title=current.title,
                summary=current.summary,
                body=current.body,
                tr=(await speech_of(interaction)).tr,
            )
            await interaction.response.send_modal(modal)
            return
        if not await acknowledge(interaction):
            return
        current = await service.article(article_id)
        summary_text = _optional(summary, current.summary)
        draft = ArticleDraft(
            title=title if title is not None else current.title,
            body=body if body is not None else current.body,
            summary=summary_text or "",
            url=_optional(url, current.url),
            image_url=_optional(image, current.image_url),
            tags=parse_tags(tags) if tags is not None else current.tags,
        )
        await apply(interaction, draft)

    @app_commands.command(
        description=N_("Retract an article: its posts are deleted and its threads locked.")
    )
    @app_commands.describe(article=N_("The article's number"))
    async def retract(
        self, interaction: discord.Interaction, article: app_commands.Range[int, 1]
    ) -> None:
        """Retract an article: its posts are deleted and its threads locked."""
        service = service_of(interaction)
        if not await acknowledge(interaction):
            return
        change = await service.retract(actor_of(interaction), ArticleId(article))
        await say(
            interaction,
            Message.ngettext(
                "Retracted article %(id)s; %(count)s deletion(s) queued.",
                "Retracted article %(id)s; %(count)s deletion(s) queued.",
                change.queued,
                id=article,
            ),
        )
