"""Signing in on the web with Telegram or Discord, and the signed-in reader's own page.

- Telegram: the Login Widget on ``/signin`` (redirect mode) calls back ``/signin/telegram``
  with the user's fields and their hash, which the core checks as Telegram documents
  (``newsbot.people.telegram_login``). A login is accepted once: its hash is kept in the
  store until it would be stale anyway, so no worker accepts it again.
- Discord: OAuth2's authorization code flow with the ``identify`` scope, ``state`` and PKCE
  (S256), built and read with oauthlib (the reference OAuth implementation in Python, kept
  by the team behind requests-oauthlib; it does no I/O, so the exchange goes through
  aiohttp, which newsbot uses already). The state is bound to the browser (a cookie) and to
  the store (the PKCE verifier, taken once), so a callback replayed or forged is refused.
- The session is a signed cookie naming the person and the account they signed in with;
  every request re-reads the person, so a ban or an unlink ends it at once.

Public pages stay public: the article page is the cached one for anonymous readers; a
signed-in reader's request skips the page cache and is rendered for them alone
(``Cache-Control: private``). Everything personal lives on ``/signin``, never cached.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import aiohttp
from aiohttp import web
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient

from adapters.web.context import (
    client_address,
    cross_site_refusal,
    from_this_site,
    https,
    log,
    render,
    site,
    speech,
)
from adapters.web.guard import derive_key
from newsbot.errors import DomainError
from newsbot.i18n import N_
from newsbot.models import Platform
from newsbot.people import (
    Person,
    PersonId,
    Proof,
    Proven,
)

PERSON_COOKIE = "newsbot_person"
PERSON_MAX_AGE = 30 * 24 * 3600
FLOW_COOKIE = "newsbot_signin"  # the OAuth state and where to go back, during a sign-in
FLOW_MAX_AGE = 600
NO_STORE = "private, no-store"
TELEGRAM_WIDGET = "https://telegram.org/js/telegram-widget.js?22"
# /signin only: the Login Widget's script and its frame come from Telegram.
SIGNIN_CSP = (
    "default-src 'self'; script-src 'self' https://telegram.org; "
    "frame-src https://oauth.telegram.org; img-src 'self' https: http:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class SignInConfig:
    """How readers may sign in (``create_app(signin=...)``).

    Attributes:
        telegram_token: the bot token; the Login Widget's data is signed with it.
        telegram_bot: the bot's username, which the widget names (BotFather ``/setdomain``).
        discord_client_id, discord_client_secret: the Discord application's OAuth2 client.
        discord_api_url: Discord's REST base, version included.
        anonymous: whether readers who are not signed in may comment under a typed name.
    """

    telegram_token: str | None = None
    telegram_bot: str | None = None
    discord_client_id: str | None = None
    discord_client_secret: str | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    anonymous: bool = True

    @property
    def telegram(self) -> bool:
        """Whether Telegram sign-in is on."""
        return bool(self.telegram_token and self.telegram_bot)

    @property
    def discord(self) -> bool:
        """Whether Discord sign-in is on."""
        return bool(self.discord_client_id and self.discord_client_secret)

    @property
    def discord_authorize_url(self) -> str:
        """Discord's consent page, beside the API (``https://discord.com/oauth2/authorize``)."""
        return self.discord_api_url.split("/api/", 1)[0] + "/oauth2/authorize"


SIGNIN = web.AppKey("signin", SignInConfig)


class _Secret(Protocol):
    def get_secret_value(self) -> str: ...


class SignInSettings(Protocol):
    """The settings ``sign_in_config`` reads (``adapters.settings.Settings``)."""

    @property
    def telegram_token(self) -> _Secret | None: ...

    @property
    def telegram_login_bot(self) -> str: ...

    @property
    def discord_client_id(self) -> str: ...

    @property
    def discord_client_secret(self) -> _Secret | None: ...

    @property
    def discord_api_url(self) -> str: ...

    @property
    def web_anonymous(self) -> bool: ...


def sign_in_config(settings: SignInSettings) -> SignInConfig:
    """The sign-in configuration from the program's settings."""

    def secret(value: _Secret | None) -> str | None:
        return (value.get_secret_value() or None) if value is not None else None

    return SignInConfig(
        telegram_token=secret(settings.telegram_token),
        telegram_bot=settings.telegram_login_bot.lstrip("@") or None,
        discord_client_id=settings.discord_client_id or None,
        discord_client_secret=secret(settings.discord_client_secret),
        discord_api_url=settings.discord_api_url,
        anonymous=settings.web_anonymous,
    )


