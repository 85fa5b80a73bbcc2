"""Messages: validation (content, embeds, attachments), mentions, storage, edits and deletes."""

from __future__ import annotations

import re
from typing import Any

from .gateway import Gateway
from .wire import (
    CHANNEL_MESSAGE_FLAGS,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    GUILD_FORUM,
    GUILD_MEDIA,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    JSON,
    MANAGE_THREADS,
    MENTION_EVERYONE,
    MESSAGEABLE_TYPES,
    MSG_DEFAULT,
    MSG_REPLY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    THREAD_TYPES,
    VIEW_CHANNEL,
    ApiError,
    _as_int,
    _err,
    _form_error,
    _missing_access,
    _missing_permissions,
    _now_iso,
    _public,
    _unknown_channel,
    _unknown_message,
)
from .world import _Session

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
_MENTION_RE = re.compile(r"<@(!?|&)(\d{1,20})>")

# A link Discord unfurls into a preview: any http(s) URL in the content not wrapped in <...>.
_PREVIEWED_URL_RE = re.compile(r"(?<![<\\])https?://[^\s<>]+")


def _set_nested(target: JSON, path: list[str], value: JSON) -> None:
    node = target
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


class Messages(Gateway):
    """Messages as Discord checks, stores, edits and dispatches them."""

    def _channel_or_404(self, channel_id: int) -> JSON:
        channel = self.channels.get(channel_id)
        if channel is None or channel_id in self.deleted_channels:
            raise _unknown_channel()
        return channel

    def _message_or_404(self, channel_id: int, message_id: int) -> JSON:
        msg = self._store.get(channel_id, {}).get(message_id)
        if msg is None:
            raise _unknown_message()
        return msg

    def _require(self, user_id: int, channel_id: int, needed: int) -> int:
        perms = self.permissions_for(user_id, channel_id)
        if not perms & VIEW_CHANNEL:
            raise _missing_access()
        if needed & ~perms:
            raise _missing_permissions()
        return perms

    def _require_send(self, user_id: int, channel: JSON) -> int:
        cid = int(channel["id"])
        ctype = int(channel["type"])
        if ctype not in MESSAGEABLE_TYPES:
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        if ctype in THREAD_TYPES:
            perms = self._require(user_id, cid, SEND_MESSAGES_IN_THREADS)
            if user_id == self.bot_id and cid in self._send_revoked_threads:
                raise _missing_permissions()
            meta = channel["thread_metadata"]
            if meta.get("locked") and not perms & MANAGE_THREADS:
                raise _missing_permissions()  # a locked thread: moderators only, archived or not
            if meta["archived"]:
                meta["archived"] = False
                meta["archive_timestamp"] = _now_iso()
                self._spawn(self._dispatch("THREAD_UPDATE", channel, INTENT_GUILDS))
            return perms
        return self._require(user_id, cid, SEND_MESSAGES)

    def _validate_message(self, body: JSON, *, creating: bool) -> None:
        errors: JSON = {}
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            errors["content"] = _err("BASE_TYPE_STRING", "Must be a string.")
        elif isinstance(content, str) and len(content) > 2000:
            errors["content"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        embeds = body.get("embeds")
        if embeds is not None:
            if not isinstance(embeds, list):
                errors["embeds"] = _err("LIST_TYPE_CONVERT", "Only iterables may be used.")
            elif len(embeds) > 10:
                errors["embeds"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
            else:
                embed_errors: JSON = {}
                total = 0
                for index, embed in enumerate(embeds):
                    e_errors, size = self._validate_embed(embed)
                    total += size
                    if e_errors:
                        embed_errors[str(index)] = e_errors
                if embed_errors:
                    errors["embeds"] = embed_errors
                elif total > 6000:
                    errors["embeds"] = _err(
                        "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
                    )
        if creating and "nonce" in body and body["nonce"] is not None:
            nonce = body["nonce"]
            if isinstance(nonce, bool) or not isinstance(nonce, str | int):
                errors["nonce"] = _err("NONCE_TYPE_INVALID", "Nonce must be a string or integer")
            elif isinstance(nonce, str) and len(nonce) > 25:
                errors["nonce"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            elif isinstance(nonce, int) and not -(2**63) <= nonce < 2**63:
                errors["nonce"] = _err("NUMBER_TYPE_MAX", "Int value should be <= 2^63.")
        components = body.get("components")
        if isinstance(components, list) and len(components) > 40:
            errors["components"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
        if errors:
            raise _form_error(errors)

    def _validate_embed(self, embed: Any) -> tuple[JSON, int]:
        errors: JSON = {}
        if not isinstance(embed, dict):
            return {"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dict."}]}, 0
        size = 0

        def check(path: list[str], value: Any, limit: int, *, required: bool = False) -> None:
            nonlocal size
            if value is None:
                if required:
                    _set_nested(errors, path, _err("BASE_TYPE_REQUIRED", "This field is required"))
                return
            text = str(value)
            size += len(text)
            if required and not text.strip():
                _set_nested(errors, path, _err("BASE_TYPE_REQUIRED", "This field is required"))
            elif len(text) > limit:
                _set_nested(
                    errors,
                    path,
                    _err("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."),
                )

        check(["title"], embed.get("title"), 256)
        check(["description"], embed.get("description"), 4096)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors["fields"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for i, fld in enumerate(fields[:25]):
            check(["fields", str(i), "name"], fld.get("name"), 256, required=True)
            check(["fields", str(i), "value"], fld.get("value"), 1024, required=True)
        footer = embed.get("footer")
        if isinstance(footer, dict):
            check(["footer", "text"], footer.get("text"), 2048, required=True)
        author = embed.get("author")
        if isinstance(author, dict):
            check(["author", "name"], author.get("name"), 256, required=True)
        return errors, size

    @staticmethod
    def _is_empty(msg: JSON) -> bool:
        return not (
            (msg.get("content") or "").strip()
            or msg.get("embeds")
            or msg.get("attachments")
            or msg.get("sticker_items")
            or msg.get("components")
            or msg.get("poll")
        )

    def _normalize_embeds(self, embeds: list[JSON] | None) -> list[JSON]:
        result = []
        for embed in embeds or []:
            embed = dict(embed)
            embed.setdefault("type", "rich")
            embed.setdefault("content_scan_version", 0)
            result.append(embed)
        return result

    def _make_attachments(
        self, channel_id: int, body: JSON, files: list[tuple[int, str, bytes, str]]
    ) -> list[JSON]:
        by_index = {index: (name, data, ctype) for index, name, data, ctype in files}
        wanted = body.get("attachments")
        if not isinstance(wanted, list):
            wanted = [{"id": index, "filename": name} for index, name, _, _ in files]
        result = []
        for item in wanted:
            index = _as_int(item.get("id"))
            if index is None or index not in by_index:
                continue
            name, data, ctype = by_index[index]
            aid = self.new_id()
            filename = item.get("filename") or name
            self._files[aid] = (filename, data, ctype)
            url = f"{self.base_url}/attachments/{channel_id}/{aid}/{filename}"
            attachment: JSON = {
                "id": str(aid),
                "filename": filename,
                "size": len(data),
                "url": url,
                "proxy_url": url,
                "content_type": ctype,
            }
            if item.get("description"):
                attachment["description"] = item["description"]
            result.append(attachment)
        return result

    def _compute_mentions(
        self,
        msg: JSON,
        author_id: int,
        channel_id: int,
        allowed: JSON | None,
        replied_author: int | None,
    ) -> list[str]:
        """Fill mentions/mention_roles/mention_everyone; return the pings it would send."""
        content = msg.get("content") or ""
        guild = self.guilds[int(self.channels[channel_id]["guild_id"])]
        author_perms = self.permissions_for(author_id, channel_id)
        if allowed is None:
            parse = {"users", "roles", "everyone"}
            allowed_users: set[int] = set()
            allowed_roles: set[int] = set()
            replied_ok = True
        else:
            parse = set(allowed.get("parse") or [])
            allowed_users = {int(u) for u in allowed.get("users") or []}
            allowed_roles = {int(r) for r in allowed.get("roles") or []}
            replied_ok = bool(allowed.get("replied_user", False))
        users: list[int] = []
        roles: list[int] = []
        for kind, raw_id in _MENTION_RE.findall(content):
            ident = int(raw_id)
            if kind == "&":
                role = guild.roles.get(ident)
                if role is None or ident in roles:
                    continue
                if "roles" in parse or ident in allowed_roles:
                    mentionable = role["mentionable"] or author_perms & MENTION_EVERYONE
                    if mentionable:
                        roles.append(ident)
            elif (
                ident in self.users
                and ident not in users
                and ("users" in parse or ident in allowed_users)
            ):
                users.append(ident)
        if replied_author is not None and replied_ok and replied_author not in users:
            users.append(replied_author)
        everyone_words = [w for w in ("@everyone", "@here") if w in content]
        mention_everyone = bool(
            everyone_words and "everyone" in parse and author_perms & MENTION_EVERYONE
        )
        msg["mentions"] = [self.users[u] for u in users]
        msg["mention_roles"] = [str(r) for r in roles]
        msg["mention_everyone"] = mention_everyone
        pings = [f"user:{u}" for u in users] + [f"role:{r}" for r in roles]
        if mention_everyone:
            pings.extend(everyone_words)
        return pings

    def _store_message(self, channel: JSON, msg: JSON) -> None:
        cid = int(channel["id"])
        mid = int(msg["id"])
        self._store.setdefault(cid, {})[mid] = msg
        self._all_messages[mid] = msg
        channel["last_message_id"] = msg["id"]
        if int(channel["type"]) in THREAD_TYPES:
            channel["message_count"] += 1
            channel["total_message_sent"] += 1
        elif int(channel["type"]) in (GUILD_FORUM, GUILD_MEDIA):
            pass
        parent_id = channel.get("parent_id")
        if int(channel["type"]) in THREAD_TYPES and parent_id:
            parent = self.channels.get(int(parent_id))
            if parent is not None and int(parent["type"]) in (GUILD_FORUM, GUILD_MEDIA):
                parent["last_message_id"] = channel["id"]

    def _new_message(
        self,
        *,
        channel: JSON,
        author_id: int,
        body: JSON,
        files: list[tuple[int, str, bytes, str]] | None = None,
        msg_type: int = MSG_DEFAULT,
        message_id: int | None = None,
        extra: JSON | None = None,
        allowed_flags: int = CHANNEL_MESSAGE_FLAGS,
        allow_empty: bool = False,
    ) -> tuple[JSON, list[str]]:
        """Build and store a message (ephemeral ones only in the id index); returns it and the
        pings it sends. The body must have been validated."""
        cid = int(channel["id"])
        mid = message_id if message_id is not None else self.new_id()
        flags = int(body.get("flags") or 0) & allowed_flags
        msg: JSON = {
            "id": str(mid),
            "channel_id": str(cid),
            "guild_id": channel["guild_id"],
            "author": self.users[author_id],
            "content": body.get("content") or "",
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._make_attachments(cid, body, files or []),
            "embeds": self._normalize_embeds(body.get("embeds")),
            "pinned": False,
            "type": msg_type,
            "flags": flags,
            "components": list(body.get("components") or []),
            "_author_id": author_id,
            "_allowed_mentions": body.get("allowed_mentions"),
        }
        if body.get("sticker_ids"):
            msg["sticker_items"] = [
                {"id": str(s), "name": "sticker", "format_type": 1} for s in body["sticker_ids"]
            ]
        if body.get("poll"):
            msg["poll"] = body["poll"]
        if extra:
            msg.update(extra)
        replied_author = None
        ref = body.get("message_reference")
        if isinstance(ref, dict) and ref.get("message_id") is not None:
            ref_cid = int(ref.get("channel_id") or cid)
            target = self._store.get(ref_cid, {}).get(int(ref["message_id"]))
            if target is None:
                if ref.get("fail_if_not_exists", True):
                    raise _form_error(
                        {
                            "message_reference": _err(
                                "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                            )
                        }
                    )
            else:
                msg["type"] = MSG_REPLY
                msg["message_reference"] = {
                    "type": 0,
                    "message_id": target["id"],
                    "channel_id": str(ref_cid),
                    "guild_id": (self.channels.get(ref_cid) or channel)["guild_id"],
                }
                replied_author = target["_author_id"]
                if replied_author == author_id:
                    replied_author = None
        if self._is_empty(msg) and not allow_empty:
            raise ApiError(400, 50006, "Cannot send an empty message")
        msg["_link_previews"] = self._link_previews(msg)
        pings = self._compute_mentions(
            msg, author_id, cid, body.get("allowed_mentions"), replied_author
        )
        if flags & FLAG_SUPPRESS_NOTIFICATIONS:
            pings = []
        if not flags & FLAG_EPHEMERAL:
            self._store_message(channel, msg)
        else:
            self._all_messages[mid] = msg
        return msg, pings

    @staticmethod
    def _link_previews(msg: JSON) -> list[str]:
        """The links Discord would unfurl into preview embeds (it does so after the send, so
        they are kept here rather than added to ``embeds``)."""
        if msg["flags"] & FLAG_SUPPRESS_EMBEDS:
            return []
        return _PREVIEWED_URL_RE.findall(msg.get("content") or "")

    def _record_bot_message(self, msg: JSON, pings: list[str]) -> None:
        self.created.append(msg)
        mid = int(msg["id"])
        self.pings.extend((mid, what) for what in pings)
        self._notify()

    def _apply_edit(self, msg: JSON, body: JSON, files: list[tuple[int, str, bytes, str]]) -> None:
        self._validate_message(body, creating=False)
        updated = dict(msg)
        if "content" in body:
            updated["content"] = body["content"] or ""
        if "embeds" in body:
            updated["embeds"] = self._normalize_embeds(body["embeds"])
        if "components" in body:
            updated["components"] = list(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            keep = updated["flags"] & ~FLAG_SUPPRESS_EMBEDS & ~FLAG_LOADING
            updated["flags"] = keep | (int(body["flags"]) & FLAG_SUPPRESS_EMBEDS)
        else:
            updated["flags"] = updated["flags"] & ~FLAG_LOADING
        if "attachments" in body or files:
            keep_ids = {
                str(a.get("id")) for a in body.get("attachments") or [] if isinstance(a, dict)
            }
            kept = [a for a in msg["attachments"] if a["id"] in keep_ids]
            updated["attachments"] = kept + self._make_attachments(
                int(msg["channel_id"]), body, files
            )
        if "allowed_mentions" in body:
            updated["_allowed_mentions"] = body["allowed_mentions"]
        if self._is_empty(updated):
            raise ApiError(400, 50006, "Cannot send an empty message")
        updated["_link_previews"] = self._link_previews(updated)
        if "content" in body or "allowed_mentions" in body:
            replied = None
            ref = updated.get("message_reference")
            if ref:
                target = self._all_messages.get(int(ref["message_id"]))
                replied = target["_author_id"] if target else None
            # Edits update the mention fields but never ping.
            self._compute_mentions(
                updated,
                updated["_author_id"],
                int(updated["channel_id"]),
                updated.get("_allowed_mentions"),
                replied,
            )
        updated["edited_timestamp"] = _now_iso()
        msg.clear()
        msg.update(updated)
        self._notify()

    def _delete_message_state(self, msg: JSON) -> None:
        cid = int(msg["channel_id"])
        mid = int(msg["id"])
        self._store.get(cid, {}).pop(mid, None)
        msg["_deleted"] = True
        channel = self.channels.get(cid)
        if channel is not None and int(channel["type"]) in THREAD_TYPES:
            channel["message_count"] = max(0, channel["message_count"] - 1)
        self._notify()

    def _out_message(
        self,
        msg: JSON,
        *,
        session: _Session | None = None,
        rest: bool = True,
        include_nonce: bool = False,
        nested: bool = False,
    ) -> JSON:
        """The wire form of a stored message (for a gateway session or a REST answer)."""
        out = _public(msg)
        if msg.get("_reactions"):
            out["reactions"] = [
                {
                    "emoji": {"id": None, "name": emoji},
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "burst_colors": [],
                    "me": self.bot_id in users,
                    "me_burst": False,
                }
                for emoji, users in msg["_reactions"].items()
            ]
        if include_nonce and msg.get("_nonce") is not None:
            out["nonce"] = msg["_nonce"]
        tid = msg.get("_thread_id")
        if tid is not None and tid in self.threads and tid not in self.deleted_channels:
            out["thread"] = self.threads[tid]
        ref = msg.get("message_reference")
        if ref and msg.get("type") == MSG_REPLY and not nested:
            target = self._store.get(int(ref["channel_id"]), {}).get(int(ref["message_id"]))
            out["referenced_message"] = (
                None
                if target is None
                else self._out_message(target, session=session, rest=rest, nested=True)
            )
        if session is not None:
            guild_id = _as_int(msg.get("guild_id"))
            if guild_id in self.guilds:
                guild = self.guilds[guild_id]
                author_id = msg["_author_id"]
                if author_id in guild.members and not msg.get("webhook_id"):
                    out["member"] = self._member_payload(guild, author_id, with_user=False)
                out["mentions"] = [
                    {**u, "member": self._member_payload(guild, int(u["id"]), with_user=False)}
                    if int(u["id"]) in guild.members
                    else u
                    for u in out["mentions"]
                ]
            stripped = not session.intents & INTENT_MESSAGE_CONTENT
        else:
            stripped = rest and not self.allow_message_content
        if stripped and self._content_restricted(msg):
            out.update(content="", embeds=[], attachments=[], components=[])
            out.pop("poll", None)
        return out

    def _content_restricted(self, msg: JSON) -> bool:
        if msg["_author_id"] == self.bot_id:
            return False
        if msg.get("guild_id") is None:
            return False  # DMs are exempt
        return not any(int(u["id"]) == self.bot_id for u in msg.get("mentions", []))

    async def _dispatch_message(self, event: str, msg: JSON) -> None:
        if msg["flags"] & FLAG_EPHEMERAL:
            return
        intent = INTENT_GUILD_MESSAGES if msg.get("guild_id") else INTENT_DIRECT_MESSAGES
        include_nonce = event == "MESSAGE_CREATE"
        await self._dispatch(
            event,
            lambda s: self._out_message(msg, session=s, include_nonce=include_nonce),
            intent,
        )
