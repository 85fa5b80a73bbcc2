"""Running one admin command: open the service, run it, print its result or one error line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from adapters.cli.backend import Backend
from adapters.cli.inputs import Command, Tool
from adapters.cli.operations import unattended
from adapters.cli.output import error, json_text
from newsbot import DomainError, NewsBotError
from newsbot.text import strip_control_chars


def is_command(args: argparse.Namespace) -> bool:
    """Whether the command line names an admin command (else it runs the bot)."""
    return getattr(args, "handler", None) is not None or getattr(args, "tool", None) is not None


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Run the admin command ``args`` names; print its result. Returns the exit status."""
    tool: Tool | None = getattr(args, "tool", None)
    if tool is not None:  # a tool works on the databases it is given, not on the setting's
        return await tool(backend, args)
    return await run_command(backend, args)


async def run_command(backend: Backend, args: argparse.Namespace) -> int:
    """Run one admin subcommand against the database; print its result."""
    handler: Command = args.handler
    database: str = args.database
    created = not backend.is_postgres(database) and not await asyncio.to_thread(
        os.path.exists, database
    )
    warning: str | None = None
    try:
        async with backend.open_service() as service:
            try:
                result = await handler(service, args)
            finally:
                warning = await unattended(service, backend, database, created)
    except DomainError as exc:
        return error(args, str(exc), kind=_kind(exc))
    except NewsBotError as exc:
        return error(args, str(exc), prefix="newsbot", kind=_kind(exc))
    finally:
        if warning:
            print(warning, file=sys.stderr)
    # What people wrote (names, comments, chat titles), stored before newsbot stripped control
    # characters from it, must not reach the operator's terminal as commands.
    if args.json:
        print(json_text(result, indent=2))
    else:
        print(strip_control_chars(str(result)))
    return 0


def _kind(exc: Exception) -> str:
    """An error's class as a script may match it: ``NotFound`` is ``not_found``."""
    name = type(exc).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
