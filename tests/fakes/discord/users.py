"""Simulated people: messages, edits, slash commands, buttons and modals from users."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator, Sequence
from typing import Any

from .guilds import Guilds
from .messages import ATTACHMENT_SIZE_LIMIT
from .wire import (
    ALL_PERMISSIONS,
    FLAG_EPHEMERAL,
    INTENT_GUILD_MESSAGES,
    JSON,
    MANAGE_CHANNELS,
    MANAGE_MESSAGES,
    MANAGE_THREADS,
    THREAD_TYPES,
    ApiError,
    SlowmodeLimited,
    _as_int,
)
from .world import _Guild, _Interaction


class Users(Guilds):
    """What people do: write, edit, delete, run commands, press buttons."""

    def _guild_of_channel(self, channel: JSON) -> _Guild:
        return self.guilds[int(channel["guild_id"])]

    async def user_message(
        self,
        channel_id: int,
        author_id: int,
        content: str,
        *,
        reply_to: int | None = None,
        reply_in: int | None = None,
        embeds: Sequence[JSON] = (),
    ) -> JSON:
        """A user posts a message (MESSAGE_CREATE); returns the stored message.

        ``reply_in`` names the channel of the message replied to, as a client may in
        ``message_reference.channel_id`` (the same channel by default).
        """
        channel = self._channel_or_404(channel_id)
        guild = self._guild_of_channel(channel)
        if author_id not in guild.members:
            raise ValueError(f"user {author_id} is not a member of guild {guild.id}")
        try:
            perms = self._require_send(author_id, channel)
        except ApiError as exc:
            raise PermissionError(f"user {author_id} cannot send here: {exc.message}") from exc
        self._slowmode(author_id, channel, perms)
        body: JSON = {"content": content, "embeds": list(embeds)}
        if reply_to is not None:
            body["message_reference"] = {
                "message_id": str(reply_to),
                "channel_id": str(reply_in or channel_id),
            }
        self._validate_message(body, creating=True)
        msg, _pings = self._new_message(channel=channel, author_id=author_id, body=body)
        self._notify()
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return msg

    def _slowmode(self, user_id: int, channel: JSON, perms: int) -> None:
        """Discord's slowmode (``rate_limit_per_user``): one message per member per that
        many seconds in the channel or thread; bots and members with Manage Messages, Manage
        Channels or (in a thread) Manage Threads are not slowed.

        Raises:
            SlowmodeLimited: the member wrote there too recently (429, code 20016).
        """
        seconds = int(channel.get("rate_limit_per_user") or 0)
        exempt = MANAGE_MESSAGES | MANAGE_CHANNELS
        if int(channel["type"]) in THREAD_TYPES:
            exempt |= MANAGE_THREADS
        key = (int(channel["id"]), user_id)
        now = time.monotonic()
        last = self.slowmode_sent.get(key)
        if seconds > 0 and not perms & exempt and last is not None and now - last < seconds:
            raise SlowmodeLimited(round(seconds - (now - last), 3))
        self.slowmode_sent[key] = now

    def slowmode_passes(self, seconds: float) -> None:
        """Let ``seconds`` of slowmode pass for every member, without waiting for them."""
        for key, at in self.slowmode_sent.items():
            self.slowmode_sent[key] = at - seconds

    async def user_edit(self, channel_id: int, message_id: int, content: str) -> JSON:
        """The author edits a message (MESSAGE_UPDATE with the full message)."""
        msg = self._message_or_404(channel_id, message_id)
        self._apply_edit(msg, {"content": content}, [])
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return msg

    async def user_delete(self, channel_id: int, message_id: int) -> None:
        """A message is deleted by a user or moderator (MESSAGE_DELETE)."""
        msg = self._message_or_404(channel_id, message_id)
        self._delete_message_state(msg)
        event = {"id": msg["id"], "channel_id": msg["channel_id"], "guild_id": msg["guild_id"]}
        await self._dispatch("MESSAGE_DELETE", event, INTENT_GUILD_MESSAGES)

    def _find_command(self, guild_id: int, name: str, command_type: int) -> JSON:
        for cmd in self.guild_commands.get(guild_id, {}).values():
            if cmd["name"] == name and cmd.get("type", 1) == command_type:
                return cmd
        for cmd in self.global_commands.values():
            if cmd["name"] == name and cmd.get("type", 1) == command_type:
                return cmd
        raise ValueError(f"no synced command {name!r} (type {command_type}) for guild {guild_id}")

    def _interaction_base(
        self, itype: int, guild_id: int, channel_id: int, user_id: int
    ) -> tuple[_Interaction, JSON]:
        channel = self._channel_or_404(channel_id)
        guild = self.guilds[guild_id]
        if user_id not in guild.members:
            raise ValueError(f"user {user_id} is not a member of guild {guild_id}")
        iid = self.new_id()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        member_perms = self.permissions_for(user_id, channel_id)
        member = self._member_payload(guild, user_id)
        member["permissions"] = str(member_perms)
        payload: JSON = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": token,
            "version": 1,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": guild.preferred_locale, "features": []},
            "channel_id": str(channel_id),
            "channel": {**channel, "permissions": str(member_perms)},
            "member": member,
            "app_permissions": str(self.permissions_for(self.bot_id, channel_id)),
            # The member's client language: users[id]["locale"] where a test set one.
            "locale": self.users.get(user_id, {}).get("locale", "en-US"),
            "guild_locale": guild.preferred_locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        loop = asyncio.get_running_loop()
        inter = _Interaction(
            id=iid,
            token=token,
            type=itype,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            created=loop.time(),
        )
        return inter, payload

    async def _fire_interaction(self, inter: _Interaction, payload: JSON) -> JSON:
        self.interactions[inter.id] = inter
        self.interaction_payloads[inter.id] = payload
        await self._dispatch("INTERACTION_CREATE", payload)
        return payload

    async def redeliver_interaction(self, interaction_id: int | str) -> JSON:
        """Dispatch an INTERACTION_CREATE again, byte for byte, to every session (live or
        resumable): what a client sees when a gateway RESUME replays events it had already
        received but whose sequence it had not yet recorded, or when it starts again and
        Discord delivers what it was sent before. Answering it counts against the same
        interaction: a second first answer gets 400 40060, as on Discord."""
        iid = int(interaction_id)
        payload = self.interaction_payloads[iid]
        await self._dispatch("INTERACTION_CREATE", payload)
        return payload

    def _option_payloads(
        self, defs: list[JSON], values: dict[str, Any], guild: _Guild, resolved: JSON
    ) -> list[JSON]:
        by_name = {d["name"]: d for d in defs}
        result: list[JSON] = []
        for name, value in values.items():
            definition = by_name.get(name)
            if definition is None:
                raise ValueError(f"unknown option {name!r}")
            otype = definition["type"]
            if otype in (1, 2):
                sub = self._option_payloads(
                    definition.get("options") or [], dict(value or {}), guild, resolved
                )
                result.append({"name": name, "type": otype, "options": sub})
                continue
            if otype in (6, 9) and int(value) in self.users:
                uid = int(value)
                resolved.setdefault("users", {})[str(uid)] = self.users[uid]
                if uid in guild.members:
                    member = self._member_payload(guild, uid, with_user=False)
                    resolved.setdefault("members", {})[str(uid)] = member
                value = str(uid)
            elif otype == 7:
                ch = self._channel_or_404(int(value))
                resolved.setdefault("channels", {})[str(value)] = {
                    k: ch[k]
                    for k in ("id", "name", "type", "parent_id", "thread_metadata")
                    if k in ch
                } | {"permissions": str(ALL_PERMISSIONS)}
                value = str(value)
            elif otype in (8, 9) and int(value) in guild.roles:
                resolved.setdefault("roles", {})[str(value)] = guild.roles[int(value)]
                value = str(value)
            elif otype == 4:
                value = int(value)
            elif otype == 10:
                value = float(value)
            elif otype == 5:
                value = bool(value)
            elif otype == 3:
                value = str(value)
            result.append({"name": name, "type": otype, "value": value})
        for definition in defs:
            if definition.get("required") and definition["name"] not in values:
                raise ValueError(f"missing required option {definition['name']!r}")
        return result

    async def slash_command(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        command_type: int = 1,
        target_id: int | None = None,
    ) -> JSON:
        """A user invokes a synced application command (INTERACTION_CREATE type 2).

        ``options`` maps option names to values (a dict value for a subcommand); user, channel
        and role options are resolved. ``command_type`` 3 (message context menu) needs
        ``target_id`` (a message in ``channel_id``), 2 (user) a user id. Returns the payload;
        read the answer with ``wait_for_response(payload["id"])``."""
        cmd = self._find_command(guild_id, name, command_type)
        guild = self.guilds[guild_id]
        required = _as_int(cmd.get("default_member_permissions"))
        base = self._base_permissions(guild, user_id)
        if required and (base & required) != required:
            raise PermissionError(f"user {user_id} cannot use /{name}")
        inter, payload = self._interaction_base(2, guild_id, channel_id, user_id)
        inter.name = name
        inter.command_type = command_type
        data: JSON = {"id": cmd["id"], "name": cmd["name"], "type": command_type}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        resolved: JSON = {}
        if command_type == 1:
            data["options"] = self._option_payloads(
                cmd.get("options") or [], dict(options or {}), guild, resolved
            )
        elif command_type == 3:
            if target_id is None:
                raise ValueError("a message command needs target_id")
            target = self._message_or_404(channel_id, target_id)
            data["target_id"] = str(target_id)
            resolved["messages"] = {str(target_id): self._out_message(target, rest=False)}
        elif command_type == 2:
            if target_id is None or target_id not in self.users:
                raise ValueError("a user command needs a known target_id")
            data["target_id"] = str(target_id)
            resolved["users"] = {str(target_id): self.users[target_id]}
            if target_id in guild.members:
                member = self._member_payload(guild, target_id, with_user=False)
                resolved["members"] = {str(target_id): member}
        if resolved:
            data["resolved"] = resolved
        payload["data"] = data
        return await self._fire_interaction(inter, payload)

    async def autocomplete(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        name: str,
        options: dict[str, Any],
        focused: str,
    ) -> JSON:
        """A user types into option ``focused`` of a synced command (INTERACTION type 4, the
        partly typed ``options`` so far); the answer (type 8) carries ``data.choices``."""
        cmd = self._find_command(guild_id, name, 1)
        definitions = {d["name"]: d for d in cmd.get("options") or []}
        if not definitions.get(focused, {}).get("autocomplete"):
            raise ValueError(f"option {focused!r} of /{name} has no autocomplete")
        inter, payload = self._interaction_base(4, guild_id, channel_id, user_id)
        inter.name = name
        typed = []
        for option, value in options.items():
            definition = definitions.get(option)
            if definition is None:
                raise ValueError(f"unknown option {option!r}")
            # Discord sends what is typed as a string, whatever the option's type.
            entry: JSON = {"name": option, "type": definition["type"], "value": str(value)}
            if option == focused:
                entry["focused"] = True
            typed.append(entry)
        payload["data"] = {"id": cmd["id"], "name": name, "type": 1, "options": typed}
        if cmd.get("guild_id"):
            payload["data"]["guild_id"] = cmd["guild_id"]
        return await self._fire_interaction(inter, payload)

    @staticmethod
    def _walk_components(components: list[JSON]) -> Iterator[JSON]:
        for comp in components or []:
            yield comp
            yield from Users._walk_components(comp.get("components") or [])
            for key in ("accessory", "component"):
                if isinstance(comp.get(key), dict):
                    yield from Users._walk_components([comp[key]])

    async def press_button(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        message_id: int,
        custom_id: str,
        *,
        values: Sequence[str] | None = None,
    ) -> JSON:
        """A user clicks a button / picks select ``values`` on a message (INTERACTION type 3).

        The component must exist on the message and not be disabled. Ephemeral messages (kept
        out of channel history) can be pressed too, by the user they were shown to."""
        msg = self._all_messages.get(message_id)
        if not (
            msg is not None
            and msg["flags"] & FLAG_EPHEMERAL
            and not msg.get("_deleted")
            and msg["channel_id"] == str(channel_id)
            and (msg.get("interaction_metadata") or {}).get("user", {}).get("id") == str(user_id)
        ):
            msg = self._message_or_404(channel_id, message_id)
        component = next(
            (
                c
                for c in self._walk_components(msg.get("components") or [])
                if c.get("custom_id") == custom_id
            ),
            None,
        )
        if component is None:
            raise ValueError(f"message {message_id} has no component {custom_id!r}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        inter, payload = self._interaction_base(3, guild_id, channel_id, user_id)
        inter.message_id = message_id
        data: JSON = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] in (3, 5, 6, 7, 8):
            data["values"] = list(values or [])
        payload["data"] = data
        payload["message"] = self._out_message(msg, rest=False)
        return await self._fire_interaction(inter, payload)

    async def submit_modal(
        self,
        guild_id: int,
        channel_id: int,
        user_id: int,
        custom_id: str,
        values: dict[str, str],
    ) -> JSON:
        """A user submits a modal the bot showed (INTERACTION type 5).

        ``values`` maps text input custom_ids to text; the submitted component tree mirrors the
        modal's (action rows or labels)."""
        shown = next(
            ((iid, m) for iid, m in reversed(self.modals) if m.get("custom_id") == custom_id),
            None,
        )
        if shown is None:
            raise ValueError(f"no modal {custom_id!r} was shown")
        origin_id, modal = shown

        def mirror(comps: list[JSON]) -> list[JSON]:
            result = []
            for comp in comps:
                ctype = comp.get("type")
                if ctype == 1:
                    result.append({"type": 1, "components": mirror(comp.get("components", []))})
                elif ctype == 18 and isinstance(comp.get("component"), dict):
                    inner = mirror([comp["component"]])
                    if inner:
                        result.append({"type": 18, "id": comp.get("id"), "component": inner[0]})
                elif ctype == 4:
                    cid = comp["custom_id"]
                    result.append(
                        {
                            "type": 4,
                            "id": comp.get("id"),
                            "custom_id": cid,
                            "value": values.get(cid, ""),
                        }
                    )
                elif ctype in (3, 5, 6, 7, 8):
                    cid = comp["custom_id"]
                    chosen: Any = values.get(cid, [])
                    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
                    result.append({"type": ctype, "custom_id": cid, "values": chosen})
            return result

        inter, payload = self._interaction_base(5, guild_id, channel_id, user_id)
        payload["data"] = {"custom_id": custom_id, "components": mirror(modal["components"])}
        origin = self.interactions.get(origin_id)
        if origin is not None and origin.message_id is not None:
            inter.message_id = origin.message_id
            source = self._all_messages.get(origin.message_id)
            if source is not None:
                payload["message"] = self._out_message(source, rest=False)
        return await self._fire_interaction(inter, payload)
