"""Reactions on the web: a reader's choice on the article or a comment (a form POST, or the
same POST from ``static/thread.js`` without reloading), and the counts as JSON.

A reader is their session cookie (``web_identity``, as for comments) and holds one reaction per
target: pressing another replaces it, pressing the same again takes it back. The POST is
refused from other sites and rate-limited per address like the comment form.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from adapters.i18n import accepted_speech
from adapters.web.api import JSON, _dumps
from adapters.web.cache import Page
from adapters.web.context import (
    SESSION_COOKIE,
    cached,
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
from adapters.web.guard import ascii_number, new_session
from adapters.web.render import article_path
from newsbot.errors import InvalidInput, NotFound
from newsbot.i18n import N_
from newsbot.models import ArticleId, ArticleStatus, CommentId
from newsbot.reactions import ReactionCounts, Tally
from newsbot.service import web_identity

RATE_FACTOR = 6
"""An address may react this many times as often as it may comment."""


def tally_json(tally: Tally | None) -> dict[str, Any]:
    """A target's counts: in total, per emoji and per platform."""
    tally = tally or Tally()
    by_platform = {str(p): n for p, n in tally.by_platform().items()}
    return {"total": tally.total, "by_emoji": tally.by_emoji(), "by_platform": by_platform}


def counts_json(counts: ReactionCounts, offered: tuple[str, ...]) -> dict[str, Any]:
    """An article's reactions as the API shows them."""
    return {
        "article_id": counts.article_id,
        "offered": list(offered),
        "article": tally_json(counts.article),
        "comments": {str(c): tally_json(t) for c, t in counts.comments.items()},
        "total": counts.everything().total,
    }


async def reactions_api(request: web.Request) -> web.Response:
    """``GET /api/articles/ID/reactions``: the article's and its comments' counts."""
    s = site(request)
    article_id = path_id(request)

    async def load() -> Page:
        article = await s.service.article(ArticleId(article_id))
        if article.status is not ArticleStatus.PUBLISHED:
            raise NotFound(N_("There is no article %(id)s."), id=article_id)
        counts = await s.service.reactions.counts(article.id)
        offered = s.service.reactions.web_reactions
        return Page(
            data=(counts, offered),
            make=lambda: _dumps(counts_json(counts, offered)),
            content_type=JSON,
            cache_control=s.public_cache,
        )

    return await cached(request, ("api-reactions", article_id), article_id, load)


async def post_reaction(request: web.Request) -> web.StreamResponse:
    """``POST /articles/ID/reactions`` (``emoji``, and ``comment`` for a comment's): set,
    change or take back the reader's reaction, then show the page again (303), or answer
    the target's counts as JSON when the request accepts JSON (the script)."""
    s = site(request)
    wants_json = JSON in request.headers.get("Accept", "")
    if not from_this_site(request):
        return cross_site_refusal(request)
    remote = client_address(request)
    wait = await s.service.rate_slot(
        f"web-reaction:{remote}", s.rate_limit * RATE_FACTOR, s.rate_window
    )
    article = await s.service.article(ArticleId(path_id(request)))
    if article.status is not ArticleStatus.PUBLISHED:
        raise NotFound(N_("There is no article %(id)s."), id=article.id)
    if wait:
        seconds = max(1, math.ceil(wait))
        log.info("reaction refused: rate limit", extra={"remote": remote, "retry_after": seconds})
        said = speech(request)
        if wants_json:
            said = accepted_speech(request.headers.get("Accept-Language"), said)
        text = said.ngettext(
            "Too many reactions. Please wait %(seconds)s second and try again.",
            "Too many reactions. Please wait %(seconds)s seconds and try again.",
            seconds,
        ) % {"seconds": seconds}
        if wants_json:
            response = web.json_response({"error": text, "code": "rate_limited"}, status=429)
            response.headers["Vary"] = "Accept-Language"
        else:
            response = render(
                request,
                "message.html",
                status=429,
                title=speech(request).gettext("Too many reactions"),
                message=text,
                back=article_path(article),
            )
        response.headers["Retry-After"] = str(seconds)
        return response
    data = await request.post()
    emoji = data.get("emoji")
    raw_comment = data.get("comment")
    comment_id: CommentId | None = None
    if isinstance(raw_comment, str) and raw_comment:
        number = ascii_number(raw_comment)
        if number is None:
            raise NotFound(N_("There is no such comment."))
        comment_id = CommentId(number)
    session = request.cookies.get(SESSION_COOKIE, "")
    fresh = not (0 < len(session) <= 64)
    if fresh:
        session = new_session()
    reader = web_identity(s.keys.identity, session)
    reactions = s.service.reactions
    if not isinstance(emoji, str):
        raise InvalidInput(N_("Please choose a reaction."), field="emoji")
    await reactions.react_on_web(article.id, comment_id, reader, emoji, toggle=True)
    if wants_json:
        counts = await reactions.counts(article.id)
        tally = counts.article if comment_id is None else counts.comments.get(comment_id)
        chosen = (await reactions.web_choices(article.id, reader)).get(comment_id)
        response = web.json_response(
            {"comment_id": comment_id, "counts": tally_json(tally), "chosen": chosen},
            dumps=_dumps,
        )
    else:
        where = f"{article_path(article)}#reactions"
        if comment_id is not None:
            where = f"{article_path(article)}?react={comment_id}#comment-{comment_id}"
        response = web.Response(status=303, headers={"Location": where})
    response.headers["Cache-Control"] = "no-store"
    set_session_cookie(request, response, session, fresh)
    return response
