"""The aiohttp app: routes, failure injection, the control endpoints and the lifecycle."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

from .methods import BotMethods
from .reactions import Reactions
from .wire import ApiError, JSONDict, _bad_request, _coerce, _Params
from .world import _Delay, _Injection

if TYPE_CHECKING:
    from telegram.request import HTTPXRequest


_BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)

_MethodHandler = Callable[[_Params], Awaitable[Any]]


class FakeTelegram(BotMethods, Reactions):
    """A Bot API server for tests; see the package docstring for what it enforces.

    Records for assertions (plain JSON-like dicts, as the Bot API shows them):

    * ``calls``: every Bot API call as (canonical method name, decoded parameters); uploaded
      files appear as ``{"file_name", "size", "content_type"}``.
    * ``sent``: each message the bot sent, as stored at send time (a snapshot).
    * ``edits``: each successfully edited message after the edit; ``deleted``: (chat, id).
    * ``callback_answers``, ``chat_actions``, ``enqueued`` (every update ever queued).
    * ``count_429`` / ``count_429_by_chat``: 429 answers (flood limits and injected ones).
    * ``confirmed_offset``: the highest getUpdates offset that confirmed updates.
    """

    @functools.cached_property
    def _methods(self) -> dict[str, tuple[str, _MethodHandler]]:
        """Bot API method names, lower-cased, to (canonical name, handler)."""
        return {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._m_get_me,
                "getUpdates": self._m_get_updates,
                "deleteWebhook": self._m_delete_webhook,
                "getWebhookInfo": self._m_get_webhook_info,
                "logOut": self._m_ok,
                "close": self._m_ok,
                "sendMessage": self._m_send_message,
                "sendPhoto": self._m_send_photo,
                "editMessageText": self._m_edit_message_text,
                "editMessageCaption": self._m_edit_message_caption,
                "editMessageReplyMarkup": self._m_edit_message_reply_markup,
                "deleteMessage": self._m_delete_message,
                "getChat": self._m_get_chat,
                "getChatMember": self._m_get_chat_member,
                "getChatAdministrators": self._m_get_chat_administrators,
                "setMyCommands": self._m_set_my_commands,
                "getMyCommands": self._m_get_my_commands,
                "deleteMyCommands": self._m_delete_my_commands,
                "answerCallbackQuery": self._m_answer_callback_query,
                "sendChatAction": self._m_send_chat_action,
                "getFile": self._m_get_file,
            }.items()
        }

    async def start(self) -> Self:
        """Start serving on ``host``/``port`` (port 0 picks a free port)."""
        if self._runner is not None:
            return self
        self._closing = False
        self._updates_changed = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", r"/bot{token:[^/]+}/{method:[^/]+}", self._handle_api)
        app.router.add_route("GET", r"/file/bot{token:[^/]+}/{path:.+}", self._handle_file)
        app.router.add_route("*", r"/_control/{action:[a-z_]+}", self._handle_control)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop serving; pending long polls return an empty list."""
        if self._runner is None:
            return
        self._closing = True
        self._wake()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Pass to ``ApplicationBuilder().base_url(...)`` / ``Bot(base_url=...)``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        count: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` ("*" = any) with an error.

        429 answers carry ``retry_after`` (default 1). ``chat_id`` restricts the match.
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        if status == 429 and retry_after is None:
            retry_after = 1
        self._injections.append(
            _Injection(method.lower(), status, retry_after, description, count, chat_id)
        )

    def delay_next(
        self,
        method: str,
        seconds: float,
        *,
        count: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` ("*" = any) ``seconds`` late.

        The call takes effect when it is answered, as a slow Telegram would carry it out: a
        client that gave up waiting (or crashed) meanwhile still finds the message sent.
        ``chat_id`` restricts the match.
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        self._delays.append(_Delay(method.lower(), max(0.0, seconds), count, chat_id))

    def set_delay(self, seconds: float) -> None:
        """Answer every Bot API request ``seconds`` late."""
        self._delay = max(0.0, seconds)

    def set_down(self, down: bool = True) -> None:
        """While down, every Bot API request gets a 502 HTML page from a "reverse proxy"."""
        self._down = down

    @staticmethod
    def _json(status: int, body: JSONDict) -> web.Response:
        return web.Response(
            status=status,
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
        )

    async def _read_params(self, request: web.Request) -> _Params:
        values: JSONDict = dict(request.query)
        files: dict[str, tuple[str, bytes, str]] = {}
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad_request("can't parse JSON body") from None
                if not isinstance(body, dict):
                    raise _bad_request("JSON body must be an object")
                values.update(body)
            elif ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        files[name] = (
                            value.filename,
                            value.file.read(),
                            value.content_type,
                        )
                    else:
                        values[name] = value
        return _Params({name: _coerce(name, value) for name, value in values.items()}, files)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        if self._down:
            return web.Response(status=502, text=_BAD_GATEWAY_HTML, content_type="text/html")
        if request.match_info["token"] != self.token:
            return self._json(401, ApiError(401, "Unauthorized").payload())
        method = request.match_info["method"]
        found = self._methods.get(method.lower())
        try:
            params = await self._read_params(request)
        except ApiError as error:
            return self._json(error.status, error.payload())
        recorded = dict(params.values)
        for name, (filename, content, content_type) in params.files.items():
            recorded[name] = {
                "file_name": filename,
                "size": len(content),
                "content_type": content_type,
            }
        self.calls.append((found[0] if found else method, recorded))
        delay = self._delay + self._take_delay(found[0] if found else method, params)
        if delay:
            await asyncio.sleep(delay)
        if found is None:
            return self._json(404, ApiError(404, "Not Found").payload())
        name, handler = found
        try:
            injected = self._take_injection(name, params)
            if injected is not None:
                raise injected
            result = await handler(params)
        except ApiError as error:
            if error.status == 429:
                self.count_429 += 1
                chat_key = params.values.get("chat_id")
                if isinstance(chat_key, int | str):
                    self.count_429_by_chat[chat_key] = self.count_429_by_chat.get(chat_key, 0) + 1
            return self._json(error.status, error.payload())
        return self._json(200, {"ok": True, "result": result})

    def _take_delay(self, method: str, params: _Params) -> float:
        for delay in self._delays:
            if delay.method not in ("*", method.lower()):
                continue
            if delay.chat_id is not None and params.values.get("chat_id") != delay.chat_id:
                continue
            delay.remaining -= 1
            if delay.remaining <= 0:
                self._delays.remove(delay)
            return delay.seconds
        return 0.0

    def _take_injection(self, method: str, params: _Params) -> ApiError | None:
        for injection in self._injections:
            if injection.method not in ("*", method.lower()):
                continue
            if injection.chat_id is not None and params.values.get("chat_id") != injection.chat_id:
                continue
            injection.remaining -= 1
            if injection.remaining <= 0:
                self._injections.remove(injection)
            status = injection.status
            if injection.description is not None:
                description = injection.description
            elif status == 429:
                description = f"Too Many Requests: retry after {injection.retry_after}"
            else:
                try:
                    description = HTTPStatus(status).phrase
                except ValueError:
                    description = "Error"
            return ApiError(status, description, retry_after=injection.retry_after)
        return None

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if self._down:
            return web.Response(status=502, text=_BAD_GATEWAY_HTML, content_type="text/html")
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        for info in self._files.values():
            if info["path"] == path:
                return web.Response(body=info["content"], content_type="image/jpeg")
        return web.Response(status=404, text="Not Found")

    async def _handle_control(self, request: web.Request) -> web.StreamResponse:
        action = request.match_info["action"]
        try:
            body: JSONDict = {}
            if request.method == "POST" and request.can_read_body:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
            result = self._control(action, request.method, body, dict(request.query))
        except (ValueError, KeyError, TypeError) as error:
            return self._json(400, {"error": str(error)})
        if result is None:
            return self._json(404, {"error": f"unknown control action {action!r}"})
        return self._json(200, {"ok": True, "result": result})

    def _control(
        self, action: str, http_method: str, body: JSONDict, query: dict[str, str]
    ) -> Any:
        if http_method == "GET":
            if action == "messages":
                return self.messages(int(query["chat_id"]))
            if action == "sent":
                return self.sent
            if action == "calls":
                return [{"method": name, "params": params} for name, params in self.calls]
            if action == "state":
                return {
                    "base_url": self.base_url,
                    "users": list(self._users.values()),
                    "chats": [
                        {
                            **chat.public(),
                            "bot_status": chat.bot_status,
                            "linked_chat_id": chat.linked_chat_id,
                            "messages": len(chat.messages),
                        }
                        for chat in self._chats.values()
                    ],
                    "pending_updates": self.pending_updates(),
                    "confirmed_offset": self.confirmed_offset,
                    "count_429": self.count_429,
                    "down": self._down,
                }
            return None
        actions: dict[str, Callable[[], Any]] = {
            "send": lambda: self.user_sends(
                int(body["chat_id"]),
                int(body["user_id"]),
                body.get("text", ""),
                reply_to=body.get("reply_to"),
                command=body.get("command"),
                photo=bool(body.get("photo", False)),
                caption=body.get("caption"),
            ),
            "edit": lambda: self.user_edits(
                int(body["chat_id"]), int(body["message_id"]), body["text"]
            ),
            "channel_post": lambda: self.channel_post(int(body["channel_id"]), body["text"]),
            "callback": lambda: self.callback_press(
                int(body["chat_id"]), int(body["message_id"]), int(body["user_id"]), body["data"]
            ),
            "kick_bot": lambda: self.kick_bot(int(body["chat_id"])),
            "add_bot": lambda: self.add_bot_to_chat(
                int(body["chat_id"]), bool(body.get("admin", True))
            ),
            "user": lambda: self.add_user(
                int(body["user_id"]),
                body["first_name"],
                body.get("username"),
                bool(body.get("is_bot", False)),
            ),
            "chat": lambda: self.add_chat(
                int(body["chat_id"]),
                body["type"],
                body.get("title"),
                body.get("username"),
                admins=body.get("admins", ()),
                bot_is_admin=bool(body.get("bot_is_admin", True)),
                bot_can_post=bool(body.get("bot_can_post", True)),
                linked_chat_id=body.get("linked_chat_id"),
                owner=body.get("owner"),
                members=body.get("members", ()),
            ),
            "link": lambda: self.link_discussion(int(body["channel_id"]), int(body["group_id"])),
            "fail_next": lambda: self.fail_next(
                body["method"],
                int(body["status"]),
                retry_after=body.get("retry_after"),
                description=body.get("description"),
                count=int(body.get("count", 1)),
                chat_id=body.get("chat_id"),
            ),
            "delay": lambda: self.set_delay(float(body["seconds"])),
            "down": lambda: self.set_down(bool(body.get("down", True))),
            "limits": lambda: self.set_limits(**body),
        }
        handler = actions.get(action)
        if handler is None:
            return None
        result = handler()
        return True if result is None else result


def loopback_request(**kwargs: Any) -> HTTPXRequest:
    """A PTB request object for talking to the fake over plain HTTP on loopback.

    It skips loading the CA bundle (unused without TLS), which saves about 0.1 s per Bot:
    ``Bot(token, base_url=tg.base_url, request=loopback_request(),
    get_updates_request=loopback_request())``.
    """
    from telegram.request import HTTPXRequest  # imported late: the fake itself needs no PTB

    return HTTPXRequest(httpx_kwargs={"verify": False}, **kwargs)
