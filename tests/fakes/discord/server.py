"""The aiohttp app and its lifecycle, the control API, and pointing discord.py at the fake."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import warnings
from collections.abc import Awaitable, Iterator
from typing import Any

from aiohttp import web

from .dms import DirectMessages
from .oauth import OAuthApps, OAuthRoutes
from .reactions import Reactions
from .rest import Rest
from .wire import JSON, ApiError, _as_int


class FakeDiscord(DirectMessages, Rest, Reactions):
    """A fake Discord (REST + gateway) for the real discord.py client. See the package docstring."""

    oauth: OAuthApps  # the OAuth2 applications and grants (``tests.fakes.discord.oauth``)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.oauth = OAuthApps()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_routes(
            OAuthRoutes(self.oauth, self.users, self._handle_api).routes()
        )  # before /api/*
        app.router.add_route("*", "/api/v{version:\\d+}/{tail:.*}", self._handle_api)
        app.router.add_get("/gateway", self._handle_gateway)
        app.router.add_get("/gateway/", self._handle_gateway)
        app.router.add_get(
            "/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment
        )
        app.router.add_get("/_control/state", self._control_state)
        app.router.add_get("/_control/messages", self._control_messages)
        app.router.add_get("/_control/interactions", self._control_interactions)
        app.router.add_post("/_control/message", self._control_message)
        app.router.add_post("/_control/edit", self._control_edit)
        app.router.add_post("/_control/delete", self._control_delete)
        app.router.add_post("/_control/slash", self._control_slash)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()

    async def stop(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server stopping")
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _control_json(self, request: web.Request) -> JSON:
        try:
            data = await request.json()
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        return data

    async def _control_call(self, coro: Awaitable[Any]) -> web.Response:
        try:
            result = await coro
        except (ValueError, KeyError, PermissionError, ApiError) as exc:
            return self._json_response(400, {"error": str(exc)})
        return self._json_response(200, result if result is not None else {})

    async def _control_state(self, request: web.Request) -> web.Response:
        state = {
            "bot_id": str(self.bot_id),
            "application_id": str(self.application_id),
            "api_url": self.api_url,
            "gateway_url": self.gateway_url,
            "connected": self.connected,
            "guilds": [
                {
                    "id": str(g.id),
                    "name": g.name,
                    "owner_id": str(g.owner_id),
                    "members": [
                        {"id": str(uid), "name": self.users[uid]["username"]} for uid in g.members
                    ],
                    "channels": [
                        {"id": c["id"], "name": c["name"], "type": c["type"]}
                        for cid, c in self.channels.items()
                        if c.get("guild_id") == str(g.id) and cid not in self.deleted_channels
                    ],
                }
                for g in self.guilds.values()
            ],
            "commands": self.commands,
        }
        return self._json_response(200, state)

    async def _control_message(self, request: web.Request) -> web.Response:
        data = await self._control_json(request)
        reply_to = _as_int(data.get("reply_to"))
        return await self._control_call(
            self.user_message(
                int(data["channel_id"]),
                int(data["author_id"]),
                str(data["content"]),
                reply_to=reply_to,
            )
        )

    async def _control_edit(self, request: web.Request) -> web.Response:
        data = await self._control_json(request)
        return await self._control_call(
            self.user_edit(int(data["channel_id"]), int(data["message_id"]), str(data["content"]))
        )

    async def _control_delete(self, request: web.Request) -> web.Response:
        data = await self._control_json(request)
        return await self._control_call(
            self.user_delete(int(data["channel_id"]), int(data["message_id"]))
        )

    async def _control_slash(self, request: web.Request) -> web.Response:
        data = await self._control_json(request)
        guild_id = _as_int(data.get("guild_id"))
        channel_id = int(data["channel_id"])
        if guild_id is None:
            guild_id = int(self.channels[channel_id]["guild_id"])
        return await self._control_call(
            self.slash_command(
                guild_id,
                channel_id,
                int(data["user_id"]),
                str(data["name"]),
                dict(data.get("options") or {}),
                command_type=int(data.get("command_type", 1)),
                target_id=_as_int(data.get("target_id")),
            )
        )

    async def _control_messages(self, request: web.Request) -> web.Response:
        cid = _as_int(request.query.get("channel_id"))
        if cid is None or cid not in self.channels:
            return self._json_response(400, {"error": "unknown channel_id"})
        return self._json_response(200, self.messages(cid))

    async def _control_interactions(self, request: web.Request) -> web.Response:
        return self._json_response(
            200,
            {
                "responses": {str(k): v for k, v in self.interaction_responses.items()},
                "followups": {str(k): v for k, v in self.followups.items()},
            },
        )


@contextlib.contextmanager
def point_discord_py_at(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base URL and default gateway at ``fake``; restore on exit.

    ``Route.BASE`` is read whenever a Route is built and ``DEFAULT_GATEWAY`` on every (re)connect,
    so keep this active for the whole life of the client."""
    import yarl

    with warnings.catch_warnings():
        # discord.py imports the deprecated audioop module (Python 3.11-3.12).
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        import discord.gateway
        import discord.http

    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
