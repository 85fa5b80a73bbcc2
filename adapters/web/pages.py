"""The HTML pages: the article list, the article with its thread, and the comment form."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from adapters.web.cache import Page
from adapters.web.context import (
    PAGE_CACHE,
    cached,
    client_address,
    log,
    path_id,
    render,
    render_text,
    site,
)
from adapters.web.render import article_path, comments_label, flatten
from newsbot.errors import InvalidInput, NotFound, PermissionDenied
from newsbot.models import (
    Article,
    ArticleId,
    ArticleStatus,
    CommentId,
    CommentStatus,
    ThreadPage,
)
from newsbot.service import NAME_MAX
from newsbot.text import one_line

TEXT_MAX = 4000
HONEYPOT = "website"


@dataclass(slots=True)
class FormState:
    """What the comment form shows: the input kept after an error, and the errors by field."""

    name: str = ""
    text: str = ""
    parent_id: int | None = None
    parent_name: str = ""
    errors: dict[str, str] = field(default_factory=dict)


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
            ),
            cache_control=s.public_cache,
        )

    return await cached(request, ("index", cursor), None, load, variant=cursor is not None)


async def _published(request: web.Request) -> Article:
    article = await site(request).service.article(ArticleId(path_id(request)))
    if article.status is ArticleStatus.DRAFT:
        raise NotFound(f"There is no article {article.id}.")
    return article


GONE_TITLE = "Article retracted"
GONE_MESSAGE = "This article was retracted by its publisher."


def _retracted(request: web.Request) -> web.Response:
    return render(
        request,
        "message.html",
        status=410,
        cache=site(request).gone_cache,
        title=GONE_TITLE,
        message=GONE_MESSAGE,
    )


async def article_page(request: web.Request) -> web.Response:
    """``/articles/ID`` and ``/articles/ID-any-slug``: the article, the newest page of its
    thread (``?comments=CURSOR`` for older ones) and the form (``?reply=ID`` to answer one).

    Served from the page cache: rendered once per change of the article or its thread.
    """
    s = site(request)
    article_id = path_id(request)
    cursor = request.query.get("comments") or None
    reply = request.query.get("reply", "")
    if not (reply.isdigit() and len(reply) <= 18):
        reply = ""

    async def load() -> Page:
        article = await _published(request)
        if article.status is ArticleStatus.RETRACTED:
            return Page(
                data=("retracted", article.id),
                make=lambda: render_text(
                    request, "message.html", title=GONE_TITLE, message=GONE_MESSAGE
                ),
                status=410,
                cache_control=s.gone_cache,
            )
        form = FormState()
        if reply:
            try:
                parent = await s.service.comment(CommentId(int(reply)))
            except NotFound:
                pass  # a stale reply link: show the plain form
            else:
                if parent.article_id == article.id and parent.status is CommentStatus.VISIBLE:
                    form.parent_id, form.parent_name = parent.id, parent.author.name
        thread = await _thread(request, article, cursor)
        return Page(
            data=(article, thread, form.parent_id, form.parent_name),
            make=lambda: _article_text(request, article, form, thread, cursor),
            cache_control=s.public_cache,
        )

    key = ("article", article_id, cursor, reply)
    return await cached(request, key, article_id, load, variant=bool(cursor or reply))


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
) -> str:
    s = site(request)
    path = article_path(article)
    return render_text(
        request,
        "article.html",
        article=article,
        path=path,
        canonical=s.service.public_url + path,
        rows=flatten(list(reversed(thread.comments))),
        total=thread.total,
        count_label=comments_label(thread.total),
        next_cursor=thread.next_cursor,
        cursor=cursor,
        form=form,
        name_max=NAME_MAX,
        text_max=TEXT_MAX,
        honeypot=HONEYPOT,
        refresh=s.refresh_seconds,
    )


async def _article_response(
    request: web.Request, article: Article, form: FormState, status: int = 200
) -> web.Response:
    """The article page rendered for this request only (the form with its errors)."""
    cursor = request.query.get("comments") or None
    thread = await _thread(request, article, cursor)
    text = _article_text(request, article, form, thread, cursor)
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = PAGE_CACHE
    response.enable_compression()
    return response


def _field(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""  # a file upload counts as empty


def _validate(form: FormState) -> None:
    name = one_line(form.name)
    text = form.text.replace("\r\n", "\n").strip()
    if not name:
        form.errors["name"] = "Please enter your name."
    elif len(name) > NAME_MAX:
        form.errors["name"] = (
            f"The name is too long: {len(name)} characters, at most {NAME_MAX} are allowed."
        )
    if not text:
        form.errors["text"] = "Please write a comment."
    elif len(text) > TEXT_MAX:
        form.errors["text"] = (
            f"The comment is too long: {len(text)} characters, at most {TEXT_MAX} are allowed."
        )


async def post_comment(request: web.Request) -> web.Response:
    """``POST /articles/ID/comments``: store a comment from the form, then show it (303).

    Checks, in order: the form token (403), the per-address rate limit (429), the honeypot
    (a filled one gets a pretend success), the fields (400 with the form re-shown).
    """
    s = site(request)
    article = await _published(request)
    if article.status is ArticleStatus.RETRACTED:
        return _retracted(request)
    data = await request.post()
    remote = client_address(request)
    extra: dict[str, object] = {"article_id": article.id, "remote": remote}
    # The page no longer carries a per-visitor form token (shared caches keep it); the
    # request's origin is checked instead (the web security branch). The key only tells
    # one submission from another.
    nonce = secrets.token_urlsafe(16)
    wait = s.limiter.retry_after(remote)
    if wait:
        log.info("comment refused: rate limit", extra={**extra, "retry_after": wait})
        response = render(
            request,
            "message.html",
            status=429,
            title="Too many comments",
            message=(
                f"You have posted {s.limiter.limit} comments in the last "
                f"{s.limiter.window:g} seconds. Please wait {wait} seconds and try again."
            ),
            back=article_path(article),
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if _field(data, HONEYPOT):
        # Answer like a success so a bot learns nothing; store nothing.
        s.limiter.record(remote)
        log.info("comment dropped: honeypot filled", extra=extra)
        raise web.HTTPSeeOther(f"{article_path(article)}#comments")
    form = FormState(name=_field(data, "name"), text=_field(data, "text"))
    parent = _field(data, "parent")
    if parent:
        if parent.isdigit() and len(parent) <= 18:
            form.parent_id = int(parent)
            # An unknown parent is refused below by add_web_comment, with its own message.
            with contextlib.suppress(NotFound):
                replied = await s.service.comment(CommentId(form.parent_id))
                form.parent_name = replied.author.name
        else:
            form.errors["parent"] = "The comment you are replying to does not exist."
    _validate(form)
    if form.errors:
        return await _article_response(request, article, form, status=400)
    try:
        comment = await s.service.add_web_comment(
            article.id,
            form.name,
            form.text.replace("\r\n", "\n"),
            parent_id=CommentId(form.parent_id) if form.parent_id is not None else None,
            client_key=nonce,
        )
    except InvalidInput as exc:
        form.errors[exc.field or "form"] = str(exc)
        return await _article_response(request, article, form, status=400)
    except NotFound as exc:  # the parent comment is not in this thread
        form.parent_id, form.parent_name = None, ""
        form.errors["parent"] = str(exc)
        return await _article_response(request, article, form, status=400)
    except PermissionDenied as exc:
        form.errors["form"] = str(exc)
        return await _article_response(request, article, form, status=403)
    s.limiter.record(remote)
    log.debug(  # the service logs the stored comment at INFO
        "web comment stored",
        extra={"article_id": article.id, "comment_id": comment.id, "parent_id": comment.parent_id},
    )
    raise web.HTTPSeeOther(f"{article_path(article)}#comment-{comment.id}")
