"""The web's protections that need no request: origin checks, signed admin sessions, the
double-submit key, trusted proxies and ASCII-only numbers.

The pages carry nothing per visitor (no form token), so a shared cache may keep them. A
forged cross-site POST is refused by ``same_origin`` instead, from the ``Sec-Fetch-Site`` and
``Origin`` headers every current browser sends with a form POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Collection, Iterable, Sequence
from urllib.parse import urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_ASCII_NUMBER = re.compile(r"[0-9]{1,18}")  # fits SQLite's 64-bit integers


def ascii_number(raw: str | None, *, digits: int = 18) -> int | None:
    """``raw`` as an integer when it is 1 to ``digits`` ASCII digits, else ``None``.

    ``str.isdigit`` also takes "²" and "١" (which ``int`` then refuses or reads), so user
    input goes through this instead.
    """
    if raw is None or len(raw) > digits or not _ASCII_NUMBER.fullmatch(raw):
        return None
    return int(raw)


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose, derived from the secret all workers share."""
    return hmac.new(secret, f"newsbot-web|{purpose}".encode(), hashlib.sha256).digest()


def new_session() -> str:
    """A fresh random session id for a commenter's cookie."""
    return secrets.token_urlsafe(24)


# -- same origin (CSRF) --------------------------------------------------------------------


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased; ``""`` when it has none."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def site_origins(host: str | None, public_url: str) -> frozenset[str]:
    """The origins a POST may come from: the request's own host (either scheme, so a TLS
    proxy in front changes nothing) and the configured public address."""
    origins = set()
    if host:
        origins |= {f"http://{host}".lower(), f"https://{host}".lower()}
    public = origin_of(public_url)
    if public:
        origins.add(public)
    return frozenset(origins)


def same_origin(fetch_site: str | None, origin: str | None, allowed: Collection[str]) -> bool:
    """Whether a POST comes from this site's own pages (or from a non-browser client).

    * ``Sec-Fetch-Site: same-origin`` (a form on this site) or ``none`` (typed by the user):
      accepted; browsers set this header and pages cannot.
    * Otherwise an ``Origin`` header must name this site: a ``cross-site`` or ``same-site``
      POST (another host, or a sibling subdomain) is accepted only then.
    * Neither header: not a browser (curl, a script). CSRF needs a victim's browser, so this
      is accepted, as Django's and Rails' origin checks do.
    """
    fetch_site = (fetch_site or "").strip().lower()
    if fetch_site in ("same-origin", "none"):
        return True
    if origin is not None:
        return origin.strip().lower() in allowed
    return not fetch_site


# -- admin sessions ------------------------------------------------------------------------


class AdminSessions:
    """Signed admin session cookies: ``expires.nonce.mac``.

    The MAC (HMAC-SHA256 with a key derived from the shared secret) covers the expiry, the
    nonce and a hash of the admin token, so changing ``NEWSBOT_WEB_ADMIN_TOKEN`` ends every
    session. Nothing is kept on the server: every worker can check a cookie. Another
    ``purpose`` derives another key: the admin's device cookie (see ``admin.login``) is made
    the same way and is never taken for a session, nor a session for it.
    """

    def __init__(
        self, secret: bytes, admin_token: str, max_age: int, purpose: str = "admin-session"
    ) -> None:
        self._key = derive_key(secret, purpose)
        self._token_hash = hashlib.sha256(admin_token.encode()).hexdigest()
        self.max_age = max_age

    def issue(self, now: float) -> str:
        """A cookie value valid for ``max_age`` seconds from ``now``."""
        expires = int(now) + self.max_age
        nonce = secrets.token_urlsafe(12)
        return f"{expires}.{nonce}.{self._mac(expires, nonce)}"

    def valid(self, cookie: str | None, now: float) -> bool:
        """Whether ``cookie`` was issued here, for the current token, and has not expired."""
        return self.nonce(cookie, now) is not None

    def nonce(self, cookie: str | None, now: float) -> str | None:
        """The random part of a valid ``cookie`` (see ``valid``), else ``None``."""
        if not cookie:
            return None
        expires_text, _, rest = cookie.partition(".")
        nonce, _, mac = rest.partition(".")
        expires = ascii_number(expires_text, digits=12)
        if expires is None or not nonce or not mac:
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(expires, nonce).encode()):
            return None
        return nonce if now < expires else None

    def _mac(self, expires: int, nonce: str) -> str:
        message = f"admin|{expires}|{nonce}|{self._token_hash}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of an admin token."""
    return hmac.compare_digest(given.encode(), expected.encode())


# -- double submits ------------------------------------------------------------------------

SUBMIT_WINDOW = 300  # seconds: the same comment sent twice within this is stored once


def submission_keys(
    key: bytes, *, address: str, article_id: int, parent_id: int | None, name: str, text: str,
    now: float,
) -> tuple[str, str]:  # fmt: skip
    """The idempotency keys of a comment submission: this time bucket's and the previous's.

    A keyed hash of (address, article, parent, name, text) in a ``SUBMIT_WINDOW`` bucket:
    the same comment submitted twice (a double click, a resent form) gets the same key, so it
    is stored once. The caller uses the previous bucket's key when a comment under it exists,
    so a double submit across a bucket boundary is caught too. The address, not the session,
    is hashed: a first-time poster has no cookie yet on either submission.
    """
    bucket = int(now) // SUBMIT_WINDOW
    base = f"{address}|{article_id}|{parent_id or ''}|{name}|{text}"

    def one(b: int) -> str:
        digest = hmac.new(key, f"{base}|{b}".encode(), hashlib.sha256).digest()
        return "f" + base64.urlsafe_b64encode(digest[:18]).decode()

    return one(bucket), one(bucket - 1)


# -- trusted proxies -----------------------------------------------------------------------


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Addresses and CIDR ranges (``10.0.0.1``, ``10.0.0.0/8``, ``::1``).

    Raises:
        ValueError: one is not an address or range, naming it.
    """
    networks = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(
                f"{value!r} is not an IP address or CIDR range (e.g. 127.0.0.1 or 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def trusted(address: str, proxies: Sequence[IPNetwork]) -> bool:
    """Whether ``address`` is one of the trusted proxies."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in proxies)


def real_client(
    peer: str | None,
    forwarded_for: Sequence[str],
    proxies: Sequence[IPNetwork],
    *,
    peer_is_proxy: bool = False,
) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy (or
    ``peer_is_proxy``: the request came through the Unix socket only the proxy can open);
    then the rightmost ``X-Forwarded-For`` hop that is not a trusted proxy (hops to its left
    are written by the client and can be anything)."""
    address = peer or "unknown"
    if not peer_is_proxy and (not proxies or not trusted(address, proxies)):
        return address
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = hop
        if not trusted(hop, proxies):
            break
    return address


def address_bucket(address: str) -> str:
    """What a per-address limit counts under: an IPv4 address as it is, an IPv6 address by
    its /64 (one subscriber usually holds the whole block, so walking through it would
    otherwise buy a fresh limit per address); anything else as it is."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
