"""Moderation for newsbot admins: the Delete comment and Ban author message menus; and
Report, for every reader, which asks a moderator to look at a comment.

Context menus cannot belong to a group; each gets the same guard as a group's commands: a
newsbot-admin check (not for Report) and ``answer_failure``'s error policy.
"""

from __future__ import annotations

import discord
from discord import app_commands

from adapters.discord.groups import Refused, answer_failure
from adapters.discord.interactions import (
    acknowledge,
    actor_of,
    command_name,
    reply,
    say,
    service_of,
    words,
)
from adapters.discord.render import escape_name
from newsbot.answers import ALREADY_DELETED, REPORTED, banned, report_wait
from newsbot.errors import DomainError, NotFound
from newsbot.i18n import N_
from newsbot.models import CommentStatus, MessageRef, Platform

NOT_STORED = N_("That message is not a stored comment.")
DELETE_COMMENT = N_("Delete comment")
BAN_AUTHOR = N_("Ban author")
REPORT = N_("Report")
ACTIONS = {DELETE_COMMENT: N_("delete comments"), BAN_AUTHOR: N_("ban authors")}


def _ref(message: discord.Message) -> MessageRef:
    return MessageRef(Platform.DISCORD, str(message.channel.id), str(message.id))


async def delete_comment(interaction: discord.Interaction, message: discord.Message) -> None:
    """Delete the comment a message carries, everywhere it was mirrored."""

    service = service_of(interaction)
    actor = actor_of(interaction)
    if not await acknowledge(interaction):
        return
    ref = _ref(message)
    link = await service.resolve(ref)
    if link is None or link.comment_id is None:
        raise NotFound(NOT_STORED)
    if (await service.comment(link.comment_id)).status is CommentStatus.DELETED:
        # Deleted before (by its author, or by this very command delivered again).
        await say(interaction, ALREADY_DELETED, id=link.comment_id)
        return
    comment = await service.delete_comment(actor, link.comment_id)
    text = await words(interaction, N_("Comment %(id)s deleted everywhere."), id=comment.id)
    if comment.source == ref:
        # A comment written here: its own message goes too (its mirrors are queued).
        try:
            await message.delete()
        except discord.HTTPException as exc:
            text += " " + await words(
                interaction,
                N_("I could not remove this message itself (%(reason)s)."),
                reason=exc.text or exc.status,
            )
    await reply(interaction, text)


async def ban_author(interaction: discord.Interaction, message: discord.Message) -> None:
    """Ban the author of a comment (from any platform) and delete their comments."""

    service = service_of(interaction)
    actor = actor_of(interaction)
    if not await acknowledge(interaction):
        return
    link = await service.resolve(_ref(message))
    if link is not None and link.comment_id is not None:
        author = (await service.comment(link.comment_id)).author
        platform, user_id, name = author.platform, author.user_id, author.name
    elif not message.author.bot:
        platform, user_id = Platform.DISCORD, str(message.author.id)
        name = message.author.display_name
    else:
        raise NotFound(N_("That message is not a comment."))
    count = await service.ban(actor, platform, user_id)
    await say(interaction, banned(escape_name(name), count, platform))


REPORTS_PER_WINDOW = 5
REPORT_WINDOW = 600.0


async def report_comment(interaction: discord.Interaction, message: discord.Message) -> None:
    """Report the comment a message carries (from any platform) to the moderators; each
    reader counts once, five reports per reader per ten minutes. Answered ephemerally."""

    service = service_of(interaction)
    reader = actor_of(interaction)
    if not await acknowledge(interaction):
        return
    link = await service.resolve(_ref(message))
    if link is None or link.comment_id is None:
        raise NotFound(NOT_STORED)
    wait = await service.rate_slot(
        f"discord-report:{reader.user_id}", REPORTS_PER_WINDOW, REPORT_WINDOW
    )
    if wait:
        await say(interaction, report_wait(wait))
        return
    await service.desk.report(link.comment_id, reader, "")
    await say(interaction, REPORTED)


async def _admins_only(interaction: discord.Interaction) -> bool:
    action = ACTIONS.get(command_name(interaction), N_("moderate comments"))
    try:
        service_of(interaction).require_admin(actor_of(interaction), action)
    except DomainError as exc:
        raise Refused(exc) from exc
    return True


async def _failed(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    await answer_failure(interaction, command_name(interaction), error)


def moderation_menus() -> list[app_commands.ContextMenu]:
    """The message menus, each behind the admin check and the error policy. Their names are
    English (interactions carry them so) and localized in the "Apps" menu
    (``adapters.discord.locales``)."""
    menus = []
    for name, callback in ((DELETE_COMMENT, delete_comment), (BAN_AUTHOR, ban_author)):
        menu = app_commands.ContextMenu(name=name, callback=callback)
        menu.add_check(_admins_only)
        menu.error(_failed)
        menus.append(menu)
    report = app_commands.ContextMenu(name=REPORT, callback=report_comment)
    report.error(_failed)
    menus.append(report)
    return menus
