"""How the web's listeners take connections: caps, deadlines and the Unix socket.

* At most ``max_connections`` open at once, and at most ``max_per_client`` of them from one
  client (an IPv4 address, or an IPv6 /64, the block one subscriber usually holds): one
  client holding hundreds of half-sent requests cannot take the places of everyone else.
  Over either cap a connection is answered 503 and closed at once. Connections from a
  trusted proxy, and on the Unix socket (only the proxy reaches it), count only towards the
  overall cap: they carry many readers.
* A request's headers must arrive within the header timeout (aiohttp's keep-alive timer,
  which starts when a connection opens), and its body within ``body_timeout`` seconds of
  the headers (``body_deadline``), however slowly it trickles in; then the answer is 408
  and the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import stat
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.web.context import log
from adapters.web.guard import IPNetwork, address_bucket, trusted

HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
MAX_CONNECTIONS = 1000
MAX_CONNECTIONS_PER_CLIENT = 50
UNIX_SOCKET_MODE = 0o660
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_LOG_EVERY = 5.0  # seconds between two warnings about refused connections

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def client_of(peer: Any, proxies: Sequence[IPNetwork] = ()) -> str | None:
    """The key a connection from ``peer`` (a socket's peer name) counts under for the
    per-client cap: the IPv4 address, or the IPv6 /64; ``None`` for a trusted proxy and for
    a Unix socket (no address), which count only towards the overall cap."""
    if not isinstance(peer, tuple | list) or not peer:
        return None
    try:
        ip = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if proxies and trusted(str(ip), proxies):
        return None
    return address_bucket(str(ip))


class _Gate(asyncio.Protocol):
    """The first protocol of every connection: counts it, then hands the transport to
    aiohttp's request handler, or answers 503 and closes it."""

    def __init__(self, server: CappedServer) -> None:
        self._server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        handler = self._server.admit(transport.get_extra_info("peername"))
        if handler is None:
            transport.write(_BUSY)
            transport.close()
            return
        transport.set_protocol(handler)
        handler.connection_made(transport)


class CappedServer(web.Server):
    """aiohttp's server with caps on open connections, overall and per client."""

    max_connections = MAX_CONNECTIONS
    max_per_client = MAX_CONNECTIONS_PER_CLIENT
    proxies: tuple[IPNetwork, ...] = ()
    open_connections = 0

    def configure(
        self, *, max_connections: int, max_per_client: int, proxies: Sequence[IPNetwork]
    ) -> None:
        """Set the caps (after aiohttp built this server as a plain ``web.Server``)."""
        self.max_connections = max_connections
        self.max_per_client = max_per_client
        self.proxies = tuple(proxies)
        self.open_connections = 0
        self.per_client: dict[str, int] = {}
        self._client_of: dict[Any, str | None] = {}
        self._refused: dict[str, int] = {}
        self._logged_at = 0.0

    def __call__(self) -> Any:
        return _Gate(self)

    def admit(self, peer: Any) -> Any:
        """A request handler for a new connection from ``peer``, or ``None`` when it is
        over a cap (the refusal is counted and logged now and then)."""
        client = client_of(peer, self.proxies)
        if self.open_connections >= self.max_connections:
            self._refuse("too many open", client)
            return None
        if client is not None and self.per_client.get(client, 0) >= self.max_per_client:
            self._refuse("too many from one client", client)
            return None
        handler = super().__call__()
        self.open_connections += 1
        if client is not None:
            self.per_client[client] = self.per_client.get(client, 0) + 1
        self._client_of[handler] = client
        return handler

    def connection_lost(self, handler: Any, exc: BaseException | None = None) -> None:
        if handler in self._client_of:
            client = self._client_of.pop(handler)
            self.open_connections -= 1
            if client is not None:
                left = self.per_client[client] - 1
                if left:
                    self.per_client[client] = left
                else:
                    del self.per_client[client]
        super().connection_lost(handler, exc)

    def _refuse(self, reason: str, client: str | None) -> None:
        key = f"{reason}|{client or ''}"
        self._refused[key] = self._refused.get(key, 0) + 1
        now = time.monotonic()
        if now - self._logged_at < _LOG_EVERY:
            return  # under a flood, one warning every few seconds sums the refusals up
        self._logged_at = now
        for what, count in sorted(self._refused.items()):
            why, _, who = what.partition("|")
            log.warning(
                f"connections refused: {why}",
                extra={"client": who or None, "refused": count, "open": self.open_connections},
            )
        self._refused.clear()


class CappedRunner(web.AppRunner):
    """An ``AppRunner`` whose server is a ``CappedServer``."""

    def __init__(
        self,
        app: web.Application,
        *,
        max_connections: int,
        max_per_client: int = MAX_CONNECTIONS_PER_CLIENT,
        proxies: Sequence[IPNetwork] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(app, **kwargs)
        self._caps = (max_connections, max_per_client, tuple(proxies))

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp builds its Server inside Application; give that instance the caps.
        server.__class__ = CappedServer
        assert isinstance(server, CappedServer)
        total, per_client, proxies = self._caps
        server.configure(max_connections=total, max_per_client=per_client, proxies=proxies)
        return server


class BodyTimeout(TimeoutError):
    """A request body did not arrive within the body timeout."""


_EXPIRED = web.RequestKey("body_deadline_expired", bool)


def add_body_deadline(app: web.Application, timeout: float) -> None:
    """Give every request's body ``timeout`` seconds from its headers (a middleware).

    When it runs out, the body stream fails with ``BodyTimeout``: a handler reading it gets
    it, answered 408 with ``Connection: close``; and aiohttp, which reads and discards an
    unread body after the answer, stops and closes the connection. Checked on a timer, so a
    body trickled byte by byte is cut off as surely as one that stopped. Call before the
    application starts; add it last, so the error pages render its 408.
    """

    @web.middleware
    async def deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
        payload = request.content
        if not request.body_exists or payload.is_eof():
            return await handler(request)

        def expire() -> None:
            if not payload.is_eof() and payload.exception() is None:
                log.warning(
                    "request body too slow: closing the connection",
                    extra={"path": request.path, "remote": request.remote, "timeout": timeout},
                )
                payload.set_exception(BodyTimeout(f"no complete body within {timeout} s"))

        timer = asyncio.get_running_loop().call_later(timeout, expire)
        try:
            return await handler(request)
        except BodyTimeout:
            request[_EXPIRED] = True
            raise web.HTTPRequestTimeout() from None
        finally:
            if payload.is_eof():
                timer.cancel()
            # Else the timer stays on: it also ends aiohttp's reading of the unread rest.

    async def close_after(request: web.Request, response: web.StreamResponse) -> None:
        if request.get(_EXPIRED):
            response.force_close()
            response.headers["Connection"] = "close"  # the headers are already made

    app.middlewares.append(deadline)
    app.on_response_prepare.append(close_after)


def unix_socket(path: str, mode: int = UNIX_SOCKET_MODE) -> socket.socket:
    """A Unix stream socket bound at ``path`` with permissions ``mode``, not yet listening.

    The mode is set before ``listen``, so nobody can connect while it is wider. A socket
    file left by an earlier run is replaced when nothing answers on it.

    Raises:
        OSError: ``path`` exists and is not a socket, something listens on it already, or
            it cannot be created (no such directory, no permission, a name too long).
    """
    where = Path(path)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(where.lstat().st_mode):
            raise FileExistsError(17, "it exists and is not a socket")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
            except ConnectionRefusedError:
                where.unlink()  # left by a process that is gone
            else:
                raise OSError(98, "another process is listening on it")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, mode)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def remove_socket(path: str, inode: int) -> None:
    """Delete the socket file at ``path`` if it is still the one we created."""
    with contextlib.suppress(OSError):
        if os.lstat(path).st_ino == inode:
            os.unlink(path)
