"""Article posts, mirrored comments and thread pages."""

from __future__ import annotations

import re
from collections.abc import Sequence

from telegram import MessageEntity

from adapters.i18n import closed_line
from adapters.telegram.render.entities import (
    ENTITY_LIMIT,
    QUOTE_LIMIT,
    TEXT_LIMIT,
    TITLE_LIMIT,
    Rendered,
    Span,
    _limit_entities,
    _Piece,
    _safe_url,
    fit,
)
from adapters.telegram.render.markdown import _source_prefix, markdown
from newsbot.i18n import ENGLISH, N_, Translator
from newsbot.models import Article, Comment, CommentNode, Platform
from newsbot.text import clean_name, strip_control_chars, utf16_len
from newsbot.threads import walk

PLATFORM_NAMES = {
    Platform.TELEGRAM: "Telegram",
    Platform.DISCORD: "Discord",
    Platform.WEB: "Web",
    Platform.CLI: "newsbot",
}

# Telegram turns "@" followed by a username character into a mention (tdlib's
# match_mentions), whatever entities a bot sends, and a mention notifies that member.
_MENTION = re.compile(r"@(?=[A-Za-z0-9_])")
WORD_JOINER = "\u2060"  # invisible; it ends the match without showing anything


def comment_count_line(
    count: int, tr: Translator = ENGLISH, *, reactions: int = 0, closed: bool = False
) -> str:
    """The footer line with an article's comment count (and its reactions, if any), in
    ``tr``'s language; a second line says when the story is ``closed`` to comments."""
    if count <= 0:
        line = "💬 " + tr.gettext("No comments yet")
    else:
        line = "💬 " + tr.ngettext("%(count)s comment", "%(count)s comments", count) % {
            "count": count
        }
    if reactions > 0:
        reacted = tr.ngettext("%(count)s reaction", "%(count)s reactions", reactions)
        line += " · " + reacted % {"count": reactions}
    if closed:
        line += "\n" + closed_line(tr)
    return line


def render_article(
    article: Article,
    *,
    article_url: str,
    comment_count: int,
    limit: int = TEXT_LIMIT,
    reaction_count: int = 0,
    tr: Translator = ENGLISH,
    comments_closed: bool = False,
) -> Rendered:
    """An article post: bold title, the summary or the opening of the body, a "Read more" link
    to ``article_url`` when the body is not shown whole, and the comment count (with a line
    saying so when the story's ``comments_closed``).

    Use ``limit=CAPTION_LIMIT`` for a photo caption.
    """
    return render_post(
        article.title,
        article.body,
        article.summary,
        article_url=article_url,
        comment_count=comment_count,
        limit=limit,
        reaction_count=reaction_count,
        tr=tr,
        comments_closed=comments_closed,
    )


