"""Application commands and interactions (callbacks, followups, the interaction webhooks)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

from .handlers import Handlers
from .wire import (
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FLAG_SUPPRESS_NOTIFICATIONS,
    INTENT_GUILD_MESSAGES,
    INTERACTION_MESSAGE_FLAGS,
    JSON,
    MSG_CHAT_INPUT_COMMAND,
    MSG_CONTEXT_MENU_COMMAND,
    MSG_DEFAULT,
    ApiError,
    _err,
    _form_error,
    _Request,
    _Result,
    _unknown_message,
)
from .world import _Interaction

# https://discord.com/developers/docs/reference#locales
DISCORD_LOCALES = frozenset(
    [
        "id",
        "da",
        "de",
        "en-GB",
        "en-US",
        "es-ES",
        "es-419",
        "fr",
        "hr",
        "it",
        "lt",
        "hu",
        "nl",
        "no",
        "pl",
        "pt-BR",
        "ro",
        "fi",
        "sv-SE",
        "vi",
        "tr",
        "cs",
        "el",
        "bg",
        "ru",
        "uk",
        "hi",
        "th",
        "zh-CN",
        "ja",
        "zh-TW",
        "ko",
    ]
)
_COMMAND_NAME_RE = re.compile(r"^[-_\w]{1,32}$")


class Interactions(Handlers):
    """Application commands and the answers to interactions."""

    def _command_scope(self, req: _Request) -> tuple[dict[int, JSON], int | None]:
        if int(req.params["application_id"]) != self.application_id:
            raise ApiError(403, 50001, "Missing Access")
        gid = req.params.get("guild_id")
        if gid is None:
            return self.global_commands, None
        guild = self.guilds.get(int(gid))
        if guild is None:
            raise ApiError(403, 50001, "Missing Access")
        return self.guild_commands.setdefault(int(gid), {}), int(gid)

    def _validate_command(self, data: Any, index: int | None) -> JSON:
        errors: JSON = {}
        if not isinstance(data, dict):
            raise _form_error({str(index or 0): _err("DICT_TYPE_CONVERT", "Only dictionaries.")})
        ctype = data.get("type", 1)
        name = data.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 32:
            errors["name"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
        elif ctype == 1 and (not _COMMAND_NAME_RE.match(name) or name != name.lower()):
            errors["name"] = _err("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        description = data.get("description") or ""
        if ctype == 1 and not 1 <= len(description) <= 100:
            errors["description"] = _err(
                "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        # Localized descriptions and names: only Discord's locales, each 1 to 100 (names: 32)
        # characters, as the command's own, on the command and on each option; a slash
        # command's localized name follows the same pattern as its name.
        for where, item in [("", data), *((f"options.{i}.", o) for i, o in enumerate(
            data.get("options") or []
        ))]:  # fmt: skip
            for key, longest in (("description_localizations", 100), ("name_localizations", 32)):
                for locale, text in (item.get(key) or {}).items():
                    if locale not in DISCORD_LOCALES:
                        errors[f"{where}{key}.{locale}"] = _err("INVALID_LOCALE", "Invalid locale")
                    elif not isinstance(text, str) or not 1 <= len(text) <= longest:
                        errors[f"{where}{key}.{locale}"] = _err(
                            "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {longest} in length."
                        )
                    elif (
                        key == "name_localizations"
                        and ctype == 1
                        and (not _COMMAND_NAME_RE.match(text) or text != text.lower())
                    ):
                        errors[f"{where}{key}.{locale}"] = _err(
                            "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
                        )
        options = data.get("options") or []
        if len(options) > 25:
            errors["options"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        seen_optional = False
        for i, opt in enumerate(options):
            if opt.get("type") in (1, 2):
                continue
            if opt.get("required"):
                if seen_optional:
                    errors.setdefault("options", {})[str(i)] = _err(
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                seen_optional = True
        if errors:
            raise _form_error({str(index): errors} if index is not None else errors)
        return data

    def _command_payload(self, data: JSON, guild_id: int | None, cmd_id: int) -> JSON:
        cmd: JSON = {
            "id": str(cmd_id),
            "application_id": str(self.application_id),
            "version": str(self.new_id()),
            "type": data.get("type", 1),
            "name": data["name"],
            "description": data.get("description") or "",
            "options": data.get("options") or [],
            "default_member_permissions": data.get("default_member_permissions"),
            "dm_permission": data.get("dm_permission", True),
            "nsfw": bool(data.get("nsfw", False)),
            "contexts": data.get("contexts"),
            "integration_types": data.get("integration_types") or [0],
            "name_localizations": data.get("name_localizations"),
            "description_localizations": data.get("description_localizations"),
        }
        if guild_id is not None:
            cmd["guild_id"] = str(guild_id)
        return cmd

    async def _r_get_commands(self, req: _Request) -> list[JSON]:
        scope, _gid = self._command_scope(req)
        return list(scope.values())

    async def _r_put_commands(self, req: _Request) -> list[JSON]:
        scope, gid = self._command_scope(req)
        body = req.json if isinstance(req.json, list) else None
        if body is None:
            raise _form_error({"_errors": [{"code": "LIST_TYPE_CONVERT", "message": "List."}]})
        if len(body) > 100:
            raise _form_error(_err("BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."))
        validated = [self._validate_command(d, i) for i, d in enumerate(body)]
        keys = [(d["name"], d.get("type", 1)) for d in validated]
        if len(set(keys)) != len(keys):
            raise _form_error(
                _err(
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            )
        existing = {(c["name"], c["type"]): int(c["id"]) for c in scope.values()}
        scope.clear()
        for data in validated:
            cmd_id = existing.get((data["name"], data.get("type", 1))) or self.new_id()
            scope[cmd_id] = self._command_payload(data, gid, cmd_id)
        self._notify()
        return list(scope.values())

    async def _r_post_command(self, req: _Request) -> _Result:
        scope, gid = self._command_scope(req)
        data = self._validate_command(req.json, None)
        key = (data["name"], data.get("type", 1))
        for cmd_id, cmd in scope.items():
            if (cmd["name"], cmd["type"]) == key:
                scope[cmd_id] = self._command_payload(data, gid, cmd_id)
                self._notify()
                return _Result(200, scope[cmd_id])
        cmd_id = self.new_id()
        scope[cmd_id] = self._command_payload(data, gid, cmd_id)
        self._notify()
        return _Result(201, scope[cmd_id])

    async def _r_get_command(self, req: _Request) -> JSON:
        scope, _gid = self._command_scope(req)
        cmd = scope.get(int(req.params["command_id"]))
        if cmd is None:
            raise ApiError(404, 10063, "Unknown application command")
        return cmd

    async def _r_delete_command(self, req: _Request) -> _Result:
        scope, _gid = self._command_scope(req)
        if scope.pop(int(req.params["command_id"]), None) is None:
            raise ApiError(404, 10063, "Unknown application command")
        self._notify()
        return _Result(204)

    def _interaction_message(
        self,
        inter: _Interaction,
        body: JSON,
        files: list[tuple[int, str, bytes, str]],
        *,
        loading: bool = False,
    ) -> tuple[JSON, list[str]]:
        channel = self._channel_or_404(inter.channel_id)
        user = self.users[inter.user_id]
        metadata: JSON = {
            "id": str(inter.id),
            "type": inter.type,
            "user": user,
            "authorizing_integration_owners": {"0": str(inter.guild_id)},
        }
        if inter.name:
            metadata["name"] = inter.name
        extra: JSON = {
            "webhook_id": str(self.application_id),
            "application_id": str(self.application_id),
            "interaction_metadata": metadata,
            "interaction": {
                "id": str(inter.id),
                "type": inter.type,
                "name": inter.name or "",
                "user": user,
            },
        }
        if inter.type == 2:
            msg_type = (
                MSG_CHAT_INPUT_COMMAND if inter.command_type == 1 else MSG_CONTEXT_MENU_COMMAND
            )
        else:
            msg_type = MSG_DEFAULT
        if loading:
            msg, _ = self._new_message(
                channel=channel,
                author_id=self.bot_id,
                body={"content": "", "flags": int(body.get("flags") or 0) & FLAG_EPHEMERAL},
                msg_type=msg_type,
                extra=extra,
                allowed_flags=FLAG_EPHEMERAL,
                allow_empty=True,
            )
            msg["flags"] |= FLAG_LOADING
            return msg, []
        self._validate_message(body, creating=True)
        return self._new_message(
            channel=channel,
            author_id=self.bot_id,
            body=body,
            files=files,
            msg_type=msg_type,
            extra=extra,
            allowed_flags=INTERACTION_MESSAGE_FLAGS,
        )

    def _interaction_by_token(self, app_id: str, token: str) -> _Interaction:
        if int(app_id) != self.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        for inter in self.interactions.values():
            if inter.token == token:
                loop_now = asyncio.get_running_loop().time()
                if loop_now - inter.created > 15 * 60:
                    raise ApiError(401, 50027, "Invalid Webhook Token")
                if not inter.responded:
                    raise ApiError(404, 10015, "Unknown Webhook")
                return inter
        raise ApiError(404, 10015, "Unknown Webhook")

    async def _r_interaction_callback(self, req: _Request) -> Any:
        iid = int(req.params["webhook_id"])
        inter = self.interactions.get(iid)
        if inter is None or inter.token != req.params["webhook_token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        loop_now = asyncio.get_running_loop().time()
        if inter.responded:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if loop_now - inter.created > self.interaction_timeout:
            raise ApiError(404, 10062, "Unknown interaction")
        body = self._json_body(req)
        rtype = body.get("type")
        data = body.get("data") or {}
        allowed = {
            2: (4, 5, 9),
            3: (4, 5, 6, 7, 9),
            4: (8,),
            5: (4, 5, 6, 7) if inter.message_id is not None else (4, 5),
        }.get(inter.type, (1,))
        if rtype not in allowed:
            raise _form_error(
                {"type": _err("INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type")}
            )
        resource: JSON | None = {"type": rtype}
        message: JSON | None = None
        if rtype == 4:
            message, pings = self._interaction_message(inter, data, req.files)
            inter.original_message_id = int(message["id"])
            self._record_bot_message(message, pings)
        elif rtype == 5:
            message, _ = self._interaction_message(inter, data, [], loading=True)
            inter.original_message_id = int(message["id"])
            self._record_bot_message(message, [])
        elif rtype in (6, 7):
            target = self._all_messages.get(inter.message_id or 0)
            if target is None:
                raise _unknown_message()
            inter.original_message_id = int(target["id"])
            if rtype == 7:
                self._apply_edit(target, data, req.files)
                message = target
            else:
                resource = None
        elif rtype == 8:
            choices = data.get("choices")
            errors: JSON = {}
            if not isinstance(choices, list) or len(choices) > 25:
                errors["choices"] = _err("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            else:
                for i, choice in enumerate(choices):
                    name = str(choice.get("name") or "")
                    value = choice.get("value")
                    if not 1 <= len(name) <= 100 or (isinstance(value, str) and len(value) > 100):
                        errors.setdefault("choices", {})[str(i)] = _err(
                            "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                        )
            if errors:
                raise _form_error({"data": errors})
            resource = None
        elif rtype == 9:
            errors = {}
            if not data.get("custom_id"):
                errors["custom_id"] = _err("BASE_TYPE_REQUIRED", "This field is required")
            if not 1 <= len(str(data.get("title") or "")) <= 45:
                errors["title"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45.")
            if not 1 <= len(data.get("components") or []) <= 5:
                errors["components"] = _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5.")
            if errors:
                raise _form_error({"data": errors})
            self.modals.append((iid, data))
        inter.responded = True
        inter.responded_at = loop_now
        inter.response_type = rtype
        self.interaction_responses[iid] = {"type": rtype, "data": data}
        self._notify()
        if message is not None:
            event = "MESSAGE_UPDATE" if rtype == 7 else "MESSAGE_CREATE"
            await self._dispatch_message(event, message)
        if req.query.get("with_response") not in ("1", "true", "True"):
            return _Result(204)
        info: JSON = {"id": str(iid), "type": inter.type}
        if message is not None:
            info["response_message_id"] = message["id"]
            info["response_message_loading"] = bool(message["flags"] & FLAG_LOADING)
            info["response_message_ephemeral"] = bool(message["flags"] & FLAG_EPHEMERAL)
        result: JSON = {"interaction": info}
        if resource is not None:
            if message is not None:
                resource["message"] = self._out_message(message)
            result["resource"] = resource
        return result

    def _webhook_target(self, inter: _Interaction, target: str) -> JSON:
        if target == "@original":
            if inter.original_message_id is None:
                raise _unknown_message()
            mid = inter.original_message_id
        else:
            mid = int(target)
            if mid not in inter.followup_ids and mid != inter.original_message_id:
                raise _unknown_message()
        msg = self._all_messages.get(mid)
        if msg is None or msg.get("_deleted"):
            raise _unknown_message()
        return msg

    async def _r_webhook_execute(self, req: _Request) -> Any:
        inter = self._interaction_by_token(req.params["webhook_id"], req.params["webhook_token"])
        body = self._json_body(req)
        loading = self._all_messages.get(inter.original_message_id or 0)
        if (
            inter.response_type == 5
            and not inter.followup_ids
            and loading is not None
            and loading["flags"] & FLAG_LOADING
        ):
            # Discord: the first follow-up to a deferred answer takes the place of "thinking"
            # (its ephemeral flag ignored for the acknowledgement's).
            await self._r_webhook_edit(
                dataclasses.replace(req, params={**req.params, "target": "@original"})
            )
            inter.followup_ids.append(int(loading["id"]))
            self.followups.setdefault(inter.id, []).append(loading)
            if req.query.get("wait") in ("1", "true", "True"):
                return self._out_message(loading)
            return _Result(204)
        message, pings = self._interaction_message(inter, body, req.files)
        inter.followup_ids.append(int(message["id"]))
        self.followups.setdefault(inter.id, []).append(message)
        self._record_bot_message(message, pings)
        await self._dispatch_message("MESSAGE_CREATE", message)
        if req.query.get("wait") in ("1", "true", "True"):
            return self._out_message(message)
        return _Result(204)

    async def _r_webhook_get(self, req: _Request) -> JSON:
        inter = self._interaction_by_token(req.params["webhook_id"], req.params["webhook_token"])
        return self._out_message(self._webhook_target(inter, req.params["target"]))

    async def _r_webhook_edit(self, req: _Request) -> JSON:
        inter = self._interaction_by_token(req.params["webhook_id"], req.params["webhook_token"])
        msg = self._webhook_target(inter, req.params["target"])
        was_loading = bool(msg["flags"] & FLAG_LOADING)
        self._apply_edit(msg, self._json_body(req), req.files)
        if was_loading:
            # The deferred answer now becomes a real message: it may ping now.
            pings = self._compute_mentions(
                msg, self.bot_id, int(msg["channel_id"]), msg.get("_allowed_mentions"), None
            )
            if not msg["flags"] & FLAG_SUPPRESS_NOTIFICATIONS:
                self.pings.extend((int(msg["id"]), p) for p in pings)
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._out_message(msg)

    async def _r_webhook_delete(self, req: _Request) -> _Result:
        inter = self._interaction_by_token(req.params["webhook_id"], req.params["webhook_token"])
        msg = self._webhook_target(inter, req.params["target"])
        self._delete_message_state(msg)
        if not msg["flags"] & FLAG_EPHEMERAL:
            event = {"id": msg["id"], "channel_id": msg["channel_id"], "guild_id": msg["guild_id"]}
            await self._dispatch("MESSAGE_DELETE", event, INTENT_GUILD_MESSAGES)
        return _Result(204)
