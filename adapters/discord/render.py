"""Pure rendering of articles, comments and lists into Discord messages and embeds.

Discord renders Markdown natively, so article text (written by newsbot admins) keeps its
Markdown. Readers' comments and every name are shown as literal text (``escape_text``): a
comment cannot make a masked link, a heading, a block quote or a bold line that passes for the
author line of another comment. What must never get through is a mention: every text here
passes ``neutralise_mentions`` (a zero-width space after the ``@``), and every send also carries
``AllowedMentions.none()``. Lengths are Discord's, in code points: content 2000; embed title
256, description 4096, footer 2048, author 256, and 6000 across all embeds of a message.
"""

from __future__ import annotations

import re

import discord

from adapters.i18n import closed_line
from adapters.templates import Templated
from newsbot.i18n import ENGLISH, N_, Translator
from newsbot.models import Article, ArticlePage, Comment, CommentNode, Platform, ThreadPage
from newsbot.notifications import NoticeJob, notice_words, shown
from newsbot.text import cut_chars, one_line
from newsbot.threads import walk

CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBEDS_TOTAL_MAX = 6000
THREAD_NAME_MAX = 100
OPENING_MAX = 1500
"""How much of a body without a summary the post shows; the title links to the full text."""
QUOTE_MAX = 120
LIST_COMMENT_MAX = 300
NAME_MAX = 64  # of a name in a list of comments

_ZWSP = "\u200b"
# Discord parses @everyone, @here, <@id>, <@!id> and <@&id>; a zero-width space after the @
# turns each into plain text. Case-insensitive and any digit count, to be safe rather than exact.
_MENTION = re.compile(r"@(?=everyone|here|[!&]?\d)", re.IGNORECASE)
_FENCE = "```"
# Links stay as they are (escaping inside one would change where it points); Discord shows a
# bare link as itself, never masked. The same shape discord.utils.escape_markdown keeps.
_URL = re.compile(r"(?:https?|steam)://[^\s<]+[^<.,:;\"'\]\s]")
# Characters with an inline meaning anywhere: emphasis, code, spoilers, strike, masked links,
# and < which starts a mention, channel, emoji, timestamp or command pill.
_INLINE = re.compile(r"([\\*_~|`\[\]<>])")
# What a line may start with to become a heading (#), subtext (-#), a list (-, *, +, 1.) or a
# block quote (>): escape its first character (or the dot of a number).
_LINE_START = re.compile(r"^(\s*)(?:([#>+-])|([0-9]+)([.)]))", re.MULTILINE)

PLATFORM_LABELS = {
    Platform.TELEGRAM: "Telegram",
    Platform.DISCORD: "Discord",
    Platform.WEB: "Web",
    Platform.CLI: "newsbot",
}
PREVIOUS = N_("◀ Previous")
NEXT = N_("Next ▶")
"""The labels of the buttons that page through a list (translated where shown)."""


def neutralise_mentions(text: str) -> str:
    """Make every user, role, @everyone and @here mention in ``text`` inert plain text."""
    return _MENTION.sub("@" + _ZWSP, text)


def escape_text(text: str) -> str:
    """Text a reader wrote, shown by Discord exactly as written: every Markdown character
    escaped outside links, line starts that would make a heading, list or quote escaped, and
    mentions neutralised."""
    parts: list[str] = []
    position = 0
    for link in _URL.finditer(text):
        parts.append(_escape_plain(text[position : link.start()]))
        parts.append(link.group())
        position = link.end()
    parts.append(_escape_plain(text[position:]))
    return _LINE_START.sub(_escape_line_start, neutralise_mentions("".join(parts)))


def _escape_plain(text: str) -> str:
    return _INLINE.sub(r"\\\1", text)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, marker, number, dot = match.groups()
    if marker is not None:
        return f"{indent}\\{marker}"
    return f"{indent}{number}\\{dot}"


def escape_name(name: str) -> str:
    """A display name as literal text: one line, Markdown escaped, mentions neutralised."""
    return escape_text(one_line(name))


def _safe(text: str, limit: int) -> str:
    """Neutralise mentions, then cut to ``limit`` (cutting only drops a tail, so it cannot
    rebuild a mention)."""
    return cut_chars(neutralise_mentions(text), limit)


def _markdown_opening(text: str, limit: int) -> str:
    """The first ``limit`` characters of Markdown, with a code fence the cut left open closed."""
    text = neutralise_mentions(text.strip())
    if len(text) <= limit:
        return text
    head = cut_chars(text, limit - len(_FENCE) - 1)
    if head.count(_FENCE) % 2:
        head += "\n" + _FENCE
    return head


