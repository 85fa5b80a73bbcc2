"""The admin command line as an adapter: ``python bot.py publish ...``, ``articles``, ...

It maps a command line to ``NewsService`` (and ``FeedService``) calls and prints the result,
as text or, with ``--json``, as JSON for scripts; an error is one line on stderr and exit
status 1. The composition root (``bot.py``) parses with ``build_parser``, and hands ``run``
a ``Backend``: the service on the configured database and the storage tools, since an
adapter never imports storage.

Modules: ``parser`` (the command line), ``app`` (running a command), ``articles``, ``chats``,
``feeds`` and ``operations`` (the commands by concern), ``output`` (JSON and printing).
"""

from __future__ import annotations

from adapters.cli.app import is_command, run, run_command
from adapters.cli.backend import Backend
from adapters.cli.output import json_text
from adapters.cli.parser import build_parser

__all__ = ["Backend", "build_parser", "is_command", "json_text", "run", "run_command"]
