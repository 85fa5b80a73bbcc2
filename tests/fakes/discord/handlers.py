"""The REST API's handlers for users, guilds, channels, messages, threads and reactions."""

from __future__ import annotations

import asyncio
from typing import Any

from .users import Users
from .wire import (
    ADD_REACTIONS,
    ANNOUNCEMENT_THREAD,
    ATTACH_FILES,
    CREATE_PRIVATE_THREADS,
    CREATE_PUBLIC_THREADS,
    FLAG_CROSSPOSTED,
    FLAG_HAS_THREAD,
    GUILD_ANNOUNCEMENT,
    GUILD_FORUM,
    GUILD_MEDIA,
    GUILD_TEXT,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    JSON,
    MANAGE_CHANNELS,
    MANAGE_MESSAGES,
    MANAGE_THREADS,
    MSG_THREAD_CREATED,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    THREAD_TYPES,
    VIEW_CHANNEL,
    ApiError,
    _as_int,
    _err,
    _form_error,
    _missing_access,
    _missing_permissions,
    _now_iso,
    _Request,
    _Result,
)
from .world import _Guild


class Handlers(Users):
    """REST handlers: users, guilds, channels, messages, threads, reactions."""

    def _json_body(self, req: _Request) -> JSON:
        if req.json is None:
            return {}
        if not isinstance(req.json, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        return req.json

    async def _r_me(self, req: _Request) -> JSON:
        return self.user

    async def _r_user(self, req: _Request) -> JSON:
        user = self.users.get(int(req.params["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return user

    async def _r_app(self, req: _Request) -> JSON:
        return self._application_payload()

    async def _r_gateway(self, req: _Request) -> JSON:
        return {"url": self.gateway_url}

    async def _r_gateway_bot(self, req: _Request) -> JSON:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000 - self.identify_count,
                "reset_after": 86400000,
                "max_concurrency": 1,
            },
        }

    def _guild_or_404(self, guild_id: int) -> _Guild:
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def _r_guild(self, req: _Request) -> JSON:
        guild = self._guild_or_404(int(req.params["guild_id"]))
        return self._guild_payload(guild)

    async def _r_guild_channels(self, req: _Request) -> list[JSON]:
        gid = req.params["guild_id"]
        self._guild_or_404(int(gid))
        return [
            c
            for cid, c in self.channels.items()
            if c.get("guild_id") == gid
            and int(c["type"]) not in THREAD_TYPES
            and cid not in self.deleted_channels
        ]

    async def _r_active_threads(self, req: _Request) -> JSON:
        gid = req.params["guild_id"]
        self._guild_or_404(int(gid))
        threads = [
            t
            for tid, t in self.threads.items()
            if t["guild_id"] == gid
            and tid not in self.deleted_channels
            and not t["thread_metadata"]["archived"]
        ]
        return {"threads": threads, "members": []}

    async def _r_member(self, req: _Request) -> JSON:
        guild = self._guild_or_404(int(req.params["guild_id"]))
        uid = int(req.params["user_id"])
        if uid not in guild.members:
            raise ApiError(404, 10007, "Unknown Member")
        return self._member_payload(guild, uid)

    async def _r_get_channel(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        self._require(self.bot_id, cid, VIEW_CHANNEL)
        return channel

    async def _r_patch_channel(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        body = self._json_body(req)
        perms = self._require(self.bot_id, cid, 0)
        errors: JSON = {}
        if "name" in body and not 1 <= len(str(body["name"] or "")) <= 100:
            errors["name"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if errors:
            raise _form_error(errors)
        if int(channel["type"]) in THREAD_TYPES:
            is_owner = channel["owner_id"] == str(self.bot_id)
            manage = bool(perms & MANAGE_THREADS)
            if ("locked" in body or "rate_limit_per_user" in body) and not manage:
                raise _missing_permissions()  # a thread's owner may not set these either
            if not (is_owner or manage):
                raise _missing_permissions()
            meta = channel["thread_metadata"]
            if meta.get("locked") and not manage:
                raise _missing_permissions()
            if "name" in body:
                channel["name"] = body["name"]
            for key in ("archived", "locked", "auto_archive_duration", "invitable"):
                if key in body and body[key] is not None:
                    meta[key] = body[key]
            if "archived" in body:
                meta["archive_timestamp"] = _now_iso()
            if "applied_tags" in body:
                channel["applied_tags"] = [str(t) for t in body["applied_tags"] or []]
            if "rate_limit_per_user" in body and body["rate_limit_per_user"] is not None:
                channel["rate_limit_per_user"] = body["rate_limit_per_user"]
            self._notify()
            await self._dispatch("THREAD_UPDATE", channel, INTENT_GUILDS)
            return channel
        if not perms & MANAGE_CHANNELS:
            raise _missing_permissions()
        for key in ("name", "topic", "nsfw", "rate_limit_per_user", "position", "parent_id"):
            if key in body:
                channel[key] = body[key]
        if "permission_overwrites" in body:
            channel["permission_overwrites"] = body["permission_overwrites"]
        self._notify()
        await self._dispatch("CHANNEL_UPDATE", channel, INTENT_GUILDS)
        return channel

    async def _r_delete_channel(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        needed = MANAGE_THREADS if int(channel["type"]) in THREAD_TYPES else MANAGE_CHANNELS
        self._require(self.bot_id, cid, needed)
        self.delete_channel(cid)
        return channel

    async def _r_typing(self, req: _Request) -> _Result:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        self._require_send(self.bot_id, channel)
        return _Result(204)

    async def _r_create_message(self, req: _Request) -> Any:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        body = self._json_body(req)
        perms = self._require_send(self.bot_id, channel)
        if req.files and not perms & ATTACH_FILES:
            raise _missing_permissions()
        self._validate_message(body, creating=True)
        nonce = body.get("nonce")
        loop_now = asyncio.get_running_loop().time()
        if nonce is not None and body.get("enforce_nonce"):
            seen = self._nonces.get((cid, str(nonce)))
            if seen is not None and loop_now - seen[1] <= self.nonce_window:
                existing = self._all_messages.get(seen[0])
                if existing is not None and not existing.get("_deleted"):
                    return self._out_message(existing, include_nonce=True)
        msg, pings = self._new_message(
            channel=channel, author_id=self.bot_id, body=body, files=req.files
        )
        if nonce is not None:
            msg["_nonce"] = nonce
            self._nonces[(cid, str(nonce))] = (int(msg["id"]), loop_now)
        self._record_bot_message(msg, pings)
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return self._out_message(msg, include_nonce=True)

    async def _r_history(self, req: _Request) -> list[JSON]:
        cid = int(req.params["channel_id"])
        self._channel_or_404(cid)
        perms = self._require(self.bot_id, cid, 0)
        limit = _as_int(req.query.get("limit", "50"))
        if limit is None or not 1 <= limit <= 100:
            raise _form_error({"limit": _err("NUMBER_TYPE_MAX", "Int value should be <= 100.")})
        if not perms & READ_MESSAGE_HISTORY:
            return []  # Discord answers an empty list, not an error.
        msgs = self.messages(cid)
        before = _as_int(req.query.get("before"))
        after = _as_int(req.query.get("after"))
        around = _as_int(req.query.get("around"))
        if around is not None:
            older = [m for m in msgs if int(m["id"]) < around]
            newer = [m for m in msgs if int(m["id"]) >= around]
            half = limit // 2
            selected = older[len(older) - half :] if half else []
            selected += newer[: limit - len(selected)]
        elif before is not None:
            selected = [m for m in msgs if int(m["id"]) < before][-limit:]
        elif after is not None:
            selected = [m for m in msgs if int(m["id"]) > after][:limit]
        else:
            selected = msgs[-limit:]
        return [self._out_message(m) for m in reversed(selected)]

    async def _r_get_message(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        self._channel_or_404(cid)
        perms = self._require(self.bot_id, cid, 0)
        if not perms & READ_MESSAGE_HISTORY:
            raise _missing_access()
        return self._out_message(self._message_or_404(cid, int(req.params["message_id"])))

    async def _r_edit_message(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        self._channel_or_404(cid)
        self._require(self.bot_id, cid, 0)
        msg = self._message_or_404(cid, int(req.params["message_id"]))
        body = self._json_body(req)
        if msg["_author_id"] != self.bot_id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(msg, body, req.files)
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._out_message(msg)

    async def _r_delete_message(self, req: _Request) -> _Result:
        cid = int(req.params["channel_id"])
        self._channel_or_404(cid)
        perms = self._require(self.bot_id, cid, 0)
        msg = self._message_or_404(cid, int(req.params["message_id"]))
        if msg["_author_id"] != self.bot_id and not perms & MANAGE_MESSAGES:
            raise _missing_permissions()
        self._delete_message_state(msg)
        event = {"id": msg["id"], "channel_id": msg["channel_id"], "guild_id": msg["guild_id"]}
        await self._dispatch("MESSAGE_DELETE", event, INTENT_GUILD_MESSAGES)
        return _Result(204)

    async def _r_crosspost(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        perms = self._require(self.bot_id, cid, 0)
        msg = self._message_or_404(cid, int(req.params["message_id"]))
        if int(channel["type"]) != GUILD_ANNOUNCEMENT:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        needed = SEND_MESSAGES if msg["_author_id"] == self.bot_id else MANAGE_MESSAGES
        if needed & ~perms:
            raise _missing_permissions()
        if msg["flags"] & FLAG_CROSSPOSTED:
            raise ApiError(400, 40033, "This message has already been crossposted.")
        msg["flags"] |= FLAG_CROSSPOSTED
        self.crossposted.add(int(msg["id"]))
        self._notify()
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._out_message(msg)

    def _validate_thread_body(self, body: JSON) -> tuple[str, int]:
        errors: JSON = {}
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors["name"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        duration = body.get("auto_archive_duration") or 1440
        if duration not in (60, 1440, 4320, 10080):
            errors["auto_archive_duration"] = _err(
                "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}."
            )
        if errors:
            raise _form_error(errors)
        return str(name), int(duration)

    async def _r_thread_from_message(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        mid = int(req.params["message_id"])
        ctype = int(channel["type"])
        if ctype not in (GUILD_TEXT, GUILD_ANNOUNCEMENT):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require(self.bot_id, cid, CREATE_PUBLIC_THREADS)
        msg = self._message_or_404(cid, mid)
        body = self._json_body(req)
        name, duration = self._validate_thread_body(body)
        if msg.get("_thread_id") is not None:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        ttype = ANNOUNCEMENT_THREAD if ctype == GUILD_ANNOUNCEMENT else PUBLIC_THREAD
        thread = self._thread_payload(
            mid,
            int(channel["guild_id"]),
            cid,
            name,
            ttype,
            self.bot_id,
            auto_archive_duration=duration,
            rate_limit_per_user=body.get("rate_limit_per_user") or 0,
        )
        self.channels[mid] = thread
        self.threads[mid] = thread
        self._store[mid] = {}
        msg["_thread_id"] = mid
        msg["flags"] |= FLAG_HAS_THREAD
        self._notify()
        await self._dispatch_thread_create(thread)
        return thread

    async def _r_create_thread(self, req: _Request) -> JSON:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        body = self._json_body(req)
        ctype = int(channel["type"])
        gid = int(channel["guild_id"])
        if ctype in (GUILD_FORUM, GUILD_MEDIA):
            return await self._create_forum_post(channel, body, req.files)
        if ctype not in (GUILD_TEXT, GUILD_ANNOUNCEMENT):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        name, duration = self._validate_thread_body(body)
        ttype = body.get("type", PRIVATE_THREAD)
        if ctype == GUILD_ANNOUNCEMENT:
            ttype = ANNOUNCEMENT_THREAD
        if ttype not in THREAD_TYPES:
            raise _form_error({"type": _err("BASE_TYPE_CHOICES", "Value must be 10, 11 or 12.")})
        needed = CREATE_PRIVATE_THREADS if ttype == PRIVATE_THREAD else CREATE_PUBLIC_THREADS
        self._require(self.bot_id, cid, needed)
        tid = self.new_id()
        thread = self._thread_payload(
            tid,
            gid,
            cid,
            name,
            ttype,
            self.bot_id,
            auto_archive_duration=duration,
            rate_limit_per_user=body.get("rate_limit_per_user") or 0,
        )
        self.channels[tid] = thread
        self.threads[tid] = thread
        self._store[tid] = {}
        await self._dispatch_thread_create(thread)
        if ttype != PRIVATE_THREAD:
            # Discord posts a "started a thread" system message in the parent.
            system, _ = self._new_message(
                channel=channel,
                author_id=self.bot_id,
                body={"content": name},
                msg_type=MSG_THREAD_CREATED,
            )
            system["message_reference"] = {"channel_id": str(tid), "guild_id": str(gid)}
            system["_thread_id"] = tid
            await self._dispatch_message("MESSAGE_CREATE", system)
        self._notify()
        return thread

    async def _create_forum_post(
        self, forum: JSON, body: JSON, files: list[tuple[int, str, bytes, str]]
    ) -> JSON:
        fid = int(forum["id"])
        perms = self._require(self.bot_id, fid, SEND_MESSAGES)
        if files and not perms & ATTACH_FILES:
            raise _missing_permissions()
        name, duration = self._validate_thread_body(body)
        message_body = body.get("message")
        if not isinstance(message_body, dict):
            raise _form_error({"message": _err("BASE_TYPE_REQUIRED", "This field is required")})
        try:
            self._validate_message(message_body, creating=True)
        except ApiError as exc:
            raise _form_error({"message": exc.errors or {}}) from None
        tags = [str(t) for t in body.get("applied_tags") or []]
        known = {t["id"] for t in forum.get("available_tags", [])}
        if len(tags) > 5 or any(t not in known for t in tags):
            raise _form_error({"applied_tags": _err("INVALID_TAG", "Unknown forum tag.")})
        if forum.get("flags", 0) & (1 << 4) and not tags:
            raise ApiError(400, 40067, "A tag is required to create a forum post in this channel")
        tid = self.new_id()
        thread = self._thread_payload(
            tid,
            int(forum["guild_id"]),
            fid,
            name,
            PUBLIC_THREAD,
            self.bot_id,
            auto_archive_duration=duration,
            applied_tags=tags,
            rate_limit_per_user=body.get("rate_limit_per_user") or 0,
        )
        self.channels[tid] = thread
        self.threads[tid] = thread
        self._store[tid] = {}
        try:
            msg, pings = self._new_message(
                channel=thread,
                author_id=self.bot_id,
                body=message_body,
                files=files,
                message_id=tid,
                extra={"position": 0},
            )
        except ApiError:
            del self.channels[tid], self.threads[tid], self._store[tid]
            raise
        self._record_bot_message(msg, pings)
        await self._dispatch_thread_create(thread)
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return {**thread, "message": self._out_message(msg)}

    async def _r_add_reaction(self, req: _Request) -> _Result:
        cid = int(req.params["channel_id"])
        self._channel_or_404(cid)
        self._require(self.bot_id, cid, READ_MESSAGE_HISTORY | ADD_REACTIONS)
        mid = int(req.params["message_id"])
        self._message_or_404(cid, mid)
        self.reactions.append(("add", cid, mid, req.params["emoji"]))
        users = self._message_or_404(cid, mid).setdefault("_reactions", {})
        users.setdefault(req.params["emoji"], [])
        if self.bot_id not in users[req.params["emoji"]]:
            users[req.params["emoji"]].append(self.bot_id)
        self._notify()
        return _Result(204)

    async def _r_remove_reaction(self, req: _Request) -> _Result:
        cid = int(req.params["channel_id"])
        self._channel_or_404(cid)
        mid = int(req.params["message_id"])
        self._message_or_404(cid, mid)
        self.reactions.append(("remove", cid, mid, req.params["emoji"]))
        users = self._message_or_404(cid, mid).get("_reactions", {})
        if self.bot_id in users.get(req.params["emoji"], []):
            users[req.params["emoji"]].remove(self.bot_id)
            if not users[req.params["emoji"]]:
                del users[req.params["emoji"]]
        return _Result(204)

    async def _r_join_thread(self, req: _Request) -> _Result:
        cid = int(req.params["channel_id"])
        channel = self._channel_or_404(cid)
        if int(channel["type"]) not in THREAD_TYPES:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require(self.bot_id, cid, 0)
        return _Result(204)
