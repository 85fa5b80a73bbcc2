"""``/comments/ID``: a comment's permanent address, answered with a redirect to the page of
its article's thread that shows it (older comments live on ``?comments=CURSOR`` pages)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from adapters.web.context import path_id, site
from adapters.web.render import article_path
from newsbot.errors import NotFound
from newsbot.i18n import N_
from newsbot.models import ArticleStatus, CommentId, CommentStatus
from newsbot.threads import walk

# Pages looked through for an old comment before settling for the thread's first page.
SEARCH_PAGES = 50


async def comment_permalink(request: web.Request) -> web.Response:
    """Redirect (302) to ``/articles/ID-slug[?comments=CURSOR]#comment-ID``.

    Raises:
        NotFound: no such comment, or it was removed, or its article is not published.
    """
    s = site(request)
    comment = await s.service.comment(CommentId(path_id(request)))
    article = await s.service.article(comment.article_id)
    if comment.status is not CommentStatus.VISIBLE or article.status is not (
        ArticleStatus.PUBLISHED
    ):
        raise NotFound(N_("There is no such comment."))
    cursor: str | None = None
    where = ""
    for _ in range(SEARCH_PAGES):
        page = await s.service.thread(
            article.id, cursor=cursor, limit=s.comments_per_page, newest_first=True
        )
        if any(node.comment.id == comment.id for node, _ in walk(page.comments)):
            where = f"?comments={quote(cursor, safe='')}" if cursor else ""
            break
        cursor = page.next_cursor
        if cursor is None:
            break
    location = f"{article_path(article)}{where}#comment-{comment.id}"
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-cache"})
