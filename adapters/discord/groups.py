"""One permission rule and one error policy per group of commands.

Every command belongs to a group (``CommandGroup``, an ``app_commands.Group``) whose
``interaction_check`` holds the group's permission rule and whose ``on_error`` answers any
failure by ``newsbot.answers``' policy; views and forms answer theirs the same way
(``answer_failure``). Groups are a way to hold the code: their commands are registered at the
top level (``/publish``, not ``/articles publish``), as users have always typed them.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import discord
from discord import app_commands

from adapters.discord.interactions import (
    ADMIN_HINT,
    command_name,
    hint,
    reply,
    speech_of,
)
from newsbot.answers import APOLOGY, AnswerKind, answer_to
from newsbot.errors import DomainError, PermissionDenied

log = logging.getLogger("newsbot.discord")


class Refused(app_commands.CheckFailure):
    """A group's permission rule refused a command; ``original`` says why, for the user."""

    def __init__(self, original: DomainError) -> None:
        super().__init__(str(original))
        self.original = original


_FAILURE_ANSWERED = "newsbot.failure_answered"


async def answer_failure(
    interaction: discord.Interaction,
    command: str,
    error: BaseException,
    *,
    permission_hint: str = ADMIN_HINT,
) -> None:
    """Answer a failed command by ``newsbot.answers``' policy and log it with its context.

    Errors discord.py wrapped (``CommandInvokeError``, ``Refused``) are unwrapped first.
    """
    if isinstance(error, (app_commands.CommandInvokeError, Refused)):
        error = error.original
    interaction.extras[_FAILURE_ANSWERED] = True
    tr = (await speech_of(interaction)).tr
    answer = answer_to(error, tr)
    text = answer.text
    if isinstance(error, PermissionDenied):
        text = f"{answer.text} {tr.gettext(hint(interaction, permission_hint))}"
    elif answer.kind is AnswerKind.RETRY:
        # The database is away (a restart, a network cut): say so, and to try again.
        log.warning(
            "discord command failed: the store does not answer",
            extra={"command": command, "interaction_id": interaction.id, "error": str(error)},
        )
    elif answer.kind is AnswerKind.SILENT:
        log.warning(
            "discord command could not be answered",
            extra={"command": command, "interaction_id": interaction.id, "error": str(error)},
        )
    elif answer.kind is AnswerKind.APOLOGISE:
        log.error(
            "discord command failed",
            exc_info=error,
            extra={
                "command": command,
                "interaction_id": interaction.id,
                "user_id": interaction.user.id,
                "guild_id": interaction.guild_id,
                "channel_id": interaction.channel_id,
            },
        )
    if text is not None:
        await reply(interaction, text)


class CommandGroup(app_commands.Group):
    """Commands under one permission rule (``check``) and ``answer_failure``'s error policy.

    Subclasses override ``check`` (raising a ``DomainError`` to refuse) and set
    ``permission_hint``, what a refusal adds about Discord permissions.
    """

    permission_hint: ClassVar[str] = ADMIN_HINT

    async def check(self, interaction: discord.Interaction) -> None:
        """Refuse a command of this group by raising a ``DomainError``; by default, none."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        try:
            await self.check(interaction)
        except DomainError as exc:
            raise Refused(exc) from exc
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        await answer_failure(
            interaction,
            command_name(interaction),
            error,
            permission_hint=self.permission_hint,
        )

    def top_level(self) -> list[app_commands.Command[Any, ..., Any]]:
        """This group's commands to register at the top level, each still under the group's
        ``interaction_check`` and ``on_error`` (discord.py consults a command's binding)."""
        flat: list[app_commands.Command[Any, ..., Any]] = []
        for child in self.walk_commands():
            if not isinstance(child, app_commands.Command):
                continue
            command: app_commands.Command[Any, ..., Any] = app_commands.Command(
                name=child.name, description=child.description, callback=child.callback
            )
            command.binding = self
            command.on_error = type(self).on_error
            flat.append(command)
        return flat


async def tree_error(
    interaction: discord.Interaction, error: app_commands.AppCommandError
) -> None:
    """The tree's error handler: the net under anything a group did not answer."""
    if interaction.extras.get(_FAILURE_ANSWERED):
        return
    log.error(
        "discord command error",
        exc_info=error,
        extra={
            "interaction_id": interaction.id,
            "command": getattr(interaction.command, "name", ""),
        },
    )
    await reply(interaction, (await speech_of(interaction)).gettext(APOLOGY))
