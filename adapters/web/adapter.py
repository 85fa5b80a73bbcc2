"""The web adapter as the composition root runs it: an aiohttp server on a TCP port or on
a Unix socket (for a reverse proxy on the same machine)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from aiohttp import web

from adapters.i18n import Speech
from adapters.web.app import create_app
from adapters.web.brand import Brand
from adapters.web.connections import (
    BODY_TIMEOUT,
    HEADER_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_CLIENT,
    UNIX_SOCKET_MODE,
    CappedRunner,
    add_body_deadline,
    remove_socket,
    unix_socket,
)
from adapters.web.context import log
from adapters.web.guard import parse_networks
from adapters.web.signin import SignInConfig
from newsbot import NewsService, Publisher
from newsbot.errors import ConfigError


class WebAdapter:
    """Serves the article pages, the comment form, the feeds and the JSON API.

    The web only receives: pages read the store when asked, so there is no publisher.

    Args:
        service: the news service.
        host: the address to listen on.
        port: the TCP port; 0 picks a free one (see ``url`` after ``start``).
        unix_socket: listen on this Unix socket path instead of TCP, for a reverse proxy on
            the same machine. Only the proxy can connect (``unix_socket_mode``), so its
            ``X-Forwarded-For`` is believed without naming it in ``trust_proxy``.
        unix_socket_mode: the socket file's permissions (0660: owner and group).
        admin_token: turns on the ``/admin`` moderation page for this token.
        trust_proxy: reverse proxies (addresses, CIDR ranges) whose ``X-Forwarded-For`` is
            believed.
        header_timeout: seconds a connection may take to send a complete request (headers)
            and may then stay idle between requests; slower ones are closed.
        body_timeout: seconds a request body may take to arrive after its headers; a slower
            one is answered 408 and its connection closed.
        max_connections: open connections at most; more are answered 503 and closed.
        max_connections_per_client: open connections from one client address (an IPv6
            /64) at most; more are answered 503 and closed. Trusted proxies and the Unix
            socket count only towards ``max_connections``.
        extra_routes: more routes to serve (the operations endpoints, ``adapters.web.ops``).
        max_age, s_maxage, stale: the public pages' ``Cache-Control`` (see ``create_app``).
        sign_in: how readers sign in (``adapters.web.signin.SignInConfig``).
        brand: the site's name, look and theme folder (``adapters.web.brand``).
    """

    name = "web"

    def __init__(
        self,
        service: NewsService,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        unix_socket: str | None = None,
        unix_socket_mode: int = UNIX_SOCKET_MODE,
        admin_token: str | None = None,
        trust_proxy: Sequence[str] = (),
        header_timeout: float = HEADER_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        max_connections_per_client: int = MAX_CONNECTIONS_PER_CLIENT,
        extra_routes: Sequence[web.RouteDef] = (),
        max_age: int = 5,
        s_maxage: int = 10,
        stale: int = 30,
        sign_in: SignInConfig | None = None,
        brand: Brand | None = None,
        speech: Speech | None = None,
    ) -> None:
        self.service = service
        self.speech = speech
        self.host = host
        self.port = port
        self.unix_socket = unix_socket or None
        self.unix_socket_mode = unix_socket_mode
        self.admin_token = admin_token
        self.trust_proxy = list(trust_proxy)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.max_connections = max_connections
        self.max_connections_per_client = max_connections_per_client
        self.extra_routes = list(extra_routes)
        self.cache_seconds = (max_age, s_maxage, stale)
        self.sign_in = sign_in
        self.brand = brand
        self._runner: web.AppRunner | None = None
        self._socket_inode: int | None = None

    @property
    def publisher(self) -> Publisher | None:
        """Always ``None``: nothing is posted to the web, pages read the store."""
        return None

    @property
    def url(self) -> str:
        """The address the server listens on (with the real port once started);
        ``unix:PATH`` on a Unix socket."""
        if self.unix_socket:
            return f"unix:{self.unix_socket}"
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
            sign_in=self.sign_in,
            brand=self.brand,
            speech=self.speech,
        )
        app.router.add_routes(self.extra_routes)
        add_body_deadline(app, self.body_timeout)
        # aiohttp's keep-alive timer starts when a connection opens and closes it if no
        # complete request has arrived by then (a request line sent byte by byte included):
        # the header read timeout. After a response it is the idle keep-alive timeout.
        runner = CappedRunner(
            app,
            shutdown_timeout=5.0,
            keepalive_timeout=self.header_timeout,
            max_connections=self.max_connections,
            max_per_client=self.max_connections_per_client,
            proxies=parse_networks(self.trust_proxy),
        )
        await runner.setup()
        try:
            if self.unix_socket:
                sock = unix_socket(self.unix_socket, self.unix_socket_mode)
                self._socket_inode = os.lstat(self.unix_socket).st_ino
                await web.SockSite(runner, sock).start()
            else:
                await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            self._forget_socket()
            if self.unix_socket:
                raise ConfigError(
                    f"The web server cannot listen on the Unix socket {self.unix_socket} "
                    f"({exc.strerror or exc}). Set NEWSBOT_WEB_UNIX_SOCKET to a path in a "
                    "directory newsbot may write, or leave it empty to listen on TCP."
                ) from exc
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
            self._forget_socket()
            log.info("web site stopped")

    def _forget_socket(self) -> None:
        if self.unix_socket and self._socket_inode is not None:
            remove_socket(self.unix_socket, self._socket_inode)
        self._socket_inode = None
