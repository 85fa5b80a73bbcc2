"""What an article draft may hold: the limits and the cleaning every way in applies.

A draft comes from a chat command, the web's admin form, the command line or a feed item;
each goes through ``clean_draft`` before it is stored (``NewsService.publish`` and ``edit``),
and the feed use cases cut what they make to the same limits beforehand. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import urlsplit

from newsbot.errors import InvalidInput
from newsbot.i18n import N_, Message
from newsbot.models import ArticleDraft
from newsbot.text import has_control_chars, valid_unicode

TITLE_MAX = 256
SUMMARY_MAX = 1024
BODY_MAX = 100_000
URL_MAX = 2048
TAG_MAX = 32
TAGS_MAX = 10
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def clean_tags(tags: Collection[str]) -> tuple[str, ...]:
    """Lower-case, de-duplicate and validate tags.

    Raises:
        InvalidInput: a tag is malformed or there are too many.
    """
    seen: list[str] = []
    for raw in tags:
        tag = raw.strip().lower().lstrip("#")
        if not tag:
            continue
        if len(tag) > TAG_MAX or not _TAG.match(tag):
            raise InvalidInput(
                Message.ngettext(
                    "Tags are letters, digits, '-' and '_', at most %(count)s character.",
                    "Tags are letters, digits, '-' and '_', at most %(count)s characters.",
                    TAG_MAX,
                ),
                field="tags",
            )
        if tag not in seen:
            seen.append(tag)
    if len(seen) > TAGS_MAX:
        raise InvalidInput(
            Message.ngettext("At most %(count)s tag.", "At most %(count)s tags.", TAGS_MAX),
            field="tags",
        )
    return tuple(seen)


def clean_url(value: str | None, field: str) -> str | None:
    """An article's link or image address, stripped; ``None`` when empty.

    Raises:
        InvalidInput: not an http or https address of at most ``URL_MAX`` characters on one
            line, naming ``field``.
    """
    if value is None or not value.strip():
        return None
    url = value.strip()
    parts = urlsplit(url)
    if (
        len(url) > URL_MAX
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or has_control_chars(url, allow_newlines=False)
        or any(ch.isspace() for ch in url)
    ):
        raise InvalidInput(
            N_("The %(field_name)s must be an http or https address."),
            field=field,
            field_name=Message(field),
        )
    return url


def clean_draft(draft: ArticleDraft) -> ArticleDraft:
    """Validate and normalise an article draft.

    Raises:
        InvalidInput: naming the first offending field.
    """
    draft = ArticleDraft(
        title=valid_unicode(draft.title),
        body=valid_unicode(draft.body),
        summary=valid_unicode(draft.summary),
        url=draft.url,
        image_url=draft.image_url,
        tags=draft.tags,
    )
    title = draft.title.strip()
    if not title:
        raise InvalidInput(N_("The title is empty."), field="title")
    if has_control_chars(title, allow_newlines=False) or "\n" in title or "\r" in title:
        raise InvalidInput(
            N_("The title must be one line without control characters."), field="title"
        )
    if len(title) > TITLE_MAX:
        raise InvalidInput(
            Message.ngettext(
                "The title is longer than %(count)s character.",
                "The title is longer than %(count)s characters.",
                TITLE_MAX,
            ),
            field="title",
        )
    body = draft.body.replace("\r\n", "\n").strip()
    if not body:
        raise InvalidInput(N_("The body is empty."), field="body")
    if len(body) > BODY_MAX:
        raise InvalidInput(
            Message.ngettext(
                "The body is longer than %(count)s character.",
                "The body is longer than %(count)s characters.",
                BODY_MAX,
            ),
            field="body",
        )
    if has_control_chars(body, allow_newlines=True):
        raise InvalidInput(N_("The body contains NUL or other control characters."), field="body")
    summary = draft.summary.replace("\r\n", "\n").strip()
    if len(summary) > SUMMARY_MAX:
        raise InvalidInput(
            Message.ngettext(
                "The summary is longer than %(count)s character.",
                "The summary is longer than %(count)s characters.",
                SUMMARY_MAX,
            ),
            field="summary",
        )
    if has_control_chars(summary, allow_newlines=True):
        raise InvalidInput(N_("The summary contains control characters."), field="summary")
    return ArticleDraft(
        title=title,
        body=body,
        summary=summary,
        url=clean_url(draft.url, N_("url")),
        image_url=clean_url(draft.image_url, N_("image url")),
        tags=clean_tags(draft.tags),
    )
