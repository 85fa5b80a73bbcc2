"""The moderation queue on the admin page: ``GET /admin/queue?view=held|reported|recent``
lists one tab, each comment with its article, platform, author (their other comments on
``/admin/queue/ID/history``) and why it is there; ``POST /admin/queue/ID/ACTION``
approves, hides, deletes, bans the author (after ``GET /admin/queue/ID/ban``, a
confirmation page) or undoes an approval or hiding. Plain forms and links: the page works
by keyboard, without JavaScript. Every POST comes from this site with an admin session
(``admin.moderation``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from adapters.web.admin import ADMIN_CACHE, _login_page, _private, _signed_in, moderation
from adapters.web.context import log, path_id, render, site, speech
from adapters.web.guard import ascii_number
from newsbot.desk import Outcome
from newsbot.i18n import N_
from newsbot.models import Actor, CommentId, Platform
from newsbot.review import Action, QueuePosition, View, position_of

QUEUE_PAGE = 50
HISTORY_SHOWN = 50
# Who acts from the admin page, as the audit log names it: the operator's page, an admin.
WEB_ADMIN = Actor(Platform.CLI, "web-admin", "the admin page")
_DONE = {
    Action.APPROVE: N_("Approved comment %(id)s: it is shown and mirrored."),
    Action.HIDE: N_("Hid comment %(id)s."),
    Action.DELETE: N_("Deleted comment %(id)s everywhere."),
    Action.BAN: N_("Banned the author of comment %(id)s and deleted their comments."),
    Action.UNDO_APPROVE: N_("Undid the approval of comment %(id)s: it is hidden again."),
    Action.UNDO_HIDE: N_("Undid the hiding of comment %(id)s."),
}
_CODES = {str(a).replace(" ", "-"): a for a in _DONE}
_ACTIONS = ("approve", "hide", "delete", "ban", "undo")


def _view(value: str | None) -> View:
    try:
        return View(value or View.HELD)
    except ValueError:
        return View.HELD


def _queue_url(view: View, done: Action | None = None, comment: int | None = None) -> str:
    query = {"view": str(view)}
    if done is not None and comment is not None:
        query.update(done=str(done).replace(" ", "-"), comment=str(comment))
    return f"/admin/queue?{urlencode(query)}"


def _page_url(view: View, after: str) -> str:
    return f"/admin/queue?{urlencode({'view': str(view), 'after': after})}"


async def queue_page(request: web.Request) -> web.Response:
    """``GET /admin/queue[?view=...]``: one tab of the moderation queue."""
    if not _signed_in(request):
        return _login_page(request)
    service = site(request).service
    view = _view(request.query.get("view"))
    after = QueuePosition.parse(request.query.get("after", ""))
    # One more than a page says whether a next page exists (keyset: from its last item).
    items = await service.desk.queue(WEB_ADMIN, view, QUEUE_PAGE + 1, after)
    more = len(items) > QUEUE_PAGE
    items = items[:QUEUE_PAGE]
    following = position_of(view, items[-1]).token() if more else None
    action = _CODES.get(request.query.get("done", ""))
    number = ascii_number(request.query.get("comment"))
    done = (
        speech(request).gettext(_DONE[action]) % {"id": number}
        if action is not None and number is not None
        else ""
    )
    undo = number if action in (Action.APPROVE, Action.HIDE) else None
    context: dict[str, Any] = {
        "views": list(View),
        "view": view,
        "items": items,
        "done": done,
        "undo": undo,
        "next_url": None if following is None else _page_url(view, following),
        "first_url": None if after is None else _queue_url(view),
    }
    return _private(render(request, "admin_queue.html", cache=ADMIN_CACHE, **context))


async def history_page(request: web.Request) -> web.Response:
    """``GET /admin/queue/ID/history``: the other comments of a comment's author (on a page
    of its own: the queue stays one query however many authors it lists)."""
    if not _signed_in(request):
        return _login_page(request)
    service = site(request).service
    comment = await service.comment(CommentId(path_id(request)))
    others = await service.desk.history(WEB_ADMIN, comment, HISTORY_SHOWN)
    view = _view(request.query.get("view"))
    return _private(
        render(
            request,
            "admin_history.html",
            cache=ADMIN_CACHE,
            comment=comment,
            others=others,
            view=view,
        )
    )


async def confirm_ban(request: web.Request) -> web.Response:
    """``GET /admin/queue/ID/ban``: ask before banning a comment's author."""
    if not _signed_in(request):
        return _login_page(request)
    item_id = CommentId(path_id(request))
    comment = await site(request).service.comment(item_id)
    view = _view(request.query.get("view"))
    return _private(
        render(request, "admin_ban.html", cache=ADMIN_CACHE, comment=comment, view=view)
    )


@moderation
async def act(request: web.Request) -> web.StreamResponse:
    """``POST /admin/queue/ID/ACTION``: approve, hide, delete, ban or undo (303 back)."""
    name = request.match_info["action"]
    if name not in _ACTIONS:  # pragma: no cover - the route pattern prevents it
        raise web.HTTPNotFound
    data = await request.post()
    field = data.get("view")
    view = _view(field if isinstance(field, str) else None)
    desk = site(request).service.desk
    comment_id = CommentId(path_id(request))
    outcome: Outcome = await getattr(desk, name)(WEB_ADMIN, comment_id)
    log.info(
        "moderation from the admin page",
        extra={"action": str(outcome.action), "comment_id": comment_id},
    )
    raise web.HTTPSeeOther(_queue_url(view, outcome.action, comment_id))


def add_routes(app: web.Application, id_pattern: str) -> None:
    """The queue's routes."""
    item = f"/admin/queue/{{id:{id_pattern}}}"
    app.router.add_get("/admin/queue", queue_page)
    app.router.add_get(f"{item}/ban", confirm_ban)
    app.router.add_get(f"{item}/history", history_page)
    app.router.add_post(f"{item}/{{action:{'|'.join(_ACTIONS)}}}", act)
