"""The parse modes (HTML, MarkdownV2, legacy Markdown) parsed as TDLib does."""

from __future__ import annotations

import re

from .markup import _EMOJI_LINK_RE, _byte_offset, _link_entity, _sort_entities, _u16
from .wire import EntityParseError, JSONDict

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_HTML_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_HTML_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,8})|#x([0-9a-fA-F]{1,8})|([A-Za-z]+))(;?)")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TDLIB_SPACES = " \t\r\n\x00\x0b\x0c"

_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!\n")
_MD2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}


def _decode_html_entity(src: str, pos: int, *, strict: bool) -> tuple[str, int] | None:
    match = _HTML_ENTITY_RE.match(src, pos)
    if match is None:
        return None
    decimal, hexadecimal, name, semicolon = match.groups()
    if strict and not semicolon:
        return None
    if name is not None:
        if name not in _HTML_NAMED:
            return None
        return _HTML_NAMED[name], match.end()
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code >= 0x10FFFF:
        return None
    if 0xD800 <= code <= 0xDFFF:
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        )
    return chr(code), match.end()


def parse_html(src: str, *, strict_ampersand: bool = True) -> tuple[str, list[JSONDict]]:
    """Parse Bot API HTML into (plain text, entities); raise EntityParseError like tdlib."""
    out: list[str] = []
    u16 = 0
    entities: list[JSONDict] = []
    # (tag, argument, UTF-16 offset at start, index into ``out`` at start)
    stack: list[tuple[str, str, int, int]] = []
    n = len(src)
    i = 0

    def unescaped_ampersand(at: int) -> EntityParseError:
        return EntityParseError(
            f"Unescaped '&' at byte offset {_byte_offset(src, at)}: an '&' must start one of "
            "&lt; &gt; &amp; &quot; or a numeric character reference ending with ';'"
        )

    while i < n:
        char = src[i]
        if char == "&":
            decoded = _decode_html_entity(src, i, strict=strict_ampersand)
            if decoded is not None:
                text, i = decoded
                out.append(text)
                u16 += _u16(text)
                continue
            if strict_ampersand:
                raise unescaped_ampersand(i)
        if char != "<":
            out.append(char)
            u16 += _u16(char)
            i += 1
            continue

        begin = i
        i += 1
        if i < n and src[i] == "/":
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(src, begin)}"
                )
            j = i + 1
            while j < n and src[j] not in _TDLIB_SPACES and src[j] != ">":
                j += 1
            end_name = src[i + 1 : j].lower()
            while j < n and src[j] in _TDLIB_SPACES:
                j += 1
            if j >= n or src[j] != ">":
                raise EntityParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(src, begin)}"
                )
            tag, argument, start, out_start = stack[-1]
            if end_name and end_name != tag:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(src, begin)}, "
                    f'expected "</{tag}>", found "</{end_name}>"'
                )
            stack.pop()
            i = j + 1
            if u16 > start:
                _close_html_entity(
                    entities, tag, argument, start, u16 - start, "".join(out[out_start:])
                )
            continue

        j = i
        while j < n and src[j] not in _TDLIB_SPACES and src[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(src, begin)}")
        tag = src[i:j].lower()
        if tag not in _HTML_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
            )
        argument = ""
        expandable = False
        while True:
            while j < n and src[j] in _TDLIB_SPACES:
                j += 1
            if j >= n:
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(src, begin)}"
                )
            if src[j] == ">":
                break
            attr_begin = j
            while j < n and src[j] not in _TDLIB_SPACES and src[j] not in "=>":
                j += 1
            attr = src[attr_begin:j].lower()
            if not attr:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset '
                    f"{_byte_offset(src, begin)}"
                )
            while j < n and src[j] in _TDLIB_SPACES:
                j += 1
            if j >= n or src[j] != "=":
                if tag == "blockquote" and attr == "expandable":
                    expandable = True
                    continue
                raise EntityParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {_byte_offset(src, begin)}'
                )
            j += 1
            while j < n and src[j] in _TDLIB_SPACES:
                j += 1
            if j >= n:
                raise EntityParseError(
                    f'Unclosed start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
                )
            if src[j] in "'\"":
                quote = src[j]
                j += 1
                value_chars: list[str] = []
                while j < n and src[j] != quote:
                    if src[j] == "&":
                        decoded = _decode_html_entity(src, j, strict=strict_ampersand)
                        if decoded is not None:
                            value_chars.append(decoded[0])
                            j = decoded[1]
                            continue
                        if strict_ampersand:
                            raise unescaped_ampersand(j)
                    value_chars.append(src[j])
                    j += 1
                if j >= n:
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {_byte_offset(src, begin)}"
                    )
                j += 1
                value = "".join(value_chars)
            else:
                token_begin = j
                while j < n and ((src[j].isascii() and src[j].isalnum()) or src[j] in ".-"):
                    j += 1
                value = src[token_begin:j].lower()
                if j < n and src[j] not in _TDLIB_SPACES and src[j] != ">":
                    raise EntityParseError(
                        "Unexpected end of name token at byte offset "
                        f"{_byte_offset(src, token_begin)}"
                    )
            if tag == "a" and attr == "href":
                argument = value
            elif tag == "code" and attr == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif tag == "span" and attr == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif tag == "tg-emoji" and attr == "emoji-id":
                argument = value
        if tag == "span" and argument != "spoiler":
            raise EntityParseError(
                'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(src, begin)}"
            )
        if tag == "blockquote":
            argument = "expandable" if expandable else ""
        stack.append((tag, argument, u16, len(out)))
        i = j + 1

    if stack:
        raise EntityParseError(f"Can't find end tag corresponding to start tag {stack[-1][0]}")
    for entity in entities:
        entity.pop("_language", None)
    return "".join(out), _sort_entities(entities)


