"""Imports discord.py once, quietly, and keeps interaction tokens out of its logs.

discord.py's voice support imports the standard ``audioop`` module, which Python 3.11 and 3.12
deprecate at import time, and every client logs a warning that the voice libraries are
missing. newsbot has no voice: neither says anything an operator could act on, and the
deprecation would fail every test that imports the adapter under ``filterwarnings = error``.

At DEBUG, discord.py logs every request URL, and an interaction's answer goes to
``/interactions/{id}/{token}/callback`` and ``/webhooks/{application}/{token}/...``; the
gateway logs every event it receives, INTERACTION_CREATE with its ``token`` included. For 15
minutes a token lets anyone answer, edit or delete as the bot in that channel, so
``redact_tokens`` replaces each with ``***`` on every discord.py logger before any handler
sees the record.
"""

from __future__ import annotations

import logging
import re
import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord

_TOKENS = (
    (re.compile(r"(/(?:interactions|webhooks)/[0-9]+/)[^/\s'\"?#]+"), r"\1***"),
    (re.compile(r"""(['"]token['"]\s*:\s*['"])[^'"]*"""), r"\1***"),
)


def redact_tokens(text: str) -> str:
    """``text`` with every interaction or webhook token replaced by ``***``."""
    for pattern, replacement in _TOKENS:
        text = pattern.sub(replacement, text)
    return text


class TokenRedactor(logging.Filter):
    """Rewrites a record's message without the interaction and webhook tokens in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: let logging report it
            return True
        redacted = redact_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_REDACTOR = TokenRedactor()


def guard_discord_loggers() -> None:
    """Put the redactor on every ``discord`` logger there is (a logger's filters see only
    what is logged to it, not what its children pass up), and on newsbot's own."""
    names = [
        name
        for name in list(logging.root.manager.loggerDict)
        if name == "discord" or name.startswith("discord.")
    ]
    for name in [*names, "newsbot.discord"]:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)


def _not_about_voice(record: logging.LogRecord) -> bool:
    return "voice will NOT be supported" not in record.getMessage()


logging.getLogger("discord.client").addFilter(_not_about_voice)
guard_discord_loggers()

__all__ = ["TokenRedactor", "discord", "guard_discord_loggers", "redact_tokens"]
