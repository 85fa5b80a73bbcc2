"""Page cursors: short opaque strings that carry a keyset position, signed by newsbot.

A cursor is only ever made by newsbot (``next_cursor``) and given back by a client, so one
that was not made here is refused before it reaches the store: a forged position cannot
overflow a database integer or a date, nor name a page the site never linked to (each
would be a page of its own in the page cache). The signature binds a cursor to the list it
was made for: one article's thread in one order, or the article list.

A cursor is the position (numbers in base 36, lower case, parted by capitals), then a
12-character HMAC: it fits a Telegram button's 64 bytes, a URL and a shell argument as it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from newsbot.errors import InvalidInput
from newsbot.i18n import N_
from newsbot.models import ArticleCursor, ArticleId, CommentId, ThreadCursor

MALFORMED = N_("The page cursor is malformed.")
_MAC_CHARS = 12  # 9 bytes of HMAC-SHA256 in unpadded base64url
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MAX_MICROS = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND
_ID_MAX = 2**63 - 1  # the stores' 64-bit integers
_SKIP_MAX = 10**9
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_NUMBER = r"(0|[1-9a-z][0-9a-z]{0,12})"  # no leading zeros: one position has one spelling
_POSITION = re.compile(rf"{_NUMBER}I{_NUMBER}")
_THREAD = re.compile(rf"(?:{_NUMBER}I{_NUMBER})?(?:R{_NUMBER}S{_NUMBER})?")
_MAC = re.compile(r"[A-Za-z0-9_-]{12}")


@dataclass(frozen=True, slots=True)
class ThreadPosition:
    """Where the next page of a thread starts.

    Attributes:
        after: the last top-level comment shown in full (``None``: none yet).
        root: the top-level comment whose replies were cut off by the page's size, if any.
        skip: how many of that comment's rows (itself and its replies, in thread order)
            were shown already.
    """

    after: ThreadCursor | None
    root: CommentId | None = None
    skip: int = 0


class Cursors:
    """Makes and checks the cursors of one installation (``key`` is its shared secret)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def article(self, position: ArticleCursor) -> str:
        """The cursor of the article list after ``position``."""
        return self._sign("articles", _at(position.published_at, position.article_id))

    def read_article(self, cursor: str) -> ArticleCursor:
        """The position an article-list cursor carries.

        Raises:
            InvalidInput: the cursor was not made here for the article list.
        """
        match = _POSITION.fullmatch(self._verify("articles", cursor))
        if match is None:
            raise InvalidInput(MALFORMED, field="cursor")
        when, number = _position(match.group(1), match.group(2))
        return ArticleCursor(when, ArticleId(number))

    def thread(self, article_id: int, newest_first: bool, position: ThreadPosition) -> str:
        """The cursor of ``article_id``'s thread, in one order, at ``position``."""
        payload = ""
        if position.after is not None:
            payload = _at(position.after.created_at, position.after.comment_id)
        if position.root is not None and position.skip > 0:
            payload += f"R{_base36(position.root)}S{_base36(position.skip)}"
        return self._sign(_thread_scope(article_id, newest_first), payload)

    def read_thread(self, cursor: str, article_id: int, newest_first: bool) -> ThreadPosition:
        """The position a thread cursor carries.

        Raises:
            InvalidInput: the cursor was not made here for this thread in this order.
        """
        payload = self._verify(_thread_scope(article_id, newest_first), cursor)
        match = _THREAD.fullmatch(payload)
        if match is None or not payload:
            raise InvalidInput(MALFORMED, field="cursor")
        micros, item, root, skip = match.groups()
        after = None
        if micros is not None and item is not None:
            when, number = _position(micros, item)
            after = ThreadCursor(when, CommentId(number))
        if root is None or skip is None:
            return ThreadPosition(after)
        root_id, rows = int(root, 36), int(skip, 36)
        if not (0 < root_id <= _ID_MAX and 0 < rows <= _SKIP_MAX):
            raise InvalidInput(MALFORMED, field="cursor")
        return ThreadPosition(after, CommentId(root_id), rows)

    def _sign(self, scope: str, payload: str) -> str:
        return payload + self._mac(scope, payload)

    def _mac(self, scope: str, payload: str) -> str:
        digest = hmac.new(self._key, f"{scope}|{payload}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:9]).decode()

    def _verify(self, scope: str, cursor: str) -> str:
        """The payload of a cursor whose signature holds for ``scope``."""
        if not cursor.isascii() or len(cursor) > 128 or len(cursor) <= _MAC_CHARS:
            raise InvalidInput(MALFORMED, field="cursor")
        payload, mac = cursor[:-_MAC_CHARS], cursor[-_MAC_CHARS:]
        if not _MAC.fullmatch(mac) or not hmac.compare_digest(mac, self._mac(scope, payload)):
            raise InvalidInput(MALFORMED, field="cursor")
        return payload


def _thread_scope(article_id: int, newest_first: bool) -> str:
    return f"thread|{article_id}|{'newest' if newest_first else 'oldest'}"


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _DIGITS[digit] + digits
        if not number:
            return digits


def _at(when: datetime, item: int) -> str:
    return f"{_base36((when - _EPOCH) // _MICROSECOND)}I{_base36(item)}"


def _position(micros: str, item: str) -> tuple[datetime, int]:
    """A checked (time, id) pair: a time newsbot can store, an id a store can hold."""
    count, number = int(micros, 36), int(item, 36)
    if count > _MAX_MICROS or not 0 < number <= _ID_MAX:
        raise InvalidInput(MALFORMED, field="cursor")
    return _EPOCH + timedelta(microseconds=count), number
