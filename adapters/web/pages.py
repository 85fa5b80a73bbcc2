"""The HTML pages: the article list, the article with its thread, and the comment form."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from adapters.i18n import Speech
from adapters.web.cache import Page
from adapters.web.context import (
    PAGE_CACHE,
    SESSION_COOKIE,
    cached,
    client_address,
    cross_site_refusal,
    from_this_site,
    log,
    path_id,
    render,
    render_text,
    set_session_cookie,
    site,
    speech,
)
from adapters.web.guard import ascii_number, new_session, submission_keys
from adapters.web.render import (
    Row,
    article_path,
    comments_label,
    find,
    flatten,
    news_article,
    thread_ages,
)
from adapters.web.signin import Viewer, config, viewer
from adapters.web.views import VIEWS
from newsbot.ages import Age, first_change
from newsbot.errors import InvalidInput, NotFound, PermissionDenied, TooSoon
from newsbot.i18n import N_
from newsbot.models import (
    Article,
    ArticleId,
    ArticleStatus,
    Comment,
    CommentId,
    CommentNode,
    CommentStatus,
    MessageRef,
    Platform,
    ThreadPage,
)
from newsbot.reactions import ReactionCounts
from newsbot.service import NAME_MAX, web_identity
from newsbot.stats import VIA, source_of
from newsbot.text import one_line

TEXT_MAX = 4000
# The article page differs for a signed-in reader (the ``newsbot_person`` cookie): a shared
# cache that follows ``Vary`` (nginx, Varnish, Squid) keeps the cookie-less copy apart.
PERSONAL_VARY = "Accept-Encoding, Cookie"
HONEYPOT = "website"


@dataclass(slots=True)
class FormState:
    """What the comment form shows: the input kept after an error, and the errors by field."""

    name: str = ""
    text: str = ""
    parent_id: int | None = None
    parent_name: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    viewer: Viewer | None = None  # signed in: the name is theirs (adapters.web.signin)
    react_id: int | None = None  # the comment whose reaction buttons are shown
    notice: str = ""  # a comment received but held for moderators
    slow: int = 0  # the story's slow mode, in seconds (newsbot.slowmode)


async def index(request: web.Request) -> web.Response:
    """``/``: the latest articles, newest first, with a link to the next page."""
    s = site(request)
    cursor = request.query.get("cursor") or None

    async def load() -> Page:
        page = await s.service.latest(s.articles_per_page, cursor)
        counts = {a.id: await s.service.comment_count(a.id) for a in page.articles}
        return Page(
            data=(page, counts),
            make=lambda: render_text(
                request,
                "index.html",
                articles=page.articles,
                counts=counts,
                next_cursor=page.next_cursor,
                first_page=cursor is None,
                site_url=s.service.public_url,
            ),
            cache_control=s.public_cache,
        )

    return await cached(request, ("index", cursor), None, load, variant=cursor is not None)


async def _published(request: web.Request) -> Article:
    article = await site(request).service.article(ArticleId(path_id(request)))
    if article.status in (ArticleStatus.DRAFT, ArticleStatus.SCHEDULED):
        raise NotFound(N_("There is no article %(id)s."), id=article.id)
    return article


GONE_TITLE = N_("Article retracted")
GONE_MESSAGE = N_("This article was retracted by its publisher.")


def _retracted(request: web.Request) -> web.Response:
    return render(
        request,
        "message.html",
        status=410,
        cache=site(request).gone_cache,
        title=speech(request).gettext(GONE_TITLE),
        message=speech(request).gettext(GONE_MESSAGE),
    )


async def article_page(request: web.Request) -> web.Response:
    """``/articles/ID`` and ``/articles/ID-any-slug``: the article, the newest page of its
    thread (``?comments=CURSOR`` for older ones) and the form (``?reply=ID`` to answer one).

    Served from the page cache: rendered once per change of the article or its thread.
    """
    s = site(request)
    article_id = path_id(request)
    cursor = request.query.get("comments") or None
    newest = _newest(request)
    focus = ascii_number(request.query.get("focus"))
    # Only a comment one may answer names a page of its own; any other ?reply= (unknown,
    # removed, of another article, not a number) is the plain page, from the same entry.
    parent = await _replyable(request, article_id, request.query.get("reply"))
    # ?react=ID shows that comment's reaction buttons (the others show their counts only).
    reacted = await _replyable(request, article_id, request.query.get("react"))
    react_id = reacted.id if reacted is not None else None

    async def load() -> Page:
        article = await _published(request)
        if article.status is ArticleStatus.RETRACTED:
            return Page(
                data=("retracted", article.id),
                make=lambda: render_text(
                    request,
                    "message.html",
                    title=speech(request).gettext(GONE_TITLE),
                    message=speech(request).gettext(GONE_MESSAGE),
                ),
                status=410,
                cache_control=s.gone_cache,
            )
        form = FormState(react_id=react_id)
        if parent is not None:
            form.parent_id, form.parent_name = parent.id, parent.author.name
        thread = await _thread(request, article, cursor)
        counts = await s.service.reactions.counts(article.id)
        policy = await s.service.desk.policy(article.id)
        ages = thread_ages(thread.comments, s.service.clock.now(), s.page_lag)
        shown = [(a.count, a.unit) if a else None for a in ages.values()]
        form.slow = await s.service.desk.slow_mode(article.id)
        return Page(
            data=(
                *(article, thread, form.parent_id, form.parent_name, react_id, counts, policy),
                shown,
                form.slow,
            ),
            make=lambda: _article_text(
                request, article, form, thread, cursor, counts, policy, newest, focus, ages
            ),
            cache_control=s.public_cache,
            vary=PERSONAL_VARY,
            until=first_change(list(ages.values())),
        )

    reply = parent.id if parent is not None else None
    who = await viewer(request)
    if who is not None:  # personal: rendered for this reader alone, never kept
        article = await _published(request)
        if article.status is ArticleStatus.RETRACTED:
            return _retracted(request)
        form = FormState(viewer=who, react_id=react_id)
        if parent is not None:
            form.parent_id, form.parent_name = parent.id, parent.author.name
        return await _article_response(request, article, form)
    key = ("article", article_id, cursor, reply, react_id, newest, focus)
    variant = bool(cursor or newest or focus or reply is not None or react_id is not None)
    response = await cached(request, key, article_id, load, variant=variant)
    if not variant and response.status in (200, 304):  # a reader on the article (not paging)
        request.app[VIEWS].add(ArticleId(article_id), source_of(request.query.get(VIA)))
    return response


def _newest(request: web.Request) -> bool:
    """Whether the reader sorted the thread newest first (``?sort=newest``)."""
    return request.query.get("sort") == "newest"


async def _replyable(request: web.Request, article_id: int, raw: str | None) -> Comment | None:
    """The comment ``raw`` names when it is a visible comment of the article, else ``None``:
    only such a comment may be named on the page (a stale link shows the plain form)."""
    number = ascii_number(raw)
    if number is None:
        return None
    try:
        comment = await site(request).service.comment(CommentId(number))
    except NotFound:
        return None
    if comment.article_id != article_id or comment.status is not CommentStatus.VISIBLE:
        return None
    return comment


async def _thread(request: web.Request, article: Article, cursor: str | None) -> ThreadPage:
    """A page of the thread, newest top-level comments first (shown oldest first)."""
    s = site(request)
    return await s.service.thread(
        article.id, cursor=cursor, limit=s.comments_per_page, newest_first=True
    )


def _article_text(
    request: web.Request,
    article: Article,
    form: FormState,
    thread: ThreadPage,
    cursor: str | None,
    reactions: ReactionCounts,
    policy: str = "open",
    newest: bool = False,
    focus: int | None = None,
    ages: Mapping[int, Age | None] | None = None,
) -> str:
    s = site(request)
    path = article_path(article)
    canonical = s.service.public_url + path
    # "Continue this thread": one branch, from a comment at the indentation cap, indented anew.
    focused = find(thread.comments, focus) if focus is not None else None
    return render_text(
        request,
        "article.html",
        article=article,
        path=path,
        canonical=canonical,
        news_article=news_article(article, canonical, s.brand, s.service.public_url),
        rows=_rows(thread, newest, focused),
        newest=newest,
        focus=focused.comment if focused is not None else None,
        total=thread.total,
        count_label=comments_label(thread.total, s.speech.tr),
        next_cursor=thread.next_cursor,
        cursor=cursor,
        form=form,
        name_max=NAME_MAX,
        text_max=TEXT_MAX,
        honeypot=HONEYPOT,
        refresh=s.refresh_seconds,
        anonymous=config(request).anonymous,
        reactions=reactions,
        offered=s.service.reactions.web_reactions,
        react_id=form.react_id,
        policy=policy,
        ages=ages if ages is not None else thread_ages(thread.comments, s.service.clock.now(), 0),
    )


def _rows(thread: ThreadPage, newest: bool, focused: CommentNode | None) -> list[Row]:
    if focused is not None:
        return flatten([focused])
    return flatten(thread.comments if newest else list(reversed(thread.comments)))


async def _article_response(
    request: web.Request, article: Article, form: FormState, status: int = 200
) -> web.Response:
    """The article page rendered for this request only (the form with its errors)."""
    cursor = request.query.get("comments") or None
    thread = await _thread(request, article, cursor)
    counts = await site(request).service.reactions.counts(article.id)
    policy = await site(request).service.desk.policy(article.id)
    form.slow = await site(request).service.desk.slow_mode(article.id)
    text = _article_text(request, article, form, thread, cursor, counts, policy, _newest(request))
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = PAGE_CACHE
    response.headers["Vary"] = PERSONAL_VARY
    response.enable_compression()
    return response


def _field(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""  # a file upload counts as empty


def _validate(form: FormState, tr: Speech) -> None:
    name = one_line(form.name)
    text = form.text.replace("\r\n", "\n").strip()
    if not name:
        form.errors["name"] = tr.gettext("Please enter your name.")
    elif len(name) > NAME_MAX:
        form.errors["name"] = tr.ngettext(
            "The name is too long: %(length)s characters, at most %(max)s is allowed.",
            "The name is too long: %(length)s characters, at most %(max)s are allowed.",
            NAME_MAX,
        ) % {"length": len(name), "max": NAME_MAX}
    if not text:
        form.errors["text"] = tr.gettext("Please write a comment.")
    elif len(text) > TEXT_MAX:
        form.errors["text"] = tr.ngettext(
            "The comment is too long: %(length)s characters, at most %(max)s is allowed.",
            "The comment is too long: %(length)s characters, at most %(max)s are allowed.",
            TEXT_MAX,
        ) % {"length": len(text), "max": TEXT_MAX}


async def post_comment(request: web.Request) -> web.StreamResponse:
    """``POST /articles/ID/comments``: store a comment from the form, then show it (303).

    Checks, in order: the post comes from this site (403), a rate-limit slot for the address
    (429; taken before anything else is awaited, atomically in the store, so concurrent posts
    and other workers cannot share a slot), the honeypot (a filled one gets a pretend
    success), the fields (400 with the form re-shown). The commenter is identified by their
    session cookie (``web_identity``), issued on this response when they have none.
    """
    s = site(request)
    remote = client_address(request)
    if not from_this_site(request):
        return cross_site_refusal(request)
    wait = await s.service.rate_slot(f"web-comment:{remote}", s.rate_limit, s.rate_window)
    article = await _published(request)
    if article.status is ArticleStatus.RETRACTED:
        return _retracted(request)
    extra: dict[str, object] = {"article_id": article.id, "remote": remote}
    data = await request.post() if wait else None
    if wait and data is not None:
        seconds = max(1, math.ceil(wait))
        log.info("comment refused: rate limit", extra={**extra, "retry_after": seconds})
        # The page again, with what the reader typed kept in the form.
        kept = FormState(name=_field(data, "name"), text=_field(data, "text"))
        kept.parent_id = ascii_number(_field(data, "parent"))
        kept.viewer = await viewer(request)
        kept.errors["form"] = s.speech.ngettext(
            "You have posted %(count)s comment in the last %(window)s seconds. "
            "Please wait %(seconds)s seconds and try again.",
            "You have posted %(count)s comments in the last %(window)s seconds. "
            "Please wait %(seconds)s seconds and try again.",
            s.rate_limit,
        ) % {"count": s.rate_limit, "window": f"{s.rate_window:g}", "seconds": seconds}
        response = await _article_response(request, article, kept, status=429)
        response.headers["Retry-After"] = str(seconds)
        return response
    data = data if data is not None else await request.post()
    if _field(data, HONEYPOT):
        # Answer like a success so a bot learns nothing; store nothing (the slot is spent).
        log.info("comment dropped: honeypot filled", extra=extra)
        raise web.HTTPSeeOther(f"{article_path(article)}#comments")
    form = FormState(name=_field(data, "name"), text=_field(data, "text"))
    form.viewer = await viewer(request)
    if form.viewer is not None:  # the platform's name, whatever was typed
        form.name = form.viewer.name[:NAME_MAX]
    elif not config(request).anonymous:
        form.errors["form"] = s.speech.gettext("Please sign in to comment.")
        return await _article_response(request, article, form, status=403)
    parent = _field(data, "parent")
    if parent:
        form.parent_id = ascii_number(parent)
        if form.parent_id is not None:
            # Named only when it is a visible comment of this article; any other parent is
            # refused below by add_web_comment, with its own message.
            replied = await _replyable(request, article.id, parent)
            form.parent_name = replied.author.name if replied is not None else ""
        else:
            form.errors["parent"] = s.speech.gettext(
                "The comment you are replying to does not exist."
            )
    _validate(form, s.speech)
    if form.errors:
        return await _article_response(request, article, form, status=400)
    text = form.text.replace("\r\n", "\n")
    session = request.cookies.get(SESSION_COOKIE, "")
    fresh = form.viewer is None and not (0 < len(session) <= 64)
    if fresh:
        session = new_session()
    author = form.viewer.author_id if form.viewer else web_identity(s.keys.identity, session)
    try:
        comment = await s.service.add_web_comment(
            article.id,
            form.name,
            text,
            parent_id=CommentId(form.parent_id) if form.parent_id is not None else None,
            client_key=await _submission_key(request, article, form, text, remote),
            user_id=author,
        )
    except TooSoon as exc:  # slow mode: the text stays in the form, with when to come back
        return await _too_soon(request, article, form, exc)
    except InvalidInput as exc:
        form.errors[exc.field or "form"] = exc.translated(s.speech.tr)
        return await _article_response(request, article, form, status=400)
    except NotFound as exc:  # the parent comment is not in this thread
        form.parent_id, form.parent_name = None, ""
        form.errors["parent"] = exc.translated(s.speech.tr)
        return await _article_response(request, article, form, status=400)
    except PermissionDenied as exc:
        form.errors["form"] = exc.translated(s.speech.tr)
        return await _article_response(request, article, form, status=403)
    if comment.status is not CommentStatus.VISIBLE:
        # Held (over the per-author or per-chat limit): stored for moderators, not shown. The
        # reader sees that, with their text still in the form to keep a copy of.
        form.notice = s.speech.gettext(
            "Your comment was received and waits for a moderator before it is shown. "
            "Your text is still below if you want to keep a copy."
        )
        response = await _article_response(request, article, form, status=202)
        set_session_cookie(request, response, session, fresh)
        return response
    log.debug(  # the service logs the stored comment at INFO
        "web comment stored",
        extra={"article_id": article.id, "comment_id": comment.id, "parent_id": comment.parent_id},
    )
    response = web.Response(
        status=303, headers={"Location": f"{article_path(article)}#comment-{comment.id}"}
    )
    set_session_cookie(request, response, session, fresh)
    return response


async def _too_soon(
    request: web.Request, article: Article, form: FormState, exc: TooSoon
) -> web.Response:
    """The page again, the text kept, saying when the reader may comment again (429)."""
    tr = site(request).speech
    form.errors["form"] = (
        tr.ngettext(
            "This story is in slow mode: one comment per reader every %(num)s second.",
            "This story is in slow mode: one comment per reader every %(num)s seconds.",
            exc.every,
        )
        % {"num": exc.every}
        + " "
        + tr.ngettext(
            "You may comment again in %(seconds)s second.",
            "You may comment again in %(seconds)s seconds.",
            exc.retry_after,
        )
        % {"seconds": exc.retry_after}
    )
    response = await _article_response(request, article, form, status=429)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _submission_key(
    request: web.Request, article: Article, form: FormState, text: str, remote: str
) -> str:
    """The double-submit key (``guard.submission_keys``): the previous time bucket's when
    this comment was stored under it, else this bucket's."""
    s = site(request)
    current, previous = submission_keys(
        s.keys.submit,
        address=remote,
        article_id=article.id,
        parent_id=form.parent_id,
        name=form.name,
        text=text,
        now=s.service.clock.now().timestamp(),
    )
    earlier = MessageRef(Platform.WEB, str(article.id), previous)
    if await s.service.comment_by_source(earlier) is not None:
        return previous
    return current
