"""Readers report a comment: ``GET /comments/ID/report`` is a short form (a reason), ``POST
/comments/ID/report`` records the report (``Desk.report``). No JavaScript; from this site
only; a few reports per address per ten minutes. The reporter is the reader's web identity
(their session), so one reader's reports of one comment count once.
"""

from __future__ import annotations

import math

from aiohttp import web

from adapters.web.context import (
    SESSION_COOKIE,
    client_address,
    cross_site_refusal,
    from_this_site,
    log,
    path_id,
    render,
    set_session_cookie,
    site,
    speech,
)
from adapters.web.guard import new_session
from newsbot.desk import REASON_MAX
from newsbot.errors import NotFound
from newsbot.i18n import N_
from newsbot.models import Actor, CommentId, CommentStatus, Platform
from newsbot.service import web_identity

REPORTS_PER_WINDOW = 5
REPORT_WINDOW = 600.0
_PRIVATE = "private, no-store"


async def _comment_path(request: web.Request) -> tuple[CommentId, str]:
    """The comment reported, and the address of its place on its article's page."""
    comment_id = CommentId(path_id(request))
    comment = await site(request).service.comment(comment_id)
    if comment.status is not CommentStatus.VISIBLE:
        raise NotFound(N_("There is no comment %(id)s to report."), id=comment_id)
    return comment_id, f"/articles/{comment.article_id}#comment-{comment_id}"


async def report_form(request: web.Request) -> web.Response:
    """``GET /comments/ID/report``: why report it."""
    comment_id, back = await _comment_path(request)
    comment = await site(request).service.comment(comment_id)
    return render(
        request, "report.html", cache=_PRIVATE, comment=comment, back=back, reason_max=REASON_MAX
    )


async def report(request: web.Request) -> web.StreamResponse:
    """``POST /comments/ID/report`` with ``reason``: report a comment (a thank-you page)."""
    s = site(request)
    if not from_this_site(request):
        return cross_site_refusal(request)
    remote = client_address(request)
    wait = await s.service.rate_slot(f"web-report:{remote}", REPORTS_PER_WINDOW, REPORT_WINDOW)
    comment_id, back = await _comment_path(request)
    if wait:
        seconds = max(1, math.ceil(wait))
        response = render(
            request,
            "message.html",
            status=429,
            cache=_PRIVATE,
            title=speech(request).gettext("Too many reports"),
            message=speech(request).gettext(
                "Please wait %(seconds)s seconds before reporting again."
            )
            % {"seconds": seconds},
            back=back,
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    data = await request.post()
    reason = data.get("reason")
    session = request.cookies.get(SESSION_COOKIE, "")
    fresh = not (0 < len(session) <= 64)
    if fresh:
        session = new_session()
    reader = Actor(Platform.WEB, web_identity(s.keys.identity, session))
    _, count = await s.service.desk.report(
        comment_id, reader, reason if isinstance(reason, str) else ""
    )
    log.info("comment reported on the web", extra={"comment_id": comment_id, "reports": count})
    response = render(
        request,
        "message.html",
        cache=_PRIVATE,
        title=speech(request).gettext("Thank you"),
        message=speech(request).gettext("Thank you: a moderator will look at this comment."),
        back=back,
    )
    set_session_cookie(request, response, session, fresh)
    return response


def add_routes(app: web.Application, id_pattern: str) -> None:
    """The report form's routes."""
    app.router.add_get(f"/comments/{{id:{id_pattern}}}/report", report_form)
    app.router.add_post(f"/comments/{{id:{id_pattern}}}/report", report)
