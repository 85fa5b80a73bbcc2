"""A chat's own template on Telegram: the headline bold, the text below as plain text (never
a parse mode), would-be mentions broken, cut to the message's limit."""

from __future__ import annotations

from telegram import MessageEntity

from adapters.telegram.render.entities import TEXT_LIMIT, Rendered, _Piece, fit
from adapters.telegram.render.posts import unmention
from adapters.templates import Templated
from newsbot.text import one_line, utf16_len


def render_templated(out: Templated, limit: int = TEXT_LIMIT, footer: str = "") -> Rendered:
    """A templated post (``adapters.templates.render``) as text and entities, with newsbot's
    own ``footer`` line below it when there is one (a closed story's)."""
    piece = _Piece()
    piece.write(unmention(one_line(out.headline))[:512], MessageEntity.BOLD)
    if out.text:
        piece.write("\n\n")
        piece.write(unmention(out.text))
    tail = "\n\n" + footer if footer else ""
    text, spans, cut = fit(piece.text, piece.spans, limit - utf16_len(tail))
    text += tail
    return Rendered(text or "…", tuple(s.entity() for s in spans), cut)