def _close_html_entity(
    entities: list[JSONDict], tag: str, argument: str, offset: int, length: int, inner: str
) -> None:
    if tag in _HTML_SIMPLE_TAGS:
        entities.append({"type": _HTML_SIMPLE_TAGS[tag], "offset": offset, "length": length})
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append(
            {
                "type": "custom_emoji",
                "offset": offset,
                "length": length,
                "custom_emoji_id": argument,
            }
        )
    elif tag == "a":
        link = _link_entity(offset, length, argument or inner)
        if link is not None:
            entities.append(link)
    elif tag == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and (last["offset"], last["length"]) == (offset, length)
            and last.get("_language")
        ):
            last["type"] = "pre"
            last["language"] = last.pop("_language")
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif tag == "code":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "pre"
            and (last["offset"], last["length"]) == (offset, length)
            and argument
        ):
            last["language"] = argument
        else:
            entities.append(
                {"type": "code", "offset": offset, "length": length, "_language": argument}
            )
    elif tag == "blockquote":
        kind = "expandable_blockquote" if argument == "expandable" else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})


def _reserved(char: str) -> EntityParseError:
    return EntityParseError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def _read_md_url(src: str, i: int) -> tuple[str, int]:
    """Read a MarkdownV2 URL starting at ``i`` (after '('); returns (url, index of ')')."""
    chars: list[str] = []
    n = len(src)
    while i < n and src[i] != ")":
        if src[i] == "\\" and i + 1 < n and 0 < ord(src[i + 1]) <= 126:
            chars.append(src[i + 1])
            i += 2
            continue
        chars.append(src[i])
        i += 1
    return "".join(chars), i