def thread_name(article: Article) -> str:
    """The name of the thread started on an article's post (1 to 100 characters)."""
    name = cut_chars(one_line(article.title), THREAD_NAME_MAX)
    return name or f"Article {article.id}"


def article_embed(
    article: Article,
    *,
    url: str,
    comment_count: int,
    reaction_count: int = 0,
    tr: Translator = ENGLISH,
    comments_closed: bool = False,
) -> discord.Embed:
    """The one embed that carries an article.

    Args:
        article: the article.
        url: the article's web page, linked from the title.
        comment_count: visible comments, shown in the footer.
        reaction_count: reactions on the article and its comments, shown beside them.
        comments_closed: the story is closed to comments: the footer's last line says so.
    """
    title = _safe(one_line(article.title), TITLE_MAX) or f"Article {article.id}"
    if article.summary.strip():
        description = _markdown_opening(article.summary, min(OPENING_MAX, DESCRIPTION_MAX))
    else:
        description = _markdown_opening(article.body, OPENING_MAX)
    embed = discord.Embed(
        title=title,
        url=url or None,
        description=description or None,
        colour=discord.Colour.blurple(),
        timestamp=article.published_at,
    )
    if article.image_url:
        embed.set_image(url=article.image_url)
    author = _safe(one_line(article.author.name), AUTHOR_MAX)
    if author:
        embed.set_author(name=author)
    footer = count_footer(comment_count, reaction_count, tr)
    if article.tags:
        footer += " · " + " ".join(f"#{tag}" for tag in article.tags)
    if comments_closed:
        footer += "\n" + closed_line(tr)
    embed.set_footer(text=_safe(footer, FOOTER_MAX))
    return fit_embed(embed)


def count_footer(comment_count: int, reaction_count: int = 0, tr: Translator = ENGLISH) -> str:
    """The footer's counts: comments, and reactions when there are any, in ``tr``'s language."""
    counted = tr.ngettext("%(count)s comment", "%(count)s comments", comment_count)
    footer = "💬 " + counted % {"count": comment_count}
    if reaction_count > 0:
        reacted = tr.ngettext("%(count)s reaction", "%(count)s reactions", reaction_count)
        footer += " · " + reacted % {"count": reaction_count}
    return footer


def templated_embed(
    out: Templated,
    article: Article,
    *,
    url: str,
    comment_count: int,
    reaction_count: int = 0,
    tr: Translator = ENGLISH,
    comments_closed: bool = False,
) -> discord.Embed:
    """An article's embed made from a chat's own template (``adapters.templates``): its
    headline as the title and its text as literal text (Markdown escaped, mentions
    neutralised), the image kept; the footer counts comments as the built-in one does (and
    says when the story is closed)."""
    title = _safe(one_line(escape_name(out.headline)), TITLE_MAX) or f"Article {article.id}"
    embed = discord.Embed(
        title=title,
        url=url or None,
        description=cut_chars(escape_text(out.text), DESCRIPTION_MAX) or None,
        colour=discord.Colour.blurple(),
        timestamp=article.published_at,
    )
    if article.image_url:
        embed.set_image(url=article.image_url)
    footer = count_footer(comment_count, reaction_count, tr)
    if comments_closed:
        footer += "\n" + closed_line(tr)
    embed.set_footer(text=_safe(footer, FOOTER_MAX))
    return fit_embed(embed)


def fit_embed(embed: discord.Embed, total: int = EMBEDS_TOTAL_MAX) -> discord.Embed:
    """Shorten the description (then the author, then the footer) until ``len(embed)`` fits."""
    excess = len(embed) - total
    if excess > 0 and embed.description:
        keep = max(len(embed.description) - excess, 0)
        embed.description = cut_chars(embed.description, keep) or None
        excess = len(embed) - total
    if excess > 0 and embed.author.name:
        embed.remove_author()
        excess = len(embed) - total
    if excess > 0 and embed.footer.text:
        embed.remove_footer()
    return embed


def platform_label(platform: Platform) -> str:
    """How a platform is named next to an author: Telegram, Discord, Web."""
    return PLATFORM_LABELS.get(platform, str(platform).capitalize())


