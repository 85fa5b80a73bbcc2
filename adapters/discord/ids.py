"""Discord ids read from text: a snowflake is ASCII digits, nothing else.

``int()`` takes any Unicode decimal digit ("١٢٣" is 123) and ``str.isdigit`` also passes
characters ``int()`` refuses ("²"): ids that come from people (a typed channel id, a chat id
given to ``bot.py subscribe``) or from stored state go through ``snowflake`` instead.
"""

from __future__ import annotations

import re

_SNOWFLAKE = re.compile(r"[0-9]{1,20}")
_MAX = 2**64 - 1


def snowflake(text: str | None) -> int | None:
    """The id ``text`` spells in ASCII digits (at most 64 bits), or ``None``."""
    if text is None or _SNOWFLAKE.fullmatch(text) is None:
        return None
    value = int(text)
    return value if value <= _MAX else None
