"""Pure rendering for Telegram: articles, mirrored comments and threads as plain text + entities.

Nothing here does I/O. Every message is built as plain text with a list of ``MessageEntity``
(offsets in UTF-16 code units), never with a parse mode, so no article text can be refused
with "can't parse entities". Markdown is parsed with markdown-it-py (raw HTML is never
interpreted: it stays visible as the characters the author typed).

Limits kept by every function that builds a message: text at most 4096 UTF-16 units, caption
at most 1024, at most 100 entities, entities inside the text, never splitting a surrogate
pair, and nested only in the ways the Bot API accepts.

The package is split by concern: ``entities`` (limits, spans, UTF-16 offsets, fitting and
the entity check), ``markdown``, ``posts`` (articles, comments, threads) and ``messages``
(lists, plain answers, incoming formatting). Import from the package.
"""

from __future__ import annotations

from adapters.telegram.render.entities import (
    ATOMIC,
    CAPTION_LIMIT,
    CODE,
    ELLIPSIS,
    ENTITY_LIMIT,
    LINKS,
    QUOTE_LIMIT,
    QUOTES,
    SOURCE_FACTOR,
    STYLE,
    TEXT_LIMIT,
    TITLE_LIMIT,
    URL_LIMIT,
    Rendered,
    Span,
    check_entities,
    fit,
)
from adapters.telegram.render.markdown import markdown
from adapters.telegram.render.messages import (
    entities_to_markdown,
    plain,
    render_list,
    split_article,
    split_command,
    tail,
    with_inert,
)
from adapters.telegram.render.posts import (
    PLATFORM_NAMES,
    WORD_JOINER,
    comment_count_line,
    platform_name,
    render_article,
    render_comment,
    render_post,
    render_thread,
    shown_name,
    unmention,
)

__all__ = [
    "ATOMIC",
    "CAPTION_LIMIT",
    "CODE",
    "ELLIPSIS",
    "ENTITY_LIMIT",
    "LINKS",
    "PLATFORM_NAMES",
    "QUOTES",
    "QUOTE_LIMIT",
    "SOURCE_FACTOR",
    "STYLE",
    "TEXT_LIMIT",
    "TITLE_LIMIT",
    "URL_LIMIT",
    "WORD_JOINER",
    "Rendered",
    "Span",
    "check_entities",
    "comment_count_line",
    "entities_to_markdown",
    "fit",
    "markdown",
    "plain",
    "platform_name",
    "render_article",
    "render_comment",
    "render_list",
    "render_post",
    "render_thread",
    "shown_name",
    "split_article",
    "split_command",
    "tail",
    "unmention",
    "with_inert",
]
