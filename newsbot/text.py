"""Plain-text helpers shared by the service and the adapters: cleaning, UTF-16 lengths, cutting.

Telegram counts lengths and entity offsets in UTF-16 code units; a character outside the Basic
Multilingual Plane (most emoji) counts two. Cutting text must never split such a pair, nor a
word when a word boundary is near.
"""

from __future__ import annotations

import functools
import re
import unicodedata

ELLIPSIS = "…"
# Embeddings, overrides and isolates: in a name they reorder the text around it ("Editor"
# shown after a comment that is not theirs). Marks (U+200E/F, U+061C) only nudge and stay.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# ASCII characters that pass for one another in a name: folded before comparing.
_ASCII_FOLD = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l"})
# C0 and C1 (U+0080-U+009F): a terminal takes U+009B as CSI, as it takes ESC [.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SPACES = re.compile(r"\s+")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def has_control_chars(text: str, *, allow_newlines: bool) -> bool:
    """Whether ``text`` holds NUL or another C0 or C1 control character (tabs always
    allowed)."""
    for ch in text:
        if ch in "\t" or (allow_newlines and ch in "\n\r"):
            continue
        if unicodedata.category(ch) == "Cc":
            return True
    return False


def valid_unicode(text: str) -> str:
    """Replace lone UTF-16 surrogates with U+FFFD.

    JSON may carry them (``"\\ud83d"``) and undecodable command-line bytes become them; no
    UTF-8 store or platform accepts them.
    """
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def strip_control_chars(text: str) -> str:
    """Remove C0 and C1 control characters except tab and newline, normalise line ends, and
    replace lone surrogates."""
    text = valid_unicode(text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def one_line(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to a single space and strip."""
    return _SPACES.sub(" ", strip_control_chars(text)).strip()


def strip_bidi(text: str) -> str:
    """Remove bidirectional embeddings, overrides and isolates (U+202A–202E, U+2066–2069)."""
    return _BIDI.sub("", text)


def clean_name(text: str) -> str:
    """A display name as stored: one line, without control or bidi control characters."""
    return one_line(strip_bidi(text))


@functools.cache
def _latin_lookalikes() -> dict[int, str]:
    """Each non-ASCII character that looks like one ASCII letter or digit, mapped to it.

    Built once from the Unicode confusables table that confusable_homoglyphs ships (TR39);
    only this small map stays in memory.
    """
    # Imported here: the table is 10 MB as the library loads it, and most bots never need it.
    from confusable_homoglyphs import utils  # type: ignore[import-untyped]

    table: dict[int, str] = {}
    for char, glyphs in utils.load("confusables.json").items():
        if len(char) != 1 or char.isascii():
            continue
        for glyph in glyphs:
            target = glyph.get("c", "")
            if len(target) == 1 and target.isascii() and target.isalnum():
                table[ord(char)] = target.lower()
                break
    return table


@functools.lru_cache(maxsize=4096)
def _plain_latin(ch: str) -> str:
    """A Latin letter that NFKD leaves whole (small capitals, letters with a stroke or a hook)
    as the ASCII letters it is written with: "ɴ" is "n", "ł" is "l", "æ" is "ae".

    anyascii's transliteration, for Latin letters only: for other scripts it gives how a name
    sounds ("李" and "理" are both "Li"), not how it looks.
    """
    if ch.isascii() or not unicodedata.name(ch, "").startswith("LATIN "):
        return ch
    from anyascii import anyascii

    return anyascii(ch).lower() or ch


def name_key(name: str) -> str:
    """What two names that look alike have in common, for comparing names with bans.

    NFKD (full-width and styled letters become plain, accents come off: "Niná" is "Nina"),
    case folding, look-alikes from other scripts mapped to the ASCII letter they imitate
    (Cyrillic "і" is "i", TR39's confusables), other Latin letters to the ASCII they are
    written with (small capitals "ɴɪɴᴀ", "ł"), ASCII look-alikes folded together ("1", "i" and
    "l"), and everything but letters and digits dropped ("Nina." is "Nina"). Linear in the
    length of the name.
    """
    # Look-alikes before and after folding: capital Cyrillic "Т" imitates "T", its small
    # form does not imitate "t".
    lookalikes = _latin_lookalikes()
    text = strip_bidi(name).translate(lookalikes)
    text = unicodedata.normalize("NFKD", text).translate(lookalikes)
    text = text.casefold().translate(lookalikes)
    text = "".join(map(_plain_latin, text)).translate(_ASCII_FOLD)
    return "".join(ch for ch in text if ch.isalnum())


def name_keys(name: str) -> tuple[str, ...]:
    """``name_key`` and, where it differs, the key the name had before ``name_key`` took
    accents off and folded other Latin letters: bans stored under it still hold. Empty keys
    are left out."""
    lookalikes = _latin_lookalikes()
    text = unicodedata.normalize("NFKC", strip_bidi(name)).translate(lookalikes)
    text = text.casefold().translate(lookalikes).translate(_ASCII_FOLD)
    older = "".join(ch for ch in text if ch.isalnum())
    return tuple(dict.fromkeys(key for key in (name_key(name), older) if key))


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _joined(text: str, index: int) -> bool:
    """Whether characters ``index - 1`` and ``index`` belong to one visible character."""
    before, after = text[index - 1], text[index]
    if unicodedata.combining(after) or after in "\u200d\ufe0e\ufe0f" or before == "\u200d":
        return True
    if 0x1F3FB <= ord(after) <= 0x1F3FF or 0xE0020 <= ord(after) <= 0xE007F:
        return True  # skin tones and flag tag sequences modify the character before
    return _regional(before) and _regional(after)


def cut_point(text: str, budget: int) -> int:
    """The character index at which to cut ``text`` so the head fits ``budget`` UTF-16 units.

    Prefers the last whitespace when it is within a fifth of the budget (never cutting inside a
    word unless the word is longer than that), and never splits a surrogate pair, a base
    character from its combining marks, or an emoji sequence.
    """
    if utf16_len(text) <= budget:
        return len(text)
    used = 0
    end = 0
    for index, ch in enumerate(text):
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > budget:
            break
        used += width
        end = index + 1
    if end < len(text) and not text[end].isspace():
        head = text[:end]
        space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if space > 0 and end - space <= max(budget // 5, 1):
            return space
    while 0 < end < len(text) and _joined(text, end):
        end -= 1
    return end


def cut_utf16(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """Shorten ``text`` to at most ``limit`` UTF-16 units at a ``cut_point``, ending with the
    ellipsis (counted within the limit). Text that fits is returned unchanged."""
    if utf16_len(text) <= limit:
        return text
    budget = limit - utf16_len(ellipsis)
    if budget <= 0:
        return ellipsis[: max(limit, 0)]
    return text[: cut_point(text, budget)].rstrip() + ellipsis


def cut_chars(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """Shorten ``text`` to at most ``limit`` code points (Discord counts those), at a word."""
    if len(text) <= limit:
        return text
    budget = limit - len(ellipsis)
    if budget <= 0:
        return ellipsis[: max(limit, 0)]
    head = text[:budget]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space > 0 and budget - space <= max(budget // 5, 1) and not text[budget].isspace():
        head = head[:space]
    return head.rstrip() + ellipsis
