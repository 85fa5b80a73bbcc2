"""The REST plumbing: the route table, bodies (JSON and multipart), and the request pipeline."""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from .interactions import Interactions
from .limits import _Bucket
from .wire import JSON, ApiError, _as_int, _Request, _Result, _Route


class Rest(Interactions):
    """The REST route table and the pipeline every request goes through."""

    @functools.cached_property
    def _routes(self) -> list[_Route]:
        return self._build_routes()

    def _build_routes(self) -> list[_Route]:
        c = r"(?P<channel_id>\d+)"
        m = r"(?P<message_id>\d+)"
        g = r"(?P<guild_id>\d+)"
        a = r"(?P<application_id>\d+)"
        cmd = r"(?P<command_id>\d+)"
        wh = r"(?P<webhook_id>\d+)/(?P<webhook_token>[^/]+)"
        wm = r"(?P<target>@original|\d+)"
        table: list[tuple[str, str, Callable[[_Request], Awaitable[Any]], str, JSON]] = [
            ("GET", "/users/@me", self._r_me, "users/@me", {}),
            ("GET", r"/users/(?P<user_id>\d+)", self._r_user, "users/{id}", {}),
            ("GET", "/oauth2/applications/@me", self._r_app, "oauth2/app", {}),
            ("GET", "/applications/@me", self._r_app, "applications/@me", {}),
            ("GET", "/gateway", self._r_gateway, "gateway", {"auth": False}),
            ("GET", "/gateway/bot", self._r_gateway_bot, "gateway/bot", {}),
            ("GET", f"/guilds/{g}", self._r_guild, "guilds/{id}", {}),
            ("GET", f"/guilds/{g}/channels", self._r_guild_channels, "guilds/channels", {}),
            ("GET", f"/guilds/{g}/threads/active", self._r_active_threads, "guild/threads", {}),
            (
                "GET",
                rf"/guilds/{g}/members/(?P<user_id>\d+)",
                self._r_member,
                "guilds/members/{id}",
                {},
            ),
            ("GET", f"/channels/{c}", self._r_get_channel, "channels/{id}", {}),
            ("PATCH", f"/channels/{c}", self._r_patch_channel, "patch channels/{id}", {}),
            ("DELETE", f"/channels/{c}", self._r_delete_channel, "delete channels/{id}", {}),
            ("POST", f"/channels/{c}/typing", self._r_typing, "typing", {}),
            (
                "POST",
                f"/channels/{c}/messages",
                self._r_create_message,
                "post messages",
                {"bucket_kind": "messages"},
            ),
            ("GET", f"/channels/{c}/messages", self._r_history, "get messages", {}),
            ("GET", f"/channels/{c}/messages/{m}", self._r_get_message, "get message", {}),
            (
                "PATCH",
                f"/channels/{c}/messages/{m}",
                self._r_edit_message,
                "patch message",
                {"bucket_kind": "messages"},
            ),
            (
                "DELETE",
                f"/channels/{c}/messages/{m}",
                self._r_delete_message,
                "delete message",
                {"bucket_kind": "messages"},
            ),
            (
                "POST",
                f"/channels/{c}/messages/{m}/crosspost",
                self._r_crosspost,
                "crosspost",
                {},
            ),
            (
                "POST",
                f"/channels/{c}/messages/{m}/threads",
                self._r_thread_from_message,
                "message threads",
                {},
            ),
            (
                "PUT",
                rf"/channels/{c}/messages/{m}/reactions/(?P<emoji>[^/]+)/@me",
                self._r_add_reaction,
                "reactions",
                {},
            ),
            (
                "DELETE",
                rf"/channels/{c}/messages/{m}/reactions/(?P<emoji>[^/]+)/@me",
                self._r_remove_reaction,
                "reactions delete",
                {},
            ),
            ("POST", f"/channels/{c}/threads", self._r_create_thread, "threads", {}),
            (
                "PUT",
                f"/channels/{c}/thread-members/@me",
                self._r_join_thread,
                "thread-members",
                {},
            ),
            ("GET", f"/applications/{a}/commands", self._r_get_commands, "global cmds", {}),
            ("PUT", f"/applications/{a}/commands", self._r_put_commands, "put global cmds", {}),
            ("POST", f"/applications/{a}/commands", self._r_post_command, "post global cmd", {}),
            (
                "GET",
                f"/applications/{a}/commands/{cmd}",
                self._r_get_command,
                "global cmd",
                {},
            ),
            (
                "DELETE",
                f"/applications/{a}/commands/{cmd}",
                self._r_delete_command,
                "delete global cmd",
                {},
            ),
            (
                "GET",
                f"/applications/{a}/guilds/{g}/commands",
                self._r_get_commands,
                "guild cmds",
                {},
            ),
            (
                "PUT",
                f"/applications/{a}/guilds/{g}/commands",
                self._r_put_commands,
                "put guild cmds",
                {},
            ),
            (
                "POST",
                f"/applications/{a}/guilds/{g}/commands",
                self._r_post_command,
                "post guild cmd",
                {},
            ),
            (
                "GET",
                f"/applications/{a}/guilds/{g}/commands/{cmd}",
                self._r_get_command,
                "guild cmd",
                {},
            ),
            (
                "DELETE",
                f"/applications/{a}/guilds/{g}/commands/{cmd}",
                self._r_delete_command,
                "delete guild cmd",
                {},
            ),
            (
                "POST",
                f"/interactions/{wh}/callback",
                self._r_interaction_callback,
                "interaction callback",
                {"auth": False, "global_exempt": True},
            ),
            (
                "POST",
                f"/webhooks/{wh}",
                self._r_webhook_execute,
                "webhook execute",
                {"auth": False, "global_exempt": True},
            ),
            (
                "GET",
                f"/webhooks/{wh}/messages/{wm}",
                self._r_webhook_get,
                "webhook message",
                {"auth": False, "global_exempt": True},
            ),
            (
                "PATCH",
                f"/webhooks/{wh}/messages/{wm}",
                self._r_webhook_edit,
                "webhook edit",
                {"auth": False, "global_exempt": True},
            ),
            (
                "DELETE",
                f"/webhooks/{wh}/messages/{wm}",
                self._r_webhook_delete,
                "webhook delete",
                {"auth": False, "global_exempt": True},
            ),
        ]
        return [
            _Route(method, re.compile(f"^{pattern}$"), handler, name, **opts)
            for method, pattern, handler, name, opts in table
        ]

    async def _read_body(
        self, request: web.Request
    ) -> tuple[Any, list[tuple[int, str, bytes, str]]]:
        files: list[tuple[int, str, bytes, str]] = []
        if not request.can_read_body:
            return None, files
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                name = part.name or ""
                data = await part.read()
                if name == "payload_json":
                    payload = json.loads(data.decode())
                elif name.startswith("files["):
                    index = int(name[6:-1])
                    filename = part.filename or f"file{index}"
                    content_type = part.headers.get("Content-Type", "application/octet-stream")
                    files.append((index, filename, bytes(data), content_type))
            return payload, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw), files
        except ValueError:
            return raw.decode(errors="replace"), files

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.method
        path = "/" + request.match_info["tail"]
        body, files = await self._read_body(request)
        self.requests.append((method, path, body))
        self._notify()
        if self._delay:
            await asyncio.sleep(self._delay)
        if self._down:
            return web.Response(
                status=502,
                body=b"<html><head><title>502 Bad Gateway</title></head></html>",
                headers={"Content-Type": "text/html"},
            )
        injected = self._injected(method, path)
        if injected is not None:
            return injected
        route: _Route | None = None
        match: re.Match[str] | None = None
        for candidate in self._routes:
            if candidate.method == method:
                match = candidate.pattern.match(path)
                if match:
                    route = candidate
                    break
        if route is None or match is None:
            return self._json_response(404, {"message": "404: Not Found", "code": 0})
        if route.auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return self._json_response(401, {"message": "401: Unauthorized", "code": 0})
        loop_now = asyncio.get_running_loop().time()
        if self._enforce and not route.global_exempt:
            if self._global_bucket is None:
                self._global_bucket = _Bucket(self._global_per_sec, 1.0)
            if not self._global_bucket.take(loop_now):
                self.count_429_global += 1
                retry = max(0.001, self._global_bucket.reset_after(loop_now))
                return self._too_many(retry, is_global=True, scope="global", extra={})
        params = match.groupdict()
        major = (
            params.get("channel_id")
            or params.get("guild_id")
            or (params.get("webhook_id", "") + params.get("webhook_token", ""))
        )
        key = (route.bucket_hash, major)
        bucket = self._buckets.get(key)
        limit, window = self._bucket_limits(route)
        if bucket is None or (bucket.limit, bucket.window) != (limit, window):
            bucket = self._buckets[key] = _Bucket(limit, window)
        allowed = bucket.take(loop_now)
        headers = self._rate_headers(route, bucket, loop_now)
        if not allowed and self._enforce:
            self.count_429_route += 1
            return self._too_many(
                bucket.reset_after(loop_now), is_global=False, scope="user", extra=headers
            )
        req = _Request(
            method=method,
            path=path,
            params=params,
            query=dict(request.query),
            json=body,
            files=files,
        )
        hold = self._slow_answer(method, path)
        try:
            result = await route.handler(req)
        except ApiError as exc:
            if hold:
                await asyncio.sleep(hold)
            return self._json_response(exc.status, exc.body(), headers)
        if hold:
            await asyncio.sleep(hold)
        if isinstance(result, _Result):
            return self._json_response(result.status, result.body, headers)
        return self._json_response(200, result, headers)

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        aid = _as_int(request.match_info["attachment_id"])
        if aid is None or aid not in self._files:
            return web.Response(status=404)
        _name, data, ctype = self._files[aid]
        return web.Response(body=data, headers={"Content-Type": ctype})
