"""newsbot's log lines: logfmt (``key=value``), in UTC, with extra fields, every secret
replaced and terminal control characters quoted away, so that a production incident can be
read from the lines and a token never lands in them."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

from adapters.cli import json_text

_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class LogfmtFormatter(logging.Formatter):
    """One ``key=value`` line per record, with extra fields, and every secret replaced."""

    converter = time.gmtime  # type: ignore[assignment]  # UTC timestamps

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as logfmt and redact secrets."""
        parts = [
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}.{int(record.msecs):03d}Z",
            f"level={record.levelname}",
            f"logger={record.name}",
            f"msg={_quote(record.getMessage())}",
        ]
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                parts.append(f"{key}={_quote(str(value))}")
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        line = " ".join(parts)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        return line


def _quote(value: str) -> str:
    if value and not any(c in value for c in ' "=') and _CONTROL.search(value) is None:
        return value
    return json_text(value)


# A terminal takes ESC [ and U+009B as the start of a command: such a value is quoted as JSON
# with every control character escaped.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def configure_logging(level: str, secrets: Sequence[str], stream: Any = None) -> None:
    """Send logfmt lines to stderr at ``level``, with ``secrets`` redacted."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(LogfmtFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # These log every request URL, which holds the Telegram token; keep them to warnings.
    for noisy in ("httpx", "httpcore", "aiohttp.access", "discord.gateway", "discord.http"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
