"""Fetching feeds politely and safely with aiohttp.

Politely: a conditional GET (``If-None-Match``, ``If-Modified-Since``), gzip and deflate
(aiohttp's default), a User-Agent naming newsbot and the site, timeouts, at most five
redirects, and ``Cache-Control: max-age`` and ``Retry-After`` passed on to the poller.

Safely: only http and https; at most ``max_bytes`` of (decompressed) body, so neither a huge
feed nor a gzip bomb fills memory; and no loopback, private, link-local or otherwise
non-public address unless allowed. The address check sits in the resolver the connector
calls for every connection, so it applies to every redirect hop and to whatever a name
resolves to at that moment (a DNS change after the check cannot slip through). A literal IP
in the URL never reaches a resolver: it is checked before each hop. Redirects are followed
here, not by aiohttp, to do that and to tell permanent moves from temporary ones.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from adapters.feeds.worker import FeedReader
from newsbot.errors import FeedError
from newsbot.models import Fetched

log = logging.getLogger("newsbot.feeds")

MAX_REDIRECTS = 5
MAX_BYTES = 10 * 1024 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;"
    "q=0.9, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def refused(address: Address) -> bool:
    """Whether an address is one a feed may not point at: anything but a public unicast
    address (an IPv4 address mapped into or tunnelled in IPv6 is judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refused(address.ipv4_mapped)
        if address.sixtofour is not None and refused(address.sixtofour):
            return True
        if address.teredo is not None and any(refused(a) for a in address.teredo):
            return True
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global
    )


class AddressRefused(OSError):
    """A feed's host is (or resolves to) an address that is not allowed."""


class GuardedResolver(AbstractResolver):
    """Resolves with the event loop's resolver (through aiohttp's default) and refuses a
    name if any of its addresses is not public."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self.inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(result["host"].split("%", 1)[0])
            if refused(address):
                raise AddressRefused(
                    f"{host} resolves to {address}, which is not a public address"
                )
        return results

    async def close(self) -> None:
        await self.inner.close()


def _seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


class HttpFeedSource:
    """A ``FeedSource`` on aiohttp.

    Args:
        site_url: the newsroom's public address, named in the User-Agent.
        allow_private: allow loopback, private and link-local addresses (tests, intranets).
        timeout: seconds for a whole request; ``connect_timeout`` and ``read_timeout`` bound
            connecting and each read.
        max_bytes: the largest body read, after decompression.
        version: newsbot's version, for the User-Agent.
        reader: parses documents and converts items off the event loop, within budgets
            (one of its own by default).
    """

    def __init__(
        self,
        *,
        site_url: str = "",
        allow_private: bool = False,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        read_timeout: float = 15.0,
        max_bytes: int = MAX_BYTES,
        version: str = "0.1",
        reader: FeedReader | None = None,
    ) -> None:
        self.reader = reader or FeedReader()
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self.timeout = aiohttp.ClientTimeout(
            total=timeout, connect=connect_timeout, sock_read=read_timeout
        )
        contact = f"; +{site_url}" if site_url else ""
        self.user_agent = f"newsbot/{version} (feed reader{contact})"
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = None if self.allow_private else GuardedResolver()
            connector = aiohttp.TCPConnector(
                resolver=resolver, limit=100, limit_per_host=8, ttl_dns_cache=60
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                headers={"User-Agent": self.user_agent, "Accept": _ACCEPT},
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        self.reader.close()

    def _check(self, url: URL) -> None:
        if url.scheme not in ("http", "https") or not url.host:
            raise FeedError(f"only http and https addresses are followed, not {url}")
        if self.allow_private:
            return
        try:
            address = ipaddress.ip_address(url.host.strip("[]").split("%", 1)[0])
        except ValueError:
            return  # a name: the resolver checks it when connecting
        if refused(address):
            raise FeedError(f"{url.host} is not a public address")

    async def fetch(self, url: str, *, etag: str | None, last_modified: str | None) -> Fetched:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            current = URL(url)
        except (ValueError, TypeError) as exc:
            raise FeedError(f"not a valid address: {exc}") from exc
        permanent = True
        session = self._client()
        try:
            for hop in range(MAX_REDIRECTS + 1):
                self._check(current)
                async with session.get(
                    current, headers=headers, allow_redirects=False
                ) as response:
                    location = response.headers.get("Location")
                    if response.status in _REDIRECTS and location:
                        if hop == MAX_REDIRECTS:
                            raise FeedError(f"more than {MAX_REDIRECTS} redirects")
                        permanent = permanent and response.status in _PERMANENT
                        current = current.join(URL(location))
                        continue
                    return await self._answer(url, current, permanent and hop > 0, response)
        except AddressRefused as exc:
            raise FeedError(str(exc)) from exc
        except aiohttp.ClientConnectorError as exc:
            cause = exc.os_error
            if isinstance(cause, AddressRefused):
                raise FeedError(str(cause)) from exc
            raise FeedError(f"cannot connect: {cause or exc}") from exc
        except TimeoutError as exc:
            raise FeedError("timed out") from exc
        except aiohttp.ClientPayloadError as exc:  # shorter than announced, or a broken chunk
            raise FeedError(f"the feed did not arrive whole: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise FeedError(f"{type(exc).__name__}: {exc}") from exc
        raise FeedError(f"more than {MAX_REDIRECTS} redirects")  # pragma: no cover

    async def _answer(
        self, asked: str, final: URL, moved: bool, response: aiohttp.ClientResponse
    ) -> Fetched:
        now = datetime.now(UTC)
        cache = response.headers.get("Cache-Control", "")
        age = _MAX_AGE.search(cache)
        fetched = Fetched(
            status=response.status,
            url=str(final),
            moved_to=str(final) if moved and str(final) != asked else None,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            max_age=float(age.group(1)) if age and "no-store" not in cache.lower() else None,
            retry_after=_seconds(response.headers.get("Retry-After"), now),
        )
        if response.status != 200:
            return fetched
        body = await self._read(response)
        content_type = response.headers.get("Content-Type")
        title, entries, problems = await self.reader.parse(body, str(final), content_type)
        if problems:
            log.info(
                "feed partly unreadable",
                extra={"url": str(final), "problems": "; ".join(problems)[:1000]},
            )
        return Fetched(
            status=fetched.status,
            url=fetched.url,
            moved_to=fetched.moved_to,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            max_age=fetched.max_age,
            retry_after=fetched.retry_after,
            title=title,
            entries=tuple(entries),
            problems=tuple(problems),
        )

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self.max_bytes
        if response.content_length is not None and response.content_length > limit:
            raise FeedError(f"the feed is larger than {limit // (1024 * 1024)} MB")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise FeedError(f"the feed is larger than {limit // (1024 * 1024)} MB")
            chunks.append(chunk)
        return b"".join(chunks)
