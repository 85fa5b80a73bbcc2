"""What each chat receives and how, on the command line: ``filter set|clear DEST`` (shown
in ``destinations``), ``template set|show|clear DEST``, ``preview ARTICLE DEST`` and
``test-send DEST``."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from adapters import templates
from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    DestinationId,
    DomainError,
    NewsService,
    Platform,
)


async def filter_set(service: NewsService, args: argparse.Namespace) -> object:
    """``filter set DEST TERMS...``: only articles the filter passes go to that chat."""
    text = " ".join(args.terms)
    if not text.strip():
        raise DomainError("Give the filter's terms after DEST (filter clear DEST removes it).")
    parsed = await service.routing.set_filter(Actor.operator(), DestinationId(args.dest), text)
    if args.json:
        return {"destination": args.dest, "filter": None if parsed is None else str(parsed)}
    if parsed is None:
        return f"Destination {args.dest} has no filter: it gets every article its tags allow."
    return f"Destination {args.dest} now gets only articles that pass: {parsed}"


async def filter_clear(service: NewsService, args: argparse.Namespace) -> object:
    """``filter clear DEST``: remove a chat's filter."""
    await service.routing.set_filter(Actor.operator(), DestinationId(args.dest), None)
    if args.json:
        return {"destination": args.dest, "filter": None}
    return f"Destination {args.dest} has no filter: it gets every article its tags allow."


async def template_set(service: NewsService, args: argparse.Namespace) -> object:
    """``template set DEST FILE`` (or ``--ready NAME``): checked, then kept for that chat."""
    if args.ready:
        text = templates.READY[args.ready]
    elif args.file:
        text = await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8")
    else:
        raise DomainError(f"Give a template FILE or --ready ({', '.join(templates.READY)}).")
    templates.check(text, service.article_url(ArticleId(1)))
    await service.routing.set_template(Actor.operator(), DestinationId(args.dest), text)
    if args.json:
        return {"destination": args.dest, "template": text}
    return f"Destination {args.dest} now uses this template (within seconds in running bots)."


async def template_show(service: NewsService, args: argparse.Namespace) -> object:
    """``template show DEST``: the chat's template, or that it uses the built-in layout."""
    await service.routing.destination(DestinationId(args.dest))
    text = (await service.routing.templates()).get(DestinationId(args.dest))
    if args.json:
        return {"destination": args.dest, "template": text}
    return text if text is not None else f"Destination {args.dest} uses the built-in layout."


async def template_clear(service: NewsService, args: argparse.Namespace) -> object:
    """``template clear DEST``: back to the built-in layout."""
    await service.routing.set_template(Actor.operator(), DestinationId(args.dest), None)
    if args.json:
        return {"destination": args.dest, "template": None}
    return f"Destination {args.dest} uses the built-in layout again."


async def preview(service: NewsService, args: argparse.Namespace) -> object:
    """``preview ARTICLE DEST``: what that chat would receive, and whether its filter passes
    the article and why."""
    article = await service.article(ArticleId(args.article))
    dest = await service.routing.destination(DestinationId(args.dest))
    draft = ArticleDraft(
        article.title, article.body, article.summary, article.url, article.image_url, article.tags
    )
    filter_text = (await service.routing.filters()).get(dest.id)
    verdict = service.routing.verdict(filter_text, draft, article.author.name)
    tags = "passes" if dest.accepts(article.tags) else "does not share a tag with the chat"
    text = (await service.routing.templates()).get(dest.id)
    link, count = service.article_url(article.id), await service.comment_count(article.id)
    out = None
    if text is not None:
        out = templates.render(
            templates.compile_template(text), article, link=link, comment_count=count
        )
    shown = _shown(dest.platform, out, article, link, count)
    passed = verdict.passed and dest.accepts(article.tags)
    if args.json:
        return {"passes": passed, "filter": verdict.reason, "tags": tags, "post": shown}
    return "\n".join(
        [
            f"Filter: {'passes' if verdict.passed else 'stops it'} ({verdict.reason});"
            f" tags: {tags}.",
            f"{dest.platform} chat {dest.chat_id} would receive"
            + (" (if it passed)" if not passed else "")
            + f", with {'its template' if text else 'the built-in layout'}:",
            "",
            shown,
        ]
    )


