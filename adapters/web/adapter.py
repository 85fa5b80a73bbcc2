"""The web adapter as the composition root runs it: an aiohttp server on a TCP port."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from adapters.web.app import create_app
from adapters.web.context import log
from newsbot import NewsService, Publisher
from newsbot.errors import ConfigError

HEADER_TIMEOUT = 10.0
MAX_CONNECTIONS = 1000
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class _Refused(asyncio.Protocol):
    """A connection over the cap: answered 503 and closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


class _CappedServer(web.Server):
    """aiohttp's server with a cap on open connections (slowloris: idle sockets pile up)."""

    max_connections = MAX_CONNECTIONS
    open_connections = 0

    def __call__(self) -> Any:
        if self.open_connections >= self.max_connections:
            log.warning("connection refused: too many open", extra={"open": self.open_connections})
            return _Refused()
        self.open_connections += 1
        return super().__call__()

    def connection_lost(self, handler: Any, exc: BaseException | None = None) -> None:
        self.open_connections -= 1
        super().connection_lost(handler, exc)


class _Runner(web.AppRunner):
    def __init__(self, app: web.Application, *, max_connections: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._max_connections = max_connections

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp builds its Server inside Application; give that instance the cap.
        server.__class__ = _CappedServer
        assert isinstance(server, _CappedServer)
        server.max_connections = self._max_connections
        return server


class WebAdapter:
    """Serves the article pages, the comment form, the feeds and the JSON API.

    The web only receives: pages read the store when asked, so there is no publisher.

    Args:
        service: the news service.
        host: the address to listen on.
        port: the TCP port; 0 picks a free one (see ``url`` after ``start``).
        admin_token: turns on the ``/admin`` moderation page for this token.
        trust_proxy: reverse proxies (addresses, CIDR ranges) whose ``X-Forwarded-For`` is
            believed.
        header_timeout: seconds a connection may take to send a complete request (headers)
            and may then stay idle between requests; slower ones are closed.
        max_connections: open connections at most; more are answered 503 and closed.
        extra_routes: more routes to serve (the operations endpoints, ``adapters.web.ops``).
        max_age, s_maxage, stale: the public pages' ``Cache-Control`` (see ``create_app``).
    """

    name = "web"

    def __init__(
        self,
        service: NewsService,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        admin_token: str | None = None,
        trust_proxy: Sequence[str] = (),
        header_timeout: float = HEADER_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        extra_routes: Sequence[web.RouteDef] = (),
        max_age: int = 5,
        s_maxage: int = 10,
        stale: int = 30,
    ) -> None:
        self.service = service
        self.host = host
        self.port = port
        self.admin_token = admin_token
        self.trust_proxy = list(trust_proxy)
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.extra_routes = list(extra_routes)
        self.cache_seconds = (max_age, s_maxage, stale)
        self._runner: web.AppRunner | None = None

    @property
    def publisher(self) -> Publisher | None:
        """Always ``None``: nothing is posted to the web, pages read the store."""
        return None

    @property
    def url(self) -> str:
        """The address the server listens on (with the real port once started)."""
        port = self.port
        if self._runner is not None and self._runner.addresses:
            port = self._runner.addresses[0][1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    async def start(self) -> None:
        """Start serving.

        Raises:
            ConfigError: the address cannot be listened on (the port is taken, say).
        """
        max_age, s_maxage, stale = self.cache_seconds
        app = create_app(
            self.service,
            admin_token=self.admin_token,
            trust_proxy=self.trust_proxy,
            max_age=max_age,
            s_maxage=s_maxage,
            stale=stale,
        )
        app.router.add_routes(self.extra_routes)
        # aiohttp's keep-alive timer starts when a connection opens and closes it if no
        # complete request has arrived by then (a request line sent byte by byte included):
        # the header read timeout. After a response it is the idle keep-alive timeout.
        runner = _Runner(
            app,
            shutdown_timeout=5.0,
            keepalive_timeout=self.header_timeout,
            max_connections=self.max_connections,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"The web server cannot listen on {self.host}:{self.port} ({exc.strerror}). "
                "Set NEWSBOT_WEB_PORT to a free port, or NEWSBOT_WEB=false."
            ) from exc
        self._runner = runner
        log.info("web site serving", extra={"url": self.url})

    async def stop(self) -> None:
        """Stop serving; open connections get a few seconds to finish."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            log.info("web site stopped")
