"""The admin page's people: who is behind comments, their accounts and their comments, and
moderation that follows the person (ban, unban, delete all their comments, unlink)."""

from __future__ import annotations

from aiohttp import web

from adapters.web.admin import ADMIN_CACHE, _login_page, _private, _signed_in, moderation
from adapters.web.context import ID_PATTERN, log, path_id, render, site
from adapters.web.guard import ascii_number
from newsbot.errors import InvalidInput
from newsbot.i18n import N_
from newsbot.models import Actor, Platform
from newsbot.people import PersonId


async def people_page(request: web.Request) -> web.Response:
    """``GET /admin/people[?after=ID]``: people by id with their accounts."""
    if not _signed_in(request):
        return _login_page(request)
    after = ascii_number(request.query.get("after"))
    found = await site(request).service.people.people(50, PersonId(after) if after else None)
    return _private(
        render(request, "admin_people.html", cache=ADMIN_CACHE, people=found, person=None)
    )


async def person_page(request: web.Request) -> web.Response:
    """``GET /admin/people/ID``: a person's accounts and visible comments."""
    if not _signed_in(request):
        return _login_page(request)
    people = site(request).service.people
    person = await people.person(PersonId(path_id(request)))
    comments = await people.comments(person)
    done = request.query.get("done", "")
    return _private(
        render(
            request,
            "admin_people.html",
            cache=ADMIN_CACHE,
            people=[],
            person=person,
            comments=comments,
            done=done if done in _DONE else "",
        )
    )


_DONE = {"banned", "unbanned", "deleted", "unlinked"}


def _back(person_id: int, done: str) -> web.Response:
    return web.Response(status=303, headers={"Location": f"/admin/people/{person_id}?done={done}"})


@moderation
async def ban(request: web.Request) -> web.StreamResponse:
    """``POST /admin/people/ID/ban``: ban the person on every linked account."""
    person_id = PersonId(path_id(request))
    count = await site(request).service.people.ban(Actor.operator(), person_id)
    log.info("person banned from the admin page", extra={"person_id": person_id, "deleted": count})
    return _back(person_id, "banned")


@moderation
async def unban(request: web.Request) -> web.StreamResponse:
    """``POST /admin/people/ID/unban``."""
    person_id = PersonId(path_id(request))
    await site(request).service.people.unban(Actor.operator(), person_id)
    return _back(person_id, "unbanned")


@moderation
async def hide(request: web.Request) -> web.StreamResponse:
    """``POST /admin/people/ID/delete-comments``: every comment of theirs, every copy."""
    person_id = PersonId(path_id(request))
    await site(request).service.people.hide_all(Actor.operator(), person_id)
    return _back(person_id, "deleted")


@moderation
async def unlink(request: web.Request) -> web.StreamResponse:
    """``POST /admin/people/ID/unlink`` with ``platform`` and ``account``."""
    person_id = PersonId(path_id(request))
    data = await request.post()
    platform, account = data.get("platform"), data.get("account")
    people = site(request).service.people
    if not isinstance(platform, str) or not isinstance(account, str):
        raise InvalidInput(N_("Name the account to unlink."))
    held = await people.find(Platform(platform), account) if platform in _PLATFORMS else None
    if held is None or held.id != person_id:
        raise InvalidInput(N_("That account is not linked to this person."))
    await people.unlink(Platform(platform), account, actor=Actor.operator())
    return _back(person_id, "unlinked")


_PLATFORMS = {"telegram", "discord", "web"}


def register(app: web.Application) -> None:
    """Serve the people pages under ``/admin/people``."""
    person = f"/admin/people/{{id:{ID_PATTERN}}}"
    app.router.add_get("/admin/people", people_page)
    app.router.add_get(person, person_page)
    app.router.add_post(f"{person}/ban", ban)
    app.router.add_post(f"{person}/unban", unban)
    app.router.add_post(f"{person}/delete-comments", hide)
    app.router.add_post(f"{person}/unlink", unlink)
