"""The web adapter as the composition root runs it: an aiohttp server on a TCP port."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from aiohttp import web

from adapters.web.app import create_app
from adapters.web.context import log
from newsbot import NewsService, Publisher
from newsbot.errors import ConfigError

SECRET_STATE_KEY = "web.form_secret"


class WebAdapter:
    """Serves the article pages, the comment form, the feeds and the JSON API.

    The web only receives: pages read the store when asked, so there is no publisher.

    Args:
        service: the news service.
        host: the address to listen on.
        port: the TCP port; 0 picks a free one (see ``url`` after ``start``).
        admin_token: turns on the ``/admin`` moderation page for this token.
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
        extra_routes: Sequence[web.RouteDef] = (),
        max_age: int = 5,
        s_maxage: int = 10,
        stale: int = 30,
    ) -> None:
        self.service = service
        self.host = host
        self.port = port
        self.admin_token = admin_token
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
            secret=await self._form_secret(),
            max_age=max_age,
            s_maxage=s_maxage,
            stale=stale,
        )
        app.router.add_routes(self.extra_routes)
        runner = web.AppRunner(app, shutdown_timeout=5.0)
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

    async def _form_secret(self) -> bytes:
        # Kept in the database so forms opened before a restart can still be submitted.
        stored = await self.service.last_state(SECRET_STATE_KEY)
        if stored:
            try:
                return bytes.fromhex(stored)
            except ValueError:
                log.warning("stored form secret is malformed; making a new one")
        secret = secrets.token_bytes(32)
        await self.service.save_state(SECRET_STATE_KEY, secret.hex())
        return secret