def render_post(
    title: str,
    body: str,
    summary: str = "",
    *,
    article_url: str,
    comment_count: int,
    limit: int = TEXT_LIMIT,
    reaction_count: int = 0,
    tr: Translator = ENGLISH,
    comments_closed: bool = False,
) -> Rendered:
    """The same as ``render_article`` from the parts (any strings at all)."""
    out = _Piece()
    title = " ".join(strip_control_chars(title).split()) or tr.gettext("Untitled")
    title_text, _, _ = fit(title, [], min(TITLE_LIMIT, max(limit // 4, 16)))
    link_url = _safe_url(article_url)
    out.write(title_text, MessageEntity.BOLD)
    if link_url:
        # The title links to the page. Every post (and the copy Telegram makes of a channel
        # post in its discussion group) thus names its article, even one never recorded.
        out.spans.append(Span(MessageEntity.TEXT_LINK, 0, out.units, url=link_url))
    count_line = comment_count_line(
        comment_count, tr, reactions=reaction_count, closed=comments_closed
    )
    read_more = tr.gettext("Read more")
    footer_plain = "\n\n" + count_line
    footer_link = "\n\n" + read_more + "\n" + count_line if link_url else footer_plain

    summary_text = strip_control_chars(summary).strip()
    if summary_text:
        body_text: str = summary_text
        body_spans: list[Span] = []
        truncated = True
    else:
        source, clipped = _source_prefix(body, limit)
        body_text, body_spans = markdown(source)
        truncated = clipped
    head_units = out.units + 2  # the blank line after the title
    fits = head_units + utf16_len(body_text) + utf16_len(footer_plain) <= limit
    if fits and not truncated:
        footer = footer_plain
    else:
        footer = footer_link
        budget = limit - head_units - utf16_len(footer)
        body_text, body_spans, _ = fit(body_text, body_spans, budget)
        truncated = True
    if body_text:
        out.write("\n\n")
        out.extend(body_text, _limit_entities(body_spans, ENTITY_LIMIT - 2))
    if truncated and link_url:
        out.write("\n\n")
        out.write(read_more, MessageEntity.TEXT_LINK, url=link_url)
        out.write("\n" + count_line)
    else:
        out.write("\n\n" + count_line)
    return Rendered(out.text, tuple(s.entity() for s in out.spans), truncated)


def platform_name(platform: Platform | str) -> str:
    """How a platform is named to readers."""
    try:
        return PLATFORM_NAMES[Platform(platform)]
    except ValueError:
        return str(platform).capitalize()


def unmention(text: str) -> str:
    """``text`` with every would-be ``@username`` mention broken by an invisible word joiner,
    so that text written by readers elsewhere notifies nobody on Telegram."""
    return _MENTION.sub("@" + WORD_JOINER, text)


def shown_name(name: str) -> str:
    """A name from outside as shown in a message: one line, no control or bidi control
    characters (names stored before the service cleaned them may still hold some), and no
    mention."""
    return unmention(clean_name(name))


def render_comment(
    comment: Comment,
    parent: Comment | None = None,
    *,
    limit: int = TEXT_LIMIT,
    tr: Translator = ENGLISH,
) -> Rendered:
    """A mirrored comment, "Name (Discord): text" with the name in bold.

    With ``parent`` (when a native reply is impossible) a short quote of the parent comes
    first.
    """
    out = _Piece()
    if parent is not None:
        quoted = (
            " ".join(parent.text.split()) if parent.text else tr.gettext(N_("(deleted comment)"))
        )
        who = shown_name(parent.author.name) or tr.gettext(N_("someone"))
        line, _, _ = fit(f"↩ {who}: {unmention(strip_control_chars(quoted))}", [], QUOTE_LIMIT)
        out.write(line, MessageEntity.BLOCKQUOTE)
        out.write("\n")
    name = shown_name(comment.author.name) or tr.gettext(N_("anonymous"))
    name, _, _ = fit(name, [], 64)
    out.write(name, MessageEntity.BOLD)
    out.write(f" ({platform_name(comment.author.platform)}): ")
    text = unmention(strip_control_chars(comment.text).strip()) or "…"
    body, _, _ = fit(text, [], limit - out.units)
    out.write(body)
    return Rendered(out.text, tuple(s.entity() for s in out.spans))


def render_thread(
    title: str,
    nodes: Sequence[CommentNode],
    *,
    total: int,
    article_url: str,
    limit: int = TEXT_LIMIT,
    per_comment: int = 300,
    tr: Translator = ENGLISH,
) -> Rendered:
    """One page of a thread, nested by indentation, within ``limit`` UTF-16 units."""
    out = _Piece()
    head, _, _ = fit(" ".join(title.split()) or tr.gettext("Untitled"), [], 200)
    out.write(head, MessageEntity.BOLD)
    out.write(f"\n{comment_count_line(total, tr)}")
    link_url = _safe_url(article_url)
    read_on_web = tr.gettext("Read on the web")
    footer = "\n\n" + read_on_web if link_url else ""
    budget = limit - utf16_len(footer) - 2
    if not nodes:
        out.write("\n\n" + tr.gettext("No comments yet. Reply to the article's post to comment."))
    cut_short = False
    shown = 0
    for number, (node, depth) in enumerate(walk(nodes)):  # no recursion over a deep chain
        c = node.comment
        indent = "    " * min(depth, 6) + ("↳ " if depth else "")
        if c.text:
            name, _, _ = fit(shown_name(c.author.name) or tr.gettext("anonymous"), [], 64)
            who = f"{name} ({platform_name(c.author.platform)})"
            text = unmention(" ".join(strip_control_chars(c.text).split()))
        else:
            who, text = "", tr.gettext("(deleted)")
        piece = _Piece()
        piece.write("\n\n" if number == 0 else "\n")
        piece.write(indent)
        if who:
            piece.write(who, MessageEntity.BOLD)
            piece.write(": ")
        short, _, _ = fit(text, [], per_comment)
        piece.write(short)
        if out.units + piece.units > budget or len(out.spans) + 2 > ENTITY_LIMIT - 1:
            cut_short = True
            break
        out.extend(piece.text, piece.spans)
        shown += 1
    if cut_short and out.units + 2 <= budget:
        out.write("\n…")
    if link_url:
        out.write("\n\n")
        out.write(read_on_web, MessageEntity.TEXT_LINK, url=link_url)
    return Rendered(out.text, tuple(s.entity() for s in out.spans), cut_short, shown)
