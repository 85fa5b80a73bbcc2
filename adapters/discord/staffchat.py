"""The staff chat on Discord: notices with Approve / Hide / Delete / Ban buttons in the
staff channel, and what a press does (the desk acts as the presser; the message then says who
did what). Presses arrive through ``NewsClient.on_interaction`` by their ``custom_id``, so
buttons keep working after a restart."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import discord

from adapters.discord.interactions import actor_of, admit, reply, service_of, speech_of
from adapters.discord.publisher import NO_MENTIONS, DiscordPublisher, translate
from adapters.discord.render import escape_name, escape_text
from newsbot.errors import NotFound, PermissionDenied, RateLimited
from newsbot.i18n import ENGLISH, Translator
from newsbot.models import CommentId, Platform
from newsbot.staffchat import (
    BUTTONS,
    DATA_PREFIX,
    LABELS,
    REFUSAL,
    NoticeText,
    button_data,
    more_line,
    notice_lines,
)
from newsbot.text import cut_chars

log = logging.getLogger("newsbot.discord")

TITLE_MAX = 300
"""The most characters of an article's title a notice shows."""
CONTENT_MAX = 1800
"""A notice's most characters, leaving room for the line added after a press (2,000 max)."""
_STYLES = {
    "approve": discord.ButtonStyle.success,
    "hide": discord.ButtonStyle.secondary,
    "delete": discord.ButtonStyle.danger,
    "ban": discord.ButtonStyle.danger,
}


def notice_content(text: NoticeText) -> str:
    """A notice as Discord markdown, every field escaped and mentions made inert."""
    title = text.article if len(text.article) <= TITLE_MAX else text.article[:TITLE_MAX] + "…"
    heading, *fields = notice_lines(replace(text, article=title), escape_name)
    lines = [f"**{heading}**", *fields, "", escape_text(text.text)]
    if text.more:
        lines += ["", f"*{more_line(text, escape_name)}*"]
    if text.decided:
        lines += ["", f"**{escape_name(text.decided)}**"]
    return cut_chars("\n".join(lines), CONTENT_MAX)


def buttons(comment_id: CommentId, tr: Translator = ENGLISH) -> discord.ui.View:
    """The four buttons under a notice (a view that is never stored: presses are handled by
    ``staff_press`` from the raw interaction)."""
    view = discord.ui.View(timeout=None)
    for action in BUTTONS:
        view.add_item(
            discord.ui.Button(
                label=tr.gettext(LABELS[action]),
                custom_id=button_data(comment_id, action),
                style=_STYLES.get(str(action), discord.ButtonStyle.secondary),
            )
        )
    return view


class DiscordStaffPoster:
    """Posts staff notices (``newsbot.ports.staffchat.StaffPoster``) in the staff channel,
    paced per channel as the publisher's posts are."""

    def __init__(
        self, client: Callable[[], discord.Client | None], publisher: DiscordPublisher
    ) -> None:
        self._client = client
        self.publisher = publisher

    @property
    def platform(self) -> Platform:
        """Always ``Platform.DISCORD``."""
        return Platform.DISCORD

    async def post_notice(self, chat_id: str, comment_id: CommentId, text: NoticeText) -> str:
        """Send the notice with its buttons (none once decided); the message id."""
        client = self._client()
        if client is None or not client.is_ready():
            raise RateLimited(5.0, scope="global", message="discord is not connected yet")
        wait = self.publisher.pacer.try_acquire("post", chat_id)
        if wait:
            raise RateLimited(wait, scope="chat")
        view = discord.ui.View(timeout=None) if text.decided else buttons(comment_id, text.tr)
        try:
            channel = client.get_channel(int(chat_id)) or await client.fetch_channel(int(chat_id))
            if not isinstance(channel, discord.abc.Messageable):
                raise translate(
                    ValueError("the staff channel takes no messages"), destination=True
                )
            message = await channel.send(
                notice_content(text), view=view, allowed_mentions=NO_MENTIONS
            )
        except (discord.HTTPException, OSError) as exc:
            raise translate(exc, destination=True) from exc
        finally:
            view.stop()  # never dispatched to: presses go through ``staff_press``
            self.publisher.pacer.release("post", chat_id)
        return str(message.id)


def is_staff_button(interaction: discord.Interaction) -> bool:
    """Whether an interaction is a press on a staff notice's button."""
    if interaction.type is not discord.InteractionType.component:
        return False
    data: dict[str, Any] = dict(interaction.data or {})
    return str(data.get("custom_id", "")).startswith(DATA_PREFIX + ":")


async def staff_press(interaction: discord.Interaction) -> None:
    """A press on a notice's button: the desk acts as the presser; anybody but a newsbot
    admin is refused with an answer only they see."""
    if not is_staff_button(interaction):
        return
    if not await admit(interaction):
        return

    data: dict[str, Any] = dict(interaction.data or {})
    try:
        done = await service_of(interaction).staffchat.press(
            actor_of(interaction), str(data.get("custom_id", ""))
        )
    except PermissionDenied:
        await reply(interaction, (await speech_of(interaction)).gettext(REFUSAL))
        return
    except NotFound as exc:
        await reply(interaction, exc.translated((await speech_of(interaction)).tr))
        return
    if done is None:
        return
    _outcome, line = done
    message = interaction.message
    content = message.content if message is not None else ""
    try:
        await interaction.response.edit_message(
            content=f"{content}\n\n**{escape_name(line)}**",
            view=None,
            allowed_mentions=NO_MENTIONS,
        )
    except discord.HTTPException as exc:
        log.warning(
            "cannot update a staff notice",
            extra={"interaction_id": interaction.id, "error": str(exc)},
        )