async def test_send(service: NewsService, args: argparse.Namespace) -> object:
    """``test-send DEST``: one clearly marked test post to that chat, as it shows articles."""
    article = await service.routing.test_send(Actor.operator(), DestinationId(args.dest))
    if args.json:
        return {"destination": args.dest, "article_id": article.id}
    return (
        f"A test post is queued for destination {args.dest} (draft {article.id}: no page); "
        f"see it with: deliveries {article.id}"
    )


def _shown(
    platform: Platform, out: templates.Templated | None, article: object, link: str, count: int
) -> str:
    from newsbot import Article

    assert isinstance(article, Article)
    if platform is Platform.DISCORD:
        from adapters.discord.render import article_embed, templated_embed

        embed = (
            templated_embed(out, article, url=link, comment_count=count)
            if out is not None
            else article_embed(article, url=link, comment_count=count)
        )
        return "\n".join(
            filter(None, [f"[embed] {embed.title}", embed.description, embed.footer.text])
        )
    from adapters.telegram.render import render_article
    from adapters.telegram.render.templated import render_templated

    rendered = (
        render_templated(out)
        if out is not None
        else render_article(article, article_url=link, comment_count=count)
    )
    return rendered.text


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """``filter set`` and ``filter clear``."""
    p = sub.add_parser("filter", help="which articles a chat receives, besides its tags")
    actions = p.add_subparsers(dest="filter_command", metavar="ACTION", required=True)
    f = actions.add_parser(
        "set",
        parents=[common],
        help="set a chat's filter: terms (AND), OR between groups, -term excludes; "
        "field:word, field~PATTERN (title, summary, body, author, tags)",
    )
    f.add_argument("dest", type=int, help="the destination's ID (see destinations)")
    f.add_argument(
        "terms",
        nargs=argparse.REMAINDER,
        help='the rest of the line, e.g. quake OR tags:breaking -body~"(?i)sponsored"',
    )
    f.set_defaults(handler=filter_set)
    f = actions.add_parser("clear", parents=[common], help="remove a chat's filter")
    f.add_argument("dest", type=int, help="the chat's id in `destinations`")
    f.set_defaults(handler=filter_clear)
    p = sub.add_parser("template", help="how a chat's posts look (Jinja2, sandboxed)")
    actions = p.add_subparsers(dest="template_command", metavar="ACTION", required=True)
    t = actions.add_parser("set", parents=[common], help="check and set a chat's template")
    t.add_argument("dest", type=int, help="the destination's ID (see destinations)")
    t.add_argument("file", nargs="?", help="the template's file")
    t.add_argument("--ready", choices=sorted(templates.READY), help="a template that ships")
    t.set_defaults(handler=template_set)
    t = actions.add_parser("show", parents=[common], help="show a chat's template")
    t.add_argument("dest", type=int, help="the chat's id in `destinations`")
    t.set_defaults(handler=template_show)
    t = actions.add_parser("clear", parents=[common], help="back to the built-in layout")
    t.add_argument("dest", type=int, help="the chat's id in `destinations`")
    t.set_defaults(handler=template_clear)
    p = sub.add_parser(
        "preview", parents=[common], help="what a chat would receive of an article, and why"
    )
    p.add_argument("article", type=int, help="the article's id")
    p.add_argument("dest", type=int, help="the chat's id in `destinations`")
    p.set_defaults(handler=preview)
    p = sub.add_parser("test-send", parents=[common], help="send a marked test post to a chat")
    p.add_argument("dest", type=int, help="the chat's id in `destinations`")
    p.set_defaults(handler=test_send)
