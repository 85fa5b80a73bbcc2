"""The comment form's protections: signed form tokens bound to a cookie, and a rate limiter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable

TOKEN_MAX_AGE = 2 * 24 * 3600.0


class FormTokenError(Exception):
    """A form token is missing, forged, expired, or lacks its cookie; the message says which."""


class FormTokens:
    """Issues and checks form tokens (CSRF protection).

    A browser gets a random session id in an HttpOnly cookie; each form carries
    ``issued.nonce.mac``, where the MAC signs the session id, the time and the nonce with a
    server secret. A cross-site page can neither read the cookie nor compute the MAC, so it
    cannot produce a token that passes. The nonce is fresh per page view and doubles as the
    submission's idempotency key.
    """

    def __init__(
        self,
        secret: bytes,
        *,
        max_age: float = TOKEN_MAX_AGE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._max_age = max_age
        self._clock = clock

    @staticmethod
    def new_session() -> str:
        """A fresh random session id for the cookie."""
        return secrets.token_urlsafe(18)

    def issue(self, session: str) -> str:
        """A token for one form shown to the browser holding ``session``."""
        issued = int(self._clock())
        nonce = secrets.token_urlsafe(12)
        return f"{issued}.{nonce}.{self._mac(session, issued, nonce)}"

    def check(self, session: str | None, token: str | None) -> str:
        """Verify a submitted token against the browser's cookie and return its nonce.

        Raises:
            FormTokenError: with a message for the person who submitted the form.
        """
        if not token:
            raise FormTokenError(
                "The form is missing its security token. Reload the page and submit again."
            )
        if not session:
            raise FormTokenError(
                "Your browser did not send this site's cookie, which the form needs. "
                "Allow cookies for this site, reload the page and submit again."
            )
        issued_text, _, rest = token.partition(".")
        nonce, _, mac = rest.partition(".")
        if not (issued_text.isdigit() and nonce and mac) or not hmac.compare_digest(
            mac.encode(), self._mac(session, int(issued_text), nonce).encode()
        ):
            raise FormTokenError(
                "The form's security token is not valid. Reload the page and submit again."
            )
        if self._clock() - int(issued_text) > self._max_age:
            raise FormTokenError("The form has expired. Reload the page and submit again.")
        return nonce

    def _mac(self, session: str, issued: int, nonce: str) -> str:
        message = f"{session}|{issued}|{nonce}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class RateLimiter:
    """A sliding-window limit per key (a remote address): ``limit`` events per ``window`` s.

    Only the most recently active ``max_keys`` keys are remembered, so a flood of addresses
    cannot grow memory without bound.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may act again; 0 when it may act now."""
        events = self._recent(key)
        if events is None or len(events) < self.limit:
            return 0
        return max(1, math.ceil(events[0] + self.window - self._clock()))

    def record(self, key: str) -> None:
        """Count one event for ``key``."""
        events = self._recent(key)
        if events is None:
            events = self._events[key] = deque()
        events.append(self._clock())
        self._events.move_to_end(key)
        while len(self._events) > self._max_keys:
            self._events.popitem(last=False)

    def _recent(self, key: str) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        horizon = self._clock() - self.window
        while events and events[0] <= horizon:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events
