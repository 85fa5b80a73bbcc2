"""Discord's OAuth2 authorization code flow, as the fake serves it (honestly).

- ``GET /oauth2/authorize``: the consent page. The fake consents at once for the user a test
  names (``consenting``), after the checks Discord makes: a known ``client_id``, a
  ``redirect_uri`` registered for it exactly, ``response_type=code``, a known scope. It
  redirects to the ``redirect_uri`` with ``code`` and the ``state`` unchanged.
- ``POST /api/v10/oauth2/token``: the code exchange (form-encoded). A code is used once,
  within 10 minutes, by the client it was issued to (``client_secret`` in the body or HTTP
  Basic), with the same ``redirect_uri``; when the authorization carried a PKCE
  ``code_challenge`` (S256 or plain) the ``code_verifier`` must match. Refusals are RFC 6749
  errors (``invalid_grant``, ``invalid_client``) with status 400 / 401.
- ``GET /api/v10/users/@me``: the user of a ``Bearer`` access token with ``identify``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from aiohttp import web

SCOPES = {"identify", "email", "guilds", "connections", "guilds.join"}
CODE_TTL = 600.0


@dataclass(slots=True)
class _Grant:
    client_id: str
    redirect_uri: str
    user_id: int
    scopes: frozenset[str]
    challenge: str | None
    method: str
    issued: float


@dataclass(slots=True)
class OAuthApps:
    """The applications that may sign users in, the codes and tokens given out."""

    clients: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    consenting: int | None = None  # the user who clicks "Authorize" on the consent page
    codes: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, tuple[int, frozenset[str]]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # the errors answered, for tests

    def register(self, client_id: str, secret: str, *redirect_uris: str) -> None:
        """Register an application with its secret and its exact redirect URLs."""
        self.clients[client_id] = (secret, redirect_uris)


def _error(status: int, error: str, apps: OAuthApps) -> web.Response:
    apps.refused.append(error)
    return web.json_response({"error": error}, status=status)


class OAuthRoutes:
    """The OAuth2 endpoints over ``apps`` and the fake's users (``users``: id -> user)."""

    def __init__(
        self,
        apps: OAuthApps,
        users: dict[int, dict[str, object]],
        bot_api: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> None:
        self.apps = apps
        self.users = users
        self.bot_api = bot_api  # the bot's own calls (``Bot`` tokens) go to the REST fake

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/oauth2/authorize", self.authorize),
            web.post("/api/v{version:\\d+}/oauth2/token", self.token),
            web.get("/api/v{version:\\d+}/{tail:users/@me}", self.me),
        ]

    async def authorize(self, request: web.Request) -> web.Response:
        q, apps = request.query, self.apps
        client = apps.clients.get(q.get("client_id", ""))
        if client is None:
            return web.Response(status=400, text="Unknown application")
        redirect = q.get("redirect_uri", "")
        if redirect not in client[1]:
            return web.Response(status=400, text="Invalid OAuth2 redirect_uri")
        scopes = frozenset(q.get("scope", "").split())
        if q.get("response_type") != "code" or not scopes or not scopes <= SCOPES:
            return web.Response(status=400, text="Invalid response_type or scope")
        method = q.get("code_challenge_method", "plain")
        if "code_challenge" in q and method not in ("S256", "plain"):
            return web.Response(status=400, text="Invalid code_challenge_method")
        if apps.consenting is None or apps.consenting not in self.users:
            return web.Response(status=401, text="Log in to Discord first")
        code = secrets.token_urlsafe(20)
        apps.codes[code] = _Grant(
            q["client_id"],
            redirect,
            apps.consenting,
            scopes,
            q.get("code_challenge"),
            method,
            time.monotonic(),
        )
        back = {"code": code, **({"state": q["state"]} if "state" in q else {})}
        raise web.HTTPFound(f"{redirect}{'&' if '?' in redirect else '?'}{urlencode(back)}")

    async def token(self, request: web.Request) -> web.Response:
        apps = self.apps
        form = await request.post()
        client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        client = apps.clients.get(client_id)
        if client is None or not secrets.compare_digest(client[0], secret):
            return _error(401, "invalid_client", apps)
        if form.get("grant_type") != "authorization_code":
            return _error(400, "unsupported_grant_type", apps)
        grant = apps.codes.pop(str(form.get("code", "")), None)  # once, even when refused
        if (
            grant is None
            or grant.client_id != client_id
            or time.monotonic() - grant.issued > CODE_TTL
            or str(form.get("redirect_uri", "")) != grant.redirect_uri
        ):
            return _error(400, "invalid_grant", apps)
        if grant.challenge is not None:
            verifier = str(form.get("code_verifier", ""))
            if grant.method == "S256":
                digest = hashlib.sha256(verifier.encode()).digest()
                computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            else:
                computed = verifier
            if not verifier or not secrets.compare_digest(computed, grant.challenge):
                return _error(400, "invalid_grant", apps)
        access = secrets.token_urlsafe(24)
        apps.tokens[access] = (grant.user_id, grant.scopes)
        return web.json_response(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 604800,
                "refresh_token": secrets.token_urlsafe(24),
                "scope": " ".join(sorted(grant.scopes)),
            }
        )

    async def me(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bot "):
            return await self.bot_api(request)
        held = self.apps.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if held is None:
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        user_id, scopes = held
        if "identify" not in scopes:
            return web.json_response({"message": "Missing Access", "code": 50001}, status=403)
        return web.json_response(self.users[user_id])