def comment_content(
    comment: Comment, *, quote: Comment | None = None, tr: Translator = ENGLISH
) -> str:
    """The content of a mirrored comment: ``**Name** (Telegram): text``, at most 2000 chars.

    Args:
        comment: the comment to mirror.
        quote: the parent comment, quoted on a first line when a native reply is impossible.
    """
    anonymous = tr.gettext(N_("anonymous"))
    head = f"**{escape_name(comment.author.name) or anonymous}** "
    head += f"({platform_label(comment.author.platform)}): "
    prefix = ""
    if quote is not None and quote.text:
        snippet = escape_text(cut_chars(one_line(quote.text), QUOTE_MAX))
        prefix = f"> ↪ **{escape_name(quote.author.name) or anonymous}**: {snippet}\n"
    # Escaping may lengthen the text, so the whole is cut after it: a cut drops a tail only,
    # so at worst an escape loses the character after it, never the other way round.
    text = escape_text(cut_chars(comment.text.strip(), CONTENT_MAX))
    return _safe(prefix + head + text, CONTENT_MAX)


def _comment_line(node: CommentNode, depth: int, tr: Translator = ENGLISH) -> str:
    comment = node.comment
    indent = "\u2003" * depth + ("↳ " if depth else "")
    if not comment.text:
        deleted = tr.gettext(N_("[deleted]"))
        return f"{indent}*{deleted}*"
    text = escape_text(cut_chars(one_line(comment.text), LIST_COMMENT_MAX))
    name = escape_name(cut_chars(one_line(comment.author.name), NAME_MAX))
    name = name or tr.gettext(N_("anonymous"))
    return f"{indent}**{name}** ({platform_label(comment.author.platform)}): {text}"


def thread_lines(page: ThreadPage, tr: Translator = ENGLISH) -> tuple[list[str], bool]:
    """The lines of a ``/comments`` page that fit one embed, and whether any was left out."""
    lines: list[str] = []
    length = 0
    for node, depth in walk(page.comments):  # no recursion over a deep chain
        line = _comment_line(node, min(depth, 4), tr)
        if length + len(line) > DESCRIPTION_MAX:
            return lines, True
        lines.append(line)
        length += len(line) + 1
    return lines, False


def thread_embed(
    article: Article,
    page: ThreadPage,
    *,
    url: str,
    page_number: int,
    tr: Translator = ENGLISH,
) -> discord.Embed:
    """One page of an article's comment thread, for ``/comments``."""
    lines, _ = thread_lines(page, tr)
    body = "\n".join(lines) if lines else "*" + tr.gettext("No comments yet.") + "*"
    title = tr.gettext("Comments: %(title)s") % {"title": one_line(article.title)}
    embed = discord.Embed(
        title=_safe(title, TITLE_MAX),
        url=url or None,
        description=_safe(body, DESCRIPTION_MAX),
        colour=discord.Colour.blurple(),
    )
    counted = tr.ngettext("%(count)s comment", "%(count)s comments", page.total)
    page_label = tr.gettext("Page %(number)s") % {"number": page_number}
    embed.set_footer(text=f"{page_label} · {counted % {'count': page.total}}")
    return fit_embed(embed)


def latest_embed(
    page: ArticlePage, url_of: dict[int, str], tr: Translator = ENGLISH
) -> discord.Embed:
    """The latest articles as a list of linked titles, for ``/latest``."""
    lines = []
    for article in page.articles:
        title = discord.utils.escape_markdown(cut_chars(one_line(article.title), 200))
        title = title.replace("]", "\\]")
        when = article.published_at.strftime("%Y-%m-%d") if article.published_at else ""
        lines.append(f"`#{article.id}` [{title}]({url_of.get(article.id, '')}) {when}".rstrip())
    embed = discord.Embed(
        title=tr.gettext("Latest articles"),
        description=_safe(
            "\n".join(lines) or "*" + tr.gettext("Nothing has been published yet.") + "*",
            DESCRIPTION_MAX,
        ),
        colour=discord.Colour.blurple(),
    )
    return fit_embed(embed)


def notice_content(job: NoticeJob, limit: int = 2000, tr: Translator = ENGLISH) -> str:
    """A reply notification as a DM: the title and each reply escaped as literal text, and a
    link to the comment on the web (send it with mentions off and embeds suppressed)."""
    replies, more = shown(job)
    words = notice_words(job, more, tr)
    lines = [f"**{words.heading}**"]
    for notice in replies:
        lines.append("")
        lines.append(f"**{escape_name(notice.title) or words.untitled}**")
        lines.append(
            f"{escape_name(notice.author) or words.someone}: {escape_text(one_line(notice.text))}"
        )
        if notice.url.startswith(("https://", "http://")):
            lines.append(f"<{notice.url}>")
    if more:
        lines.append(f"\n{words.more}")
    return _safe("\n".join(lines), limit)
