"""Signing in with Telegram without JavaScript: through a private chat with the bot.

The Login Widget needs JavaScript. Without it, ``/signin`` offers *Sign in through the
Telegram app* (a plain form): the browser gets a secret in a cookie (``CHAT_COOKIE``, for
``/signin`` only, 10 minutes) and a page with a link to the bot,
``https://t.me/BOT?start=signin-TOKEN``, where ``TOKEN`` is a hash of the secret
(``newsbot.people.sign_in_token``). Pressing *Start* in Telegram sends the bot
``/start signin-TOKEN`` in a private chat, which proves the sender holds their account
(``IdentityService.prove_chat_sign_in``); the page's *Continue* button (a form POST) then
signs the browser in (``finish_chat_sign_in``), or says "not yet". Only the browser holding
the secret can finish, once; whoever sees the link or the ``/start`` message cannot.
"""

from __future__ import annotations

from aiohttp import web

from adapters.web.context import cross_site_refusal, from_this_site, render, site, speech
from adapters.web.signin import NO_STORE, config, refused, signed_in_back, signin_cookie, viewer
from newsbot.errors import DomainError
from newsbot.i18n import N_
from newsbot.people import CHAT_SIGN_IN_TTL, sign_in_secret, sign_in_start, sign_in_token

CHAT_COOKIE = "newsbot_tgchat"
PATH = "/signin/telegram/chat"
NOT_YET = N_(
    "Not yet: open the link in Telegram and press Start, then come back and press Continue."
)


def _secret(request: web.Request) -> str:
    return request.cookies.get(CHAT_COOKIE, "")


def _on(request: web.Request) -> None:
    if not config(request).telegram:
        raise web.HTTPNotFound()


async def begin(request: web.Request) -> web.StreamResponse:
    """``POST /signin/telegram/chat``: a new secret for this browser, and its page."""
    _on(request)
    if not from_this_site(request):
        return cross_site_refusal(request)
    secret = sign_in_secret()
    try:
        await site(request).service.people.begin_chat_sign_in(secret)
    except DomainError as exc:
        return refused(request, exc, status=400)
    response = web.Response(status=303, headers={"Location": PATH})
    signin_cookie(request, response, CHAT_COOKIE, secret, int(CHAT_SIGN_IN_TTL.total_seconds()))
    return response


async def page(request: web.Request, *, message: str = "", status: int = 200) -> web.Response:
    """``GET /signin/telegram/chat``: the link to the bot and the *Continue* button."""
    _on(request)
    secret = _secret(request)
    if not secret:
        raise web.HTTPSeeOther("/signin")
    start = sign_in_start(sign_in_token(secret))
    return render(
        request,
        "signin_chat.html",
        status=status,
        cache=NO_STORE,
        link=f"https://t.me/{config(request).telegram_bot}?start={start}",
        message=message,
        minutes=int(CHAT_SIGN_IN_TTL.total_seconds() // 60),
    )


async def finish(request: web.Request) -> web.StreamResponse:
    """``POST /signin/telegram/chat/continue``: signed in once the bot has the proof."""
    _on(request)
    if not from_this_site(request):
        return cross_site_refusal(request)
    secret = _secret(request)
    if not secret:
        return refused(
            request, N_("This sign-in link has expired or was used; please start again.")
        )
    current = await viewer(request)
    try:
        done = await site(request).service.people.finish_chat_sign_in(
            secret, current.person.id if current else None
        )
    except DomainError as exc:
        response = refused(request, exc)
        response.del_cookie(CHAT_COOKIE, path="/signin")
        return response
    if done is None:
        return await page(request, message=speech(request).gettext(NOT_YET), status=409)
    back = signed_in_back(request, *done)
    back.del_cookie(CHAT_COOKIE, path="/signin")
    return back


def add_routes(app: web.Application) -> None:
    """Serve the no-JavaScript Telegram sign-in under ``/signin/telegram/chat``."""
    app.router.add_post(PATH, begin)
    app.router.add_get(PATH, page)
    app.router.add_post(f"{PATH}/continue", finish)
