"""What the commands share on the way in: their signature and the values they parse."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from newsbot import DomainError, NewsService

if TYPE_CHECKING:
    from adapters.cli.backend import Backend

Command = Callable[[NewsService, argparse.Namespace], Awaitable[object]]
"""A subcommand: runs against the service, returns what to print (text, or JSON-ready data
with ``--json``)."""

Tool = Callable[["Backend", argparse.Namespace], Awaitable[int]]
"""A command that works on the databases it is given rather than through the service
(``copy-database``); it prints its own result and returns the exit status."""


def read_body(args: argparse.Namespace) -> str | None:
    """The body from ``--body`` or ``--body-file`` (``-``: standard input), if given.

    Raises:
        DomainError: the file cannot be read as UTF-8 text.
    """
    if args.body_file is not None:
        if args.body_file == "-":
            return sys.stdin.read()
        try:
            return Path(args.body_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DomainError(f"Cannot read {args.body_file}: {exc}") from exc
    body: str | None = args.body
    return body


def tags(value: str | None) -> tuple[str, ...]:
    """Comma-separated tags (the service cleans them)."""
    return tuple(t for t in (value or "").split(",") if t.strip())
