"""Imports discord.py once, quietly.

discord.py's voice support imports the standard ``audioop`` module, which Python 3.11 and 3.12
deprecate at import time, and every client logs a warning that the voice libraries are
missing. newsbot has no voice: neither says anything an operator could act on, and the
deprecation would fail every test that imports the adapter under ``filterwarnings = error``.
"""

from __future__ import annotations

import logging
import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord


def _not_about_voice(record: logging.LogRecord) -> bool:
    return "voice will NOT be supported" not in record.getMessage()


logging.getLogger("discord.client").addFilter(_not_about_voice)

__all__ = ["discord"]
