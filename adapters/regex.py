"""The linear-time regular expressions that destination filters run (``newsbot.filters``).

google-re2 (RE2: no backtracking, so time grows linearly with the text whatever the pattern;
no backreferences or lookaround, which it refuses). Handed to ``NewsService`` by bot.py.
"""

from __future__ import annotations

from typing import Any

import re2

from newsbot.filters import Matcher

PATTERN_MAX = 500


class Re2Engine:
    """``newsbot.filters.RegexEngine`` on google-re2."""

    def compile(self, pattern: str) -> Matcher:
        """The compiled pattern; ``ValueError`` with RE2's reason when it is refused."""
        if len(pattern) > PATTERN_MAX:
            raise ValueError(f"a pattern is {PATTERN_MAX} characters at most")
        options = re2.Options()
        options.max_mem = 8 << 20  # a pattern's automaton may not grow past 8 MiB
        options.log_errors = False  # refusals are answered, not written to stderr
        try:
            compiled: Any = re2.compile(pattern, options)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else "refused"
            text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
            raise ValueError(text) from None
        return _Compiled(compiled)


class _Compiled:
    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled

    def search(self, text: str) -> object | None:
        result: object | None = self._compiled.search(text)
        return result
