"""Articles and their threads: publish, edit, retract, articles, article, comments,
deliveries, delete-comment."""

from __future__ import annotations

import argparse

from adapters.cli import schedule
from adapters.cli.inputs import read_body, tags
from adapters.cli.output import article_json, comment_json
from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    CommentId,
    CommentNode,
    DomainError,
    NewsService,
)
from newsbot.policy import parse
from newsbot.scheduling import Priority, describe_times, parse_priority
from newsbot.threads import walk


async def publish(service: NewsService, args: argparse.Namespace) -> object:
    """``publish --title T --body B``: publish an article everywhere."""
    body = read_body(args)
    if body is None:
        raise DomainError("Give the body with --body TEXT or --body-file FILE.")
    draft = ArticleDraft(
        args.title, body, args.summary or "", args.url, args.image, tags(args.tags)
    )
    when = schedule.schedule_of(service, args)
    priority = parse_priority(args.priority)
    comments = parse(args.comments) if getattr(args, "comments", None) else None
    change = await service.publish(
        Actor.operator(),
        draft,
        schedule=when,
        priority=priority,
        comments=comments,
        slow=getattr(args, "slow", None),
    )
    if args.json:
        return {**article_json(service, change.article), "queued": change.queued}
    page = service.article_url(change.article.id)
    done = "Published" if when is None else f"Scheduled ({describe_times(when)})"
    lane = " in the breaking-news lane" if priority is Priority.BREAKING else ""
    return (
        f"{done} article {change.article.id}: {change.article.title}\n"
        f"Queued for {change.queued} destination(s){lane}. Page: {page}"
    )


async def edit(service: NewsService, args: argparse.Namespace) -> object:
    """``edit ID``: change what is given, keep the rest."""
    current = await service.article(ArticleId(args.id))
    body = read_body(args)
    draft = ArticleDraft(
        title=args.title if args.title is not None else current.title,
        body=body if body is not None else current.body,
        summary=args.summary if args.summary is not None else current.summary,
        url=args.url if args.url is not None else current.url,
        image_url=args.image if args.image is not None else current.image_url,
        tags=tags(args.tags) if args.tags is not None else current.tags,
    )
    change = await service.edit(Actor.operator(), ArticleId(args.id), draft)
    if args.json:
        return {**article_json(service, change.article), "queued": change.queued}
    revision = change.article.revision
    return f"Edited article {args.id} (revision {revision}); {change.queued} edit(s) queued."


async def retract(service: NewsService, args: argparse.Namespace) -> object:
    """``retract ID``: delete an article's messages everywhere."""
    change = await service.retract(Actor.operator(), ArticleId(args.id))
    if args.json:
        return {**article_json(service, change.article), "queued": change.queued}
    return f"Retracted article {args.id}; {change.queued} deletion(s) queued."


async def articles(service: NewsService, args: argparse.Namespace) -> object:
    """``articles``: the latest articles, a page at a time (``--scheduled``: those waiting)."""
    if args.scheduled:
        return await schedule.scheduled(service, args)
    page = await service.latest(args.limit, args.cursor)
    if args.json:
        return {
            "articles": [article_json(service, a) for a in page.articles],
            "next_cursor": page.next_cursor,
        }
    lines = [f"{'ID':>5}  {'PUBLISHED':<16}  TITLE"]
    for a in page.articles:
        published = a.published_at.strftime("%Y-%m-%d %H:%M") if a.published_at else "-"
        lines.append(f"{a.id:>5}  {published:<16}  {a.title}")
    if not page.articles:
        lines.append("(no articles yet)")
    if page.next_cursor:
        lines.append(f"More: --cursor {page.next_cursor}")
    return "\n".join(lines)


async def article(service: NewsService, args: argparse.Namespace) -> object:
    """``article ID``: one article and its comment count."""
    found = await service.article(ArticleId(args.id))
    count = await service.comment_count(found.id)
    if args.json:
        return {**article_json(service, found), "comment_count": count}
    return "\n".join(
        [
            f"#{found.id} {found.title}  [{found.status}, revision {found.revision}]",
            f"Page: {service.article_url(found.id)}",
            f"Tags: {', '.join(found.tags) or '-'}   Comments: {count}",
            "",
            found.summary or found.body,
        ]
    )


def _thread_lines(nodes: list[CommentNode]) -> list[str]:
    lines = []
    for node, depth in walk(nodes):
        c = node.comment
        text = c.text.replace("\n", " ") if c.text else "[deleted]"
        lines.append(
            f"{'  ' * depth}#{c.id} {c.author.name or '-'} ({c.author.platform}, "
            f"{c.created_at:%Y-%m-%d %H:%M}): {text}"
        )
    return lines


async def comments(service: NewsService, args: argparse.Namespace) -> object:
    """``comments ID``: an article's thread, as the operator sees it (hidden ones too)."""
    page = await service.thread(
        ArticleId(args.id),
        cursor=args.cursor,
        limit=args.limit,
        newest_first=args.newest,
        viewer=Actor.operator(),
    )
    if args.json:
        return {
            "article_id": page.article_id,
            "total": page.total,
            "comments": [comment_json(n) for n in page.comments],
            "continued": page.continued,
            "next_cursor": page.next_cursor,
        }
    lines = [f"{page.total} comment(s) on article {page.article_id}"]
    if page.continued:
        lines.append("(continued from the page before)")
    lines += _thread_lines(page.comments)
    if page.next_cursor:
        lines.append(f"More: --cursor {page.next_cursor}")
    return "\n".join(lines)


async def deliveries(service: NewsService, args: argparse.Namespace) -> object:
    """``deliveries ID``: where an article went, per chat, and what went wrong."""
    found = await service.deliveries(ArticleId(args.id))
    rows = [
        {
            "destination": f"{s.destination.platform}:{s.destination.chat_id}",
            "destination_id": s.destination.id,
            "state": str(s.delivery.state),
            "op": str(s.delivery.op),
            "attempts": s.delivery.attempts,
            "last_error": s.delivery.last_error,
            "message_id": s.delivery.message_id,
            "next_attempt_at": (
                s.delivery.next_attempt_at.isoformat() if s.delivery.next_attempt_at else None
            ),
        }
        for s in found
    ]
    if args.json:
        return rows
    lines = [f"{'DESTINATION':<32} {'STATE':<8} {'OP':<7} {'TRIES':>5}  LAST ERROR"]
    for r in rows:
        error = r["last_error"] or ""
        lines.append(
            f"{r['destination']:<32} {r['state']:<8} {r['op']:<7} {r['attempts']:>5}  {error}"
        )
    if not rows:
        lines.append("(no destinations were subscribed when it was published)")
    return "\n".join(lines)


async def delete_comment(service: NewsService, args: argparse.Namespace) -> object:
    """``delete-comment ID``: delete a comment and its copies everywhere."""
    comment = await service.delete_comment(Actor.operator(), CommentId(args.id))
    return (
        {"id": comment.id, "status": str(comment.status)}
        if args.json
        else f"Deleted comment {comment.id}."
    )