def parse_markdown_v2(src: str) -> tuple[str, list[JSONDict]]:
    """Parse MarkdownV2 into (plain text, entities); raise EntityParseError like tdlib."""
    out: list[str] = []
    u16 = 0
    entities: list[JSONDict] = []
    # [type, argument, UTF-16 offset, byte offset of the opening mark, index into ``out``]
    stack: list[tuple[str, str, int, int, int]] = []
    have_blockquote = False
    n = len(src)
    i = 0

    def at(k: int) -> str:
        return src[k] if k < n else ""

    while i < n:
        char = src[i]
        if char == "\\" and i + 1 < n and 0 < ord(src[i + 1]) <= 126:
            out.append(src[i + 1])
            u16 += 1
            i += 2
            continue
        top = stack[-1][0] if stack else None
        reserved = frozenset("`") if top in ("code", "pre", "pre_code") else _MD2_RESERVED
        if char not in reserved:
            out.append(char)
            u16 += _u16(char)
            i += 1
            continue

        is_end = False
        if top is not None:
            if have_blockquote and char == "\n" and at(i + 1) != ">":
                is_end = True
            elif top == "bold":
                is_end = char == "*"
            elif top == "italic":
                is_end = char == "_" and at(i + 1) != "_"
            elif top == "code":
                is_end = char == "`"
            elif top in ("pre", "pre_code"):
                is_end = char == "`" and at(i + 1) == "`" and at(i + 2) == "`"
            elif top in ("text_link", "custom_emoji"):
                is_end = char == "]"
            elif top == "underline":
                is_end = char == "_" and at(i + 1) == "_"
            elif top == "strikethrough":
                is_end = char == "~"
            elif top == "spoiler":
                is_end = char == "|" and at(i + 1) == "|"

        if not is_end:
            mark_offset = _byte_offset(src, i)
            argument = ""
            if char == "_":
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif char == "*":
                kind = "bold"
            elif char == "~":
                kind = "strikethrough"
            elif char == "|":
                if at(i + 1) != "|":
                    raise _reserved(char)
                i += 1
                kind = "spoiler"
            elif char == "[":
                kind = "text_link"
            elif char == "`":
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    kind = "pre"
                    language_end = i
                    while language_end < n and src[language_end] not in _TDLIB_SPACES + "`":
                        language_end += 1
                    if i != language_end and language_end < n and src[language_end] != "`":
                        kind = "pre_code"
                        argument = src[i:language_end]
                        i = language_end
                    if at(i) in ("\n", "\r"):
                        if at(i + 1) in ("\n", "\r") and src[i] != src[i + 1]:
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    kind = "code"
            elif char == "!":
                if at(i + 1) != "[":
                    raise _reserved(char)
                i += 1
                kind = "custom_emoji"
            elif char == "\n":
                out.append("\n")
                u16 += 1
                if at(i + 1) == ">":
                    i += 1
                    if have_blockquote:
                        i += 1
                        continue
                    kind = "blockquote"
                    have_blockquote = True
                else:
                    i += 1
                    continue
            elif char == ">" and i == 0:
                kind = "blockquote"
                have_blockquote = True
            else:
                raise _reserved(char)
            stack.append((kind, argument, u16, mark_offset, len(out)))
            i += 1
            continue

        kind, argument, start, mark_offset, out_start = stack[-1]
        if char == "\n" and kind != "blockquote":
            raise EntityParseError(
                f"Can't find end of {_MD2_NAMES[kind]} entity at byte offset {mark_offset}"
            )
        skip = u16 == start
        entity: JSONDict | None = None
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind in ("pre", "pre_code"):
            i += 2
        elif kind == "text_link":
            if at(i + 1) != "(":
                url = "".join(out[out_start:])
            else:
                url_begin = i + 2
                url, i = _read_md_url(src, url_begin)
                if i >= n:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(src, url_begin)}"
                    )
            entity = _link_entity(start, u16 - start, url)
            if entity is None:
                skip = True
        elif kind == "custom_emoji":
            if at(i + 1) != "(":
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            url_begin = i + 2
            url, i = _read_md_url(src, url_begin)
            if i >= n:
                raise EntityParseError(
                    "Can't find end of a custom emoji URL at byte offset "
                    f"{_byte_offset(src, url_begin)}"
                )
            match = _EMOJI_LINK_RE.fullmatch(url)
            if match is None or int(match.group(1)) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            entity = {"type": "custom_emoji", "custom_emoji_id": match.group(1)}
        elif kind == "blockquote":
            have_blockquote = False
            out.append(char)
            u16 += 1
        if not skip:
            if entity is None:
                entity = {"type": "pre" if kind == "pre_code" else kind}
                if kind == "pre_code":
                    entity["language"] = argument
            entity["offset"] = start
            entity["length"] = u16 - start
            entities.append(entity)
        stack.pop()
        i += 1

    if have_blockquote and stack and stack[-1][0] == "blockquote":
        start = stack.pop()[2]
        if u16 > start:
            entities.append({"type": "blockquote", "offset": start, "length": u16 - start})
    if stack:
        kind, _, _, mark_offset, _ = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MD2_NAMES[kind]} entity at byte offset {mark_offset}"
        )
    return "".join(out), _sort_entities(entities)


def parse_markdown(src: str) -> tuple[str, list[JSONDict]]:
    """Parse legacy Markdown (parse_mode "Markdown") like tdlib's parse_markdown."""
    out: list[str] = []
    u16 = 0
    entities: list[JSONDict] = []
    n = len(src)
    i = 0
    while i < n:
        char = src[i]
        if char == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.append(src[i + 1])
            u16 += 1
            i += 2
            continue
        if char not in "_*`[":
            out.append(char)
            u16 += _u16(char)
            i += 1
            continue
        begin = i
        end_char = "]" if char == "[" else char
        i += 1
        is_pre = False
        language = ""
        if char == "`" and src[i : i + 2] == "``":
            i += 2
            is_pre = True
            language_end = i
            while language_end < n and src[language_end] not in _TDLIB_SPACES + "`":
                language_end += 1
            if i != language_end and language_end < n and src[language_end] != "`":
                language = src[i:language_end]
                i = language_end
            if i < n and src[i] in "\r\n":
                i += 2 if i + 1 < n and src[i + 1] in "\r\n" and src[i] != src[i + 1] else 1
        start = u16
        out_start = len(out)
        while i < n and (src[i] != end_char or (is_pre and src[i + 1 : i + 3] != "``")):
            out.append(src[i])
            u16 += _u16(src[i])
            i += 1
        if i >= n:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(src, begin)}"
            )
        if u16 != start:
            length = u16 - start
            entity: JSONDict | None
            if char == "_":
                entity = {"type": "italic", "offset": start, "length": length}
            elif char == "*":
                entity = {"type": "bold", "offset": start, "length": length}
            elif char == "[":
                if i + 1 < n and src[i + 1] == "(":
                    close = src.find(")", i + 2)
                    close = n if close < 0 else close
                    url = src[i + 2 : close]
                    i = close
                else:
                    url = "".join(out[out_start:])
                entity = _link_entity(start, length, url)
            elif is_pre:
                entity = {"type": "pre", "offset": start, "length": length}
                if language:
                    entity["language"] = language
            else:
                entity = {"type": "code", "offset": start, "length": length}
            if entity is not None:
                entities.append(entity)
        i += 3 if is_pre else 1
    return "".join(out), _sort_entities(entities)
