"""Entities: UTF-16 offsets, explicit entities' checks, trimming and auto-detection."""

from __future__ import annotations

import re

from .wire import EntityParseError, JSONDict


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's limits and offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _u16(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _u16_offsets(text: str) -> list[int]:
    """offsets[i] = UTF-16 offset of text[i]; offsets[len(text)] = utf16_len(text)."""
    offsets = [0] * (len(text) + 1)
    total = 0
    for index, char in enumerate(text):
        offsets[index] = total
        total += _u16(char)
    offsets[len(text)] = total
    return offsets


def entity_text(text: str, entity: JSONDict) -> str:
    """The part of ``text`` that ``entity`` (UTF-16 offset/length) covers."""
    raw = text.encode("utf-16-le", "surrogatepass")
    start = entity["offset"] * 2
    return raw[start : start + entity["length"] * 2].decode("utf-16-le", "surrogatepass")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


_ENTITY_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "mention": 50,
    "hashtag": 50,
    "cashtag": 50,
    "bot_command": 50,
    "url": 50,
    "email": 50,
    "phone_number": 50,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
_ENTITY_TYPES = frozenset(_ENTITY_PRIORITY)
# Entities that auto-detected ones must not overlap.
_ATOMIC_ENTITY_TYPES = frozenset(
    {
        "pre",
        "code",
        "text_link",
        "text_mention",
        "custom_emoji",
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
    }
)
_LINK_SCHEMES = frozenset({"http", "https", "ftp", "tg", "ton", "mailto"})
_USER_LINK_RE = re.compile(r"tg://user\?id=(\d{1,20})", re.IGNORECASE)
_EMOJI_LINK_RE = re.compile(r"tg://emoji\?id=(\d{1,20})", re.IGNORECASE)
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")

_TRIM_CHARS = " \t\r\n\x0b\x0c"


def _sort_entities(entities: list[JSONDict]) -> list[JSONDict]:
    return sorted(
        entities,
        key=lambda e: (e["offset"], -e["length"], _ENTITY_PRIORITY.get(e["type"], 50)),
    )


def _link_user_id(url: str) -> int | None:
    match = _USER_LINK_RE.fullmatch(url.strip())
    return int(match.group(1)) if match else None


def _checked_link(url: str) -> str | None:
    """A usable link, or None (tdlib then drops the text_link entity)."""
    url = url.strip()
    if not url or any(char.isspace() for char in url):
        return None
    match = _SCHEME_RE.match(url)
    if match and (url[match.end() :].startswith("//") or match.group(1).lower() == "mailto"):
        scheme = match.group(1).lower()
        if scheme not in _LINK_SCHEMES or len(url) == match.end() + 2:
            return None
        return url
    if "." in url.split("/", 1)[0] and not url.startswith((".", "/")):
        return "http://" + url
    return None


def _link_entity(offset: int, length: int, url: str) -> JSONDict | None:
    user_id = _link_user_id(url)
    if user_id is not None:
        return {
            "type": "text_mention",
            "offset": offset,
            "length": length,
            "user": {"id": user_id},
        }
    checked = _checked_link(url)
    if checked is None:
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": checked}


def _validate_entities(text: str, raw: object) -> list[JSONDict]:
    """Check client-provided entities against ``text`` (UTF-16 units) and normalise them."""
    if not isinstance(raw, list):
        raise EntityParseError("entities must be an Array of MessageEntity objects")
    total = utf16_len(text)
    result: list[JSONDict] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise EntityParseError(f"entity #{index} must be a MessageEntity object")
        kind = item.get("type")
        offset = item.get("offset")
        length = item.get("length")
        if kind not in _ENTITY_TYPES:
            raise EntityParseError(f'Unsupported entity type "{kind}" in entity #{index}')
        if not isinstance(offset, int) or not isinstance(length, int):
            raise EntityParseError(f"entity #{index} must have integer offset and length")
        if offset < 0 or length <= 0 or offset + length > total:
            raise EntityParseError(
                f'entity #{index} of type "{kind}" with UTF-16 offset {offset} and length {length}'
                f" does not fit in the text of UTF-16 length {total}"
            )
        entity: JSONDict = {"type": kind, "offset": offset, "length": length}
        if kind == "text_link":
            url = item.get("url")
            checked = _checked_link(url) if isinstance(url, str) else None
            if checked is None:
                raise EntityParseError(f"entity #{index}: wrong HTTP URL {url!r}")
            entity["url"] = checked
        elif kind == "text_mention":
            user = item.get("user")
            if not isinstance(user, dict) or not isinstance(user.get("id"), int):
                raise EntityParseError(f"entity #{index}: text_mention needs a user")
            entity["user"] = {"id": user["id"]}
        elif kind == "pre" and item.get("language"):
            entity["language"] = str(item["language"])
        elif kind == "custom_emoji":
            emoji_id = str(item.get("custom_emoji_id", ""))
            if not emoji_id.isdigit() or int(emoji_id) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            entity["custom_emoji_id"] = emoji_id
        result.append(entity)
    return result


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Strip leading/trailing whitespace as Telegram does and clip the entities."""
    stripped = text.strip(_TRIM_CHARS)
    if stripped == text:
        return text, entities
    lead = len(text) - len(text.lstrip(_TRIM_CHARS))  # whitespace is BMP: chars == units
    total = utf16_len(stripped)
    result = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


_AUTO_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "bot_command",
        re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])"),
    ),
    ("url", re.compile(r"(?<![\w@/.])(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)),
    (
        "email",
        re.compile(
            r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
        ),
    ),
    ("mention", re.compile(r"(?<!\w)@[A-Za-z0-9_]{2,32}(?!\w)")),
    ("hashtag", re.compile(r"(?<![\w\u200c])#[\w\u200c]{1,256}(?![\w\u200c]*#)")),
    ("cashtag", re.compile(r"(?<![\w$])\$[A-Z]{1,8}(?![\w$])")),
]
_URL_TRAILING = ".,:;!?'\")]}"


def _autodetect(text: str, entities: list[JSONDict]) -> list[JSONDict]:
    """Add the entities Telegram detects by itself (commands, links, mentions, hashtags...)."""
    offsets: list[int] | None = None
    taken = [
        (e["offset"], e["offset"] + e["length"])
        for e in entities
        if e["type"] in _ATOMIC_ENTITY_TYPES
    ]
    found: list[JSONDict] = []
    for kind, pattern in _AUTO_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if kind == "url":
                while end > start and text[end - 1] in _URL_TRAILING:
                    if text[end - 1] == ")" and text[start:end].count("(") >= text[
                        start:end
                    ].count(")"):
                        break
                    end -= 1
                if end - start < 5:
                    continue
            if kind == "hashtag" and not re.search(r"[^\W\d_]", text[start + 1 : end]):
                continue
            if offsets is None:
                offsets = _u16_offsets(text)
            u_start, u_end = offsets[start], offsets[end]
            if any(u_start < t_end and t_start < u_end for t_start, t_end in taken):
                continue
            taken.append((u_start, u_end))
            found.append({"type": kind, "offset": u_start, "length": u_end - u_start})
    return entities + found
