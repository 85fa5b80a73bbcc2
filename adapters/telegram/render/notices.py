"""A reply notification as a Telegram private message: the article's title, each reply's
author and text, and a link to the comment on the web, all as entities (no parse mode: text
from readers cannot become markup)."""

from __future__ import annotations

from telegram import MessageEntity

from adapters.telegram.render.entities import TEXT_LIMIT, Rendered, _Piece, _safe_url, fit
from newsbot.i18n import ENGLISH, Translator
from newsbot.notifications import NoticeJob, notice_words, shown
from newsbot.text import strip_control_chars


def render_notice(job: NoticeJob, limit: int = TEXT_LIMIT, tr: Translator = ENGLISH) -> Rendered:
    """One message for a coalesced notice: the latest replies, and how many more."""
    replies, more = shown(job)
    words = notice_words(job, more, tr)
    out = _Piece()
    out.write(words.heading)
    for notice in replies:
        out.write("\n\n")
        out.write(_clean(notice.title) or words.untitled, MessageEntity.BOLD)
        out.write("\n")
        out.write(_clean(notice.author) or words.someone, MessageEntity.CODE)
        out.write(": " + _clean(notice.text))
        url = _safe_url(notice.url)
        if url is not None:
            out.write("\n")
            out.write(words.open_comment, MessageEntity.TEXT_LINK, url=url)
    if more:
        out.write(f"\n\n{words.more}")
    body, spans, cut = fit(out.text, out.spans, limit)
    return Rendered(body, tuple(span.entity() for span in spans), cut)


def _clean(text: str) -> str:
    return " ".join(strip_control_chars(text).split())