@dataclass(frozen=True, slots=True)
class Viewer:
    """The reader signed in on this request: the person and the account they used."""

    person: Person
    platform: Platform
    account_id: str

    @property
    def name(self) -> str:
        """The name the platform gave them: it cannot be typed over."""
        account = next(
            (
                a
                for a in self.person.accounts
                if (a.platform, a.account_id) == (self.platform, self.account_id)
            ),
            None,
        )
        return account.name if account is not None else self.person.name

    @property
    def author_id(self) -> str:
        """The web author id of their comments (``people.web_author_id``)."""
        return f"{self.platform}@{self.account_id}"


def config(request: web.Request) -> SignInConfig:
    """The sign-in configuration of the application serving ``request``."""
    return request.app.get(SIGNIN) or SignInConfig()


# -- the session cookie ---------------------------------------------------------------------


def _key(request: web.Request) -> bytes:
    return derive_key(site(request).keys.secret, "person-session")


def _sign(key: bytes, payload: str) -> str:
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def session_value(key: bytes, person_id: int, platform: Platform, account_id: str, at: int) -> str:
    """The cookie's value: who, with which account, since when; signed."""
    payload = f"{person_id}.{platform}.{account_id}.{at}"
    return f"{payload}.{_sign(key, payload)}"


async def viewer(request: web.Request) -> Viewer | None:
    """The reader signed in on this request, if the cookie is genuine, current, and names a
    person who still holds the account and is not banned."""
    raw = request.cookies.get(PERSON_COOKIE, "")
    parts = raw.split(".")
    if len(parts) != 5 or not parts[0].isdigit() or not parts[3].isdigit():
        return None
    payload, mac = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(_sign(_key(request), payload), mac):
        return None
    service = site(request).service
    if service.clock.now().timestamp() - int(parts[3]) > PERSON_MAX_AGE:
        return None
    try:
        platform = Platform(parts[1])
    except ValueError:
        return None
    person = await service.people.current(PersonId(int(parts[0])))
    if person is None or person.banned:
        return None
    if not any((a.platform, a.account_id) == (platform, parts[2]) for a in person.accounts):
        return None
    return Viewer(person, platform, parts[2])


