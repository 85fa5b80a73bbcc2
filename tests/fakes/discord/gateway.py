"""The gateway: the WebSocket sessions (identify, resume, heartbeats) and event dispatch."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable

from aiohttp import WSMsgType, web

from .limits import Limits
from .wire import (
    API_VERSION,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_PRESENCES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    JSON,
    VALID_INTENTS,
    _as_int,
)
from .world import _Session


class Gateway(Limits):
    """The gateway WebSocket and the events it dispatches to every session."""

    async def _handle_gateway(self, request: web.Request) -> web.StreamResponse:
        if self._down:
            return web.Response(status=502, text="<html>502 Bad Gateway</html>")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        self.gateway_connections += 1
        session: _Session | None = None
        hello = {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
        try:
            await ws.send_str(json.dumps({**hello, "s": None, "t": None}))
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    if frame.type == WSMsgType.BINARY:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                try:
                    payload = json.loads(frame.data)
                    op = payload["op"]
                except (ValueError, KeyError, TypeError):
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                data = payload.get("d")
                if op == 1:
                    await self._send_op(session, ws, {"op": 11, "d": None})
                elif op == 2:
                    if session is not None:
                        await ws.close(code=4005, message=b"Already authenticated.")
                        break
                    session = await self._identify(ws, data or {})
                    if session is None:
                        break
                elif op == 6:
                    session = await self._resume(ws, data or {})
                    if session is None and ws.closed:
                        break
                elif op in (3, 4, 8):
                    if session is None:
                        await ws.close(code=4003, message=b"Not authenticated.")
                        break
                    if op == 8:
                        await self._request_members(session, data or {})
                else:
                    await ws.close(code=4001, message=b"Unknown opcode.")
                    break
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
                # A client close with 1000/1001 ends the session (discord.py's close() does
                # that); anything else, including our own closes, leaves it resumable.
                if ws not in self._server_closed and ws.close_code in (1000, 1001):
                    self._sessions.pop(session.session_id, None)
                else:
                    session.disconnected_at = asyncio.get_running_loop().time()
            self._server_closed.discard(ws)
            self._notify()
        return ws

    async def _send_op(
        self, session: _Session | None, ws: web.WebSocketResponse, op: JSON
    ) -> None:
        text = json.dumps({**op, "s": None, "t": None})
        if session is not None:
            async with session.lock:
                await ws.send_str(text)
        else:
            await ws.send_str(text)

    async def _identify(self, ws: web.WebSocketResponse, data: JSON) -> _Session | None:
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~VALID_INTENTS:
            await ws.close(code=4013, message=b"Invalid intent(s).")
            return None
        disallowed = (
            (intents & INTENT_MESSAGE_CONTENT and not self.allow_message_content)
            or (intents & INTENT_GUILD_MEMBERS and not self.allow_members)
            or (intents & INTENT_GUILD_PRESENCES and not self.allow_presences)
        )
        if disallowed:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        session = _Session(session_id=secrets.token_hex(16), intents=intents, ws=ws)
        self._sessions[session.session_id] = session
        self.identify_count += 1
        ready: JSON = {
            "v": API_VERSION,
            "user": self.user,
            "guilds": [{"id": str(gid), "unavailable": True} for gid in self.guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "application": {"id": str(self.application_id), "flags": self._app_flags()},
            "_trace": ["fake-discord"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        await self._send_dispatch(session, "READY", ready)
        for guild in list(self.guilds.values()):
            await self._send_dispatch(
                session, "GUILD_CREATE", self._guild_create_payload(guild, intents)
            )
        self._notify()
        return session

    def _app_flags(self) -> int:
        return int(self._application_payload()["flags"])

    async def _resume(self, ws: web.WebSocketResponse, data: JSON) -> _Session | None:
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        self._expire_sessions()
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or (session.ws is not None and not session.ws.closed):
            await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
            return None
        seq = _as_int(data.get("seq")) or 0
        async with session.lock:
            session.ws = ws
            session.disconnected_at = None
            for entry_seq, text in list(session.log):
                if entry_seq > seq:
                    await ws.send_str(text)
        self.resume_count += 1
        await self._send_dispatch(session, "RESUMED", {"_trace": ["fake-discord"]})
        self._notify()
        return session

    async def _request_members(self, session: _Session, data: JSON) -> None:
        gid = _as_int(data.get("guild_id"))
        if isinstance(data.get("guild_id"), list):
            gids = [int(g) for g in data["guild_id"]]
        else:
            gids = [gid] if gid is not None else []
        for guild_id in gids:
            guild = self.guilds.get(guild_id)
            if guild is None:
                continue
            wanted = {int(u) for u in data.get("user_ids") or []}
            query = (data.get("query") or "").lower()
            members = [
                self._member_payload(guild, uid)
                for uid in guild.members
                if (not wanted or uid in wanted)
                and self.users[uid]["username"].lower().startswith(query)
            ]
            limit = data.get("limit") or 0
            if limit:
                members = members[:limit]
            chunk: JSON = {
                "guild_id": str(guild_id),
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if data.get("nonce") is not None:
                chunk["nonce"] = data["nonce"]
            if data.get("presences"):
                chunk["presences"] = []
            await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _expire_sessions(self) -> None:
        now = asyncio.get_running_loop().time()
        for sid, session in list(self._sessions.items()):
            if (
                session.ws is None
                and session.disconnected_at is not None
                and now - session.disconnected_at > self.resume_window
            ):
                del self._sessions[sid]

    async def _send_dispatch(self, session: _Session, event: str, data: JSON) -> None:
        async with session.lock:
            session.seq += 1
            text = json.dumps({"op": 0, "s": session.seq, "t": event, "d": data})
            session.log.append((session.seq, text))
            ws = session.ws
            if ws is not None and not ws.closed:
                try:
                    await ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    session.ws = None
                    session.disconnected_at = asyncio.get_running_loop().time()

    async def _dispatch(
        self,
        event: str,
        data: JSON | Callable[[_Session], JSON],
        intent: int | None = None,
    ) -> None:
        """Send a dispatch to every live or resumable session that has ``intent``."""
        self._expire_sessions()
        for session in list(self._sessions.values()):
            if intent is not None and not session.intents & intent:
                continue
            payload = data(session) if callable(data) else data
            await self._send_dispatch(session, event, payload)

    async def _dispatch_guild_create_all(self, guild_id: int) -> None:
        guild = self.guilds[guild_id]
        for session in list(self._sessions.values()):
            payload = self._guild_create_payload(guild, session.intents)
            await self._send_dispatch(session, "GUILD_CREATE", payload)

    async def _dispatch_thread_create(self, thread: JSON) -> None:
        await self._dispatch("THREAD_CREATE", {**thread, "newly_created": True}, INTENT_GUILDS)

    async def disconnect_gateway(self, code: int = 4000) -> None:
        """Close every gateway socket with ``code`` (4000 keeps sessions resumable)."""
        for ws in list(self._sockets):
            self._server_closed.add(ws)
            await ws.close(code=code, message=b"fake disconnect")

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT to every connected session (discord.py then RESUMEs)."""
        for session in list(self._sessions.values()):
            if session.ws is not None:
                await self._send_op(session, session.ws, {"op": 7, "d": None})
