"""``.env.example`` written from the settings class itself, so that it cannot drift from it.

Every field becomes ``NEWSBOT_NAME=default``, preceded by the comment lines written above the
field in the class's source; ``bot.py env-example`` prints it and a test compares the file in
the repository with what this makes.
"""

from __future__ import annotations

import inspect
import io
import textwrap
import tokenize
from enum import Enum
from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

HEADER = """\
# Every newsbot setting with its default (`python bot.py env-example` writes this file).
# Copy it to .env next to where newsbot runs (or set the variables in the environment):
# an empty value means unset. Tokens are secrets: keep .env readable by newsbot only.
"""


def render(settings: type[BaseSettings]) -> str:
    """The example file for ``settings``: one ``PREFIX_NAME=default`` line per field."""
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    notes = _comments(settings)
    lines = [HEADER]
    for name, field in settings.model_fields.items():
        lines.extend(f"# {line}".rstrip() for line in notes.get(name, []))
        lines.append(f"{prefix}{name.upper()}={_value(name, field.default)}")
        lines.append("")
    return "\n".join(lines)


def _value(name: str, default: Any) -> str:
    if default is None or isinstance(default, SecretStr):
        return ""
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, Enum):
        return str(default.value)
    if isinstance(default, int) and name.endswith("_mode"):
        return f"{default:o}"  # file permissions are written in octal
    if isinstance(default, frozenset | set | tuple | list):
        return ",".join(sorted(str(v) for v in default))
    return str(default)


def _comments(settings: type[BaseSettings]) -> dict[str, list[str]]:
    """The comment lines right above each field of the class body (a blank line ends them)."""
    source = textwrap.dedent(inspect.getsource(settings))
    found: dict[str, list[str]] = {}
    pending: list[str] = []
    last_line = 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and token.start[1] == 4:
            if token.start[0] != last_line + 1:
                pending = []
            pending.append(token.string.lstrip("#").strip())
            last_line = token.start[0]
        elif token.type == tokenize.NAME and token.start[1] == 4:
            if pending and token.start[0] == last_line + 1:
                found[token.string] = pending
            pending = []
    return found