def signin_cookie(
    request: web.Request,
    response: web.StreamResponse,
    name: str,
    value: str,
    max_age: int,
    path: str = "/signin",
) -> None:
    """Set one of sign-in's cookies: ``HttpOnly``, ``SameSite=Lax``, ``Secure`` under https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="Lax",
        secure=https(request),
    )


def _signed_in(
    request: web.Request, response: web.StreamResponse, person: Person, proven: Proven
) -> None:
    now = int(site(request).service.clock.now().timestamp())
    value = session_value(_key(request), person.id, proven.platform, proven.account_id, now)
    signin_cookie(request, response, PERSON_COOKIE, value, PERSON_MAX_AGE, path="/")
    response.del_cookie(FLOW_COOKIE, path="/signin")


def local_path(raw: str | None) -> str:
    """Where to go back after signing in: a path on this site, never another site."""
    if not raw or not raw.startswith("/") or raw.startswith(("//", "/\\")) or "\\" in raw:
        return "/"
    return raw


# -- the page ---------------------------------------------------------------------------------


async def signin_page(request: web.Request) -> web.Response:
    """``/signin``: sign-in buttons, or the signed-in reader's accounts, link codes and
    switches. Never cached; remembers where to go back (``?next=``)."""
    return await _page(request)


async def _page(
    request: web.Request, *, status: int = 200, message: str = "", code: str = ""
) -> web.Response:
    cfg, s = config(request), site(request)
    who = await viewer(request)
    back = local_path(request.query.get("next"))
    response = render(
        request,
        "signin.html",
        status=status,
        cache=NO_STORE,
        viewer=who,
        telegram=cfg.telegram,
        telegram_bot=cfg.telegram_bot or "",
        telegram_widget=TELEGRAM_WIDGET,
        telegram_callback=s.service.public_url + "/signin/telegram",
        discord=cfg.discord,
        anonymous=cfg.anonymous,
        message=message,
        code=code,
        back=back,
    )
    response.headers["Content-Security-Policy"] = SIGNIN_CSP
    if "next" in request.query:
        signin_cookie(request, response, FLOW_COOKIE, f"-.{back}", FLOW_MAX_AGE)
    return response


def _flow(request: web.Request) -> tuple[str, str]:
    """The OAuth state and the path to go back to, from the flow cookie."""
    state, _, back = request.cookies.get(FLOW_COOKIE, "").partition(".")
    return state, local_path(back)


def refused(request: web.Request, message: str | DomainError, status: int = 403) -> web.Response:
    """A refusal's page: ``message`` a constant (``N_``) or the core's refusal."""
    reason = str(message)
    log.info("sign-in refused", extra={"reason": reason, "remote": client_address(request)})
    tr = speech(request).tr
    text = message.translated(tr) if isinstance(message, DomainError) else tr.gettext(reason)
    return render(
        request,
        "message.html",
        status=status,
        cache=NO_STORE,
        title=tr.gettext("Sign-in refused"),
        message=text,
    )


# -- Telegram -------------------------------------------------------------------------------


async def telegram_callback(request: web.Request) -> web.StreamResponse:
    """``/signin/telegram``: the Login Widget's redirect with the user's signed fields."""
    cfg, s = config(request), site(request)
    if not cfg.telegram or cfg.telegram_token is None:
        raise web.HTTPNotFound()
    fields = dict(request.query.items())
    current = await viewer(request)
    try:
        person, proven = await s.service.people.telegram_sign_in(
            fields, cfg.telegram_token, current.person.id if current else None
        )
    except DomainError as exc:
        return refused(request, exc)
    return signed_in_back(request, person, proven)


async def _finish(request: web.Request, proven: Proven) -> web.StreamResponse:
    current = await viewer(request)
    try:
        person = await site(request).service.people.sign_in(
            proven, current.person.id if current else None
        )
    except DomainError as exc:
        return refused(request, exc)
    return signed_in_back(request, person, proven)


def signed_in_back(request: web.Request, person: Person, proven: Proven) -> web.StreamResponse:
    """Signed in: the session cookie, and back to where the reader came from."""
    _, back = _flow(request)
    response = web.Response(status=303, headers={"Location": back})
    _signed_in(request, response, person, proven)
    return response


# -- Discord --------------------------------------------------------------------------------


def _redirect_uri(request: web.Request) -> str:
    return site(request).service.public_url + "/signin/discord/callback"


async def discord_start(request: web.Request) -> web.StreamResponse:
    """``/signin/discord``: off to Discord's consent page with a fresh state and PKCE."""
    cfg, s = config(request), site(request)
    if not cfg.discord:
        raise web.HTTPNotFound()
    client = WebApplicationClient(cfg.discord_client_id or "")
    verifier = client.create_code_verifier(64)
    state = secrets.token_urlsafe(24)
    await s.service.people.begin_flow(
        f"discord:{state}", verifier, timedelta(seconds=FLOW_MAX_AGE)
    )
    url = client.prepare_request_uri(
        cfg.discord_authorize_url,
        redirect_uri=_redirect_uri(request),
        scope=["identify"],
        state=state,
        code_challenge=client.create_code_challenge(verifier, "S256"),
        code_challenge_method="S256",
        prompt="none",
    )
    _, back = _flow(request)
    response = web.Response(status=302, headers={"Location": url})
    flow = f"{state}.{local_path(request.query.get('next') or back)}"
    signin_cookie(request, response, FLOW_COOKIE, flow, FLOW_MAX_AGE)
    return response


async def discord_callback(request: web.Request) -> web.StreamResponse:
    """``/signin/discord/callback``: check the state, exchange the code (with the PKCE
    verifier), read ``users/@me``, sign in."""
    cfg, s = config(request), site(request)
    if not cfg.discord:
        raise web.HTTPNotFound()
    state, _ = _flow(request)
    given = request.query.get("state", "")
    if not state or not given or not hmac.compare_digest(state, given):
        return refused(request, N_("The Discord sign-in could not be verified; please try again."))
    verifier = await s.service.people.finish_flow(f"discord:{given}")
    if verifier is None:
        return refused(request, N_("The Discord sign-in has expired; please try again."))
    if "code" not in request.query:  # the reader said no on Discord's page
        return refused(request, N_("Discord did not sign you in."))
    try:
        user = await _discord_user(cfg, request.query["code"], verifier, _redirect_uri(request))
    except (OAuth2Error, aiohttp.ClientError, ValueError, KeyError) as exc:
        log.warning("discord sign-in failed", extra={"error": type(exc).__name__})
        return refused(request, N_("Discord did not confirm the sign-in; please try again."))
    name = str(user.get("global_name") or user.get("username") or f"user {user['id']}")
    return await _finish(
        request, Proven(Platform.DISCORD, str(user["id"]), name, Proof.DISCORD_OAUTH)
    )


