"""Which words a reader, a chat member or an admin is shown: the translator port and markers.

newsbot is written in English; every string a person sees is wrapped where it is written:

- ``tr.gettext("...")`` (or ``_`` in a template) for a sentence, ``tr.ngettext(one, many, n)``
  for one that names a count (languages have one to six plural forms: Ukrainian has three);
- ``N_("...")`` marks a constant that is translated later, where its reader's language is
  known (a module-level answer, a command description);
- a ``Message`` is such a sentence with its values (``%(name)s`` placeholders) and, for one
  that counts, its plural (``Message.ngettext``): the core raises refusals carrying one
  (``DomainError.message``) and each adapter renders it in its reader's language.

A ``Translator`` is anything with the two methods of ``gettext.NullTranslations`` (the
standard library's, which keeps the English as it is). The catalogs are GNU gettext ``.po``
files in ``newsbot/locale/<language>/LC_MESSAGES/newsbot.po``, shipped with the code; an
adapter loads them (``adapters.i18n``) and hands the translator in, so that the core needs
nothing but the standard library. The settings ``NEWSBOT_LANGUAGE`` and ``NEWSBOT_TIMEZONE``
pick the site's and the posts' language and time zone; a chat may have a language of its own.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

DOMAIN: Final = "newsbot"
"""The gettext domain: the catalogs' file name."""

SOURCE_LANGUAGE: Final = "en"
"""The language the strings are written in (no catalog: the text is its own translation)."""

LOCALE_DIR: Final = Path(__file__).parent / "locale"
"""Where the catalogs are: ``<language>/LC_MESSAGES/newsbot.po``."""


class Translator(Protocol):
    """The two calls that translate (``gettext.NullTranslations`` has them)."""

    def gettext(self, message: str, /) -> str:
        """``message`` in the translator's language (itself when it has no translation)."""
        ...

    def ngettext(self, singular: str, plural: str, n: int, /) -> str:
        """The form of a sentence that names ``n`` things, in the translator's language."""
        ...


ENGLISH: Final[Translator] = gettext.NullTranslations()
"""The source language's translator: every string as it is written."""


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated later, where it is shown."""
    return message


@dataclass(frozen=True, slots=True)
class Message:
    """A sentence shown later, in a language not known yet: its English, its values.

    Attributes:
        text: the English (the catalogs' message id), with ``%(name)s`` placeholders.
        plural: the English plural for a sentence that counts (``None``: it does not).
        count: the number that picks the plural form.
        values: what fills the placeholders (none: the text is shown as it is, ``%`` and all);
            a value that is a ``Message`` itself (a word such as "moved") is translated too.
    """

    text: str
    plural: str | None = None
    count: int = 0
    values: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def ngettext(cls, singular: str, plural: str, n: int, /, **values: object) -> Message:
        """A sentence that counts ``n`` (``%(count)s``); the name lets ``pybabel`` extract both
        forms, as it does for ``tr.ngettext``."""
        return cls(singular, plural, n, {"count": n, **values})

    def render(self, tr: Translator = ENGLISH) -> str:
        """The sentence in ``tr``'s language with its values (English when a translation is
        broken: a placeholder it names is not given)."""
        for translator in (tr, ENGLISH):
            if self.plural is None:
                text = translator.gettext(self.text)
            else:
                text = translator.ngettext(self.text, self.plural, self.count)
            if not self.values:
                return text
            values = {
                name: value.render(translator) if isinstance(value, Message) else value
                for name, value in self.values.items()
            }
            try:
                return text % values
            except (KeyError, ValueError, TypeError):
                continue
        return self.text

    def __str__(self) -> str:
        return self.render()


def languages() -> tuple[str, ...]:
    """The languages newsbot speaks: English and each one with a catalog, sorted."""
    shipped = {path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return (SOURCE_LANGUAGE, *sorted(shipped - {SOURCE_LANGUAGE}))


def normalise_language(code: str) -> str:
    """``code`` as the catalogs name it ("uk", "pt_BR"), or ``ValueError`` if none is shipped.

    Telegram's ``language_code`` ("uk", "en-US") and a setting ("DE") are both accepted: the
    region is dropped when only the language is shipped.
    """
    text = code.strip().replace("-", "_")
    lang, _, region = text.partition("_")
    candidates = [f"{lang.lower()}_{region.upper()}" if region else "", lang.lower()]
    shipped = languages()
    for candidate in candidates:
        if candidate and candidate in shipped:
            return candidate
    raise ValueError(str(no_catalog(code)))


def no_catalog(code: str) -> Message:
    """The refusal of a language newsbot has no catalog for (``normalise_language``'s)."""
    shipped = ", ".join(languages())
    text = N_("no catalog for language %(code)s; shipped: %(shipped)s")
    return Message(text, values={"code": repr(code), "shipped": shipped})


CHAT_LANGUAGE_PREFIX: Final = "language:"
"""The shared state's keys of chats' own languages: ``language:PLATFORM:CHAT_ID``."""


def chat_language_key(platform: str, chat_id: str) -> str:
    """The shared state key holding a chat's own language ("" or absent: the default)."""
    return f"{CHAT_LANGUAGE_PREFIX}{platform}:{chat_id}"
