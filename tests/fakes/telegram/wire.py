"""The Bot API's wire: decoded parameters in, ``{ok, result}`` or error answers out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "123456:TEST"
TELEGRAM_SERVICE_USER_ID = 777000


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status == error_code, plus a description."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class EntityParseError(ValueError):
    """Formatting could not be parsed; the API answers "Bad Request: can't parse entities: ..."."""


def _bad_request(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


def _forbidden(message: str) -> ApiError:
    return ApiError(403, f"Forbidden: {message}")


@dataclass
class _Params:
    values: JSONDict
    files: dict[str, tuple[str, bytes, str]]

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad_request(f"invalid {name} specified")
        return value

    def number(self, name: str, default: float) -> float:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise _bad_request(f"invalid {name} specified") from None
        return float(value)

    def flag(self, name: str) -> bool:
        return bool(self.values.get(name))

    def obj(self, name: str) -> Any:
        return self.values.get(name)


_INT_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "user_id",
        "reply_to_message_id",
        "message_thread_id",
        "cache_time",
        "from_chat_id",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "drop_pending_updates",
        "show_alert",
        "has_spoiler",
        "show_caption_above_media",
        "only_if_banned",
        "revoke_messages",
        "allow_paid_broadcast",
    }
)
_JSON_PARAMS = frozenset(
    {
        "entities",
        "caption_entities",
        "reply_markup",
        "reply_parameters",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "message_ids",
    }
)


def _coerce(name: str, value: Any) -> Any:
    """Turn form/query strings into the types the Bot API documents for ``name``."""
    if not isinstance(value, str):
        return value
    if name in _INT_PARAMS:
        try:
            return int(value)
        except ValueError:
            if name in ("chat_id", "from_chat_id"):
                return value  # "@channelusername"
            raise _bad_request(f"invalid {name} specified") from None
    if name in _BOOL_PARAMS:
        return value.strip().lower() in ("true", "1")
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            raise _bad_request(f"can't parse {name} JSON object") from None
    return value