async def _discord_user(
    cfg: SignInConfig, code: str, verifier: str, redirect_uri: str
) -> dict[str, object]:
    client = WebApplicationClient(cfg.discord_client_id or "")
    body = client.prepare_request_body(
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=verifier,
        include_client_id=True,
        client_secret=cfg.discord_client_secret,
    )
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.post(
            f"{cfg.discord_api_url}/oauth2/token",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as answer:
            text = await answer.text()
        client.parse_request_body_response(text, scope=["identify"])
        async with http.get(
            f"{cfg.discord_api_url}/users/@me",
            headers={"Authorization": f"Bearer {client.access_token}"},
        ) as answer:
            answer.raise_for_status()
            user = await answer.json()
    if not isinstance(user, dict) or not str(user.get("id", "")).isdigit():
        raise ValueError("users/@me gave no user")
    return user


# -- the signed-in reader's own actions -----------------------------------------------------


async def sign_out(request: web.Request) -> web.StreamResponse:
    """``POST /signin/out``."""
    if not from_this_site(request):
        return cross_site_refusal(request)
    response = web.Response(status=303, headers={"Location": "/signin"})
    response.del_cookie(PERSON_COOKIE, path="/")
    return response


async def _form(request: web.Request) -> tuple[Viewer, dict[str, str]] | web.Response:
    """The signed-in reader and the form of a POST from this site, or the refusal."""
    if not from_this_site(request):
        return cross_site_refusal(request)
    who = await viewer(request)
    if who is None:
        return refused(request, N_("Please sign in first."), status=401)
    data = await request.post()
    return who, {k: v for k, v in data.items() if isinstance(v, str)}


async def link(request: web.Request) -> web.Response:
    """``POST /signin/link``: enter a code the bot gave in a private chat (``code``), or ask
    for one to send the bot (no ``code``)."""
    got = await _form(request)
    if isinstance(got, web.Response):
        return got
    who, form = got
    people = site(request).service.people
    try:
        if form.get("code", "").strip():
            person = await people.redeem_on_web(who.person.id, form["code"])
            names = ", ".join(f"{a.platform} ({a.name})" for a in person.accounts)
            return await _page(
                request,
                message=speech(request).gettext("Linked. Your accounts: %(names)s.")
                % {"names": names},
            )
        code = await people.web_link_code(who.person.id)
    except DomainError as exc:
        return await _page(request, status=400, message=exc.translated(speech(request).tr))
    return await _page(request, code=code)


async def unlink(request: web.Request) -> web.StreamResponse:
    """``POST /signin/unlink``: unlink one of one's own accounts (``platform``,
    ``account``)."""
    got = await _form(request)
    if isinstance(got, web.Response):
        return got
    who, form = got
    try:
        platform = Platform(form.get("platform", ""))
        await site(request).service.people.unlink(
            platform, form.get("account", ""), person_id=who.person.id
        )
    except DomainError as exc:
        return await _page(request, status=400, message=exc.translated(speech(request).tr))
    except ValueError as exc:  # not a platform's name
        return await _page(request, status=400, message=str(exc))
    response = web.Response(status=303, headers={"Location": "/signin"})
    if (platform, form.get("account")) == (who.platform, who.account_id):
        response.del_cookie(PERSON_COOKIE, path="/")  # the account signed in with is gone
    return response


async def notifications(request: web.Request) -> web.StreamResponse:
    """``POST /signin/notifications``: replies to one's comments in a private message, on
    (``on=1``) or off."""
    got = await _form(request)
    if isinstance(got, web.Response):
        return got
    who, form = got
    await site(request).service.notifications.switch_person(who.person, form.get("on") == "1")
    return web.Response(status=303, headers={"Location": "/signin"})


def register(app: web.Application, cfg: SignInConfig) -> None:
    """Serve sign-in under ``/signin`` for ``cfg``."""
    app[SIGNIN] = cfg
    app.router.add_get("/signin", signin_page)
    app.router.add_get("/signin/telegram", telegram_callback)
    app.router.add_get("/signin/discord", discord_start)
    app.router.add_get("/signin/discord/callback", discord_callback)
    app.router.add_post("/signin/out", sign_out)
    app.router.add_post("/signin/link", link)
    app.router.add_post("/signin/unlink", unlink)
    app.router.add_post("/signin/notifications", notifications)
