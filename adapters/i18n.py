"""The catalogs loaded, and dates and times in a reader's language and time zone (Babel).

The ``.po`` files are read at startup with Babel and turned into translations in memory:
nothing is compiled beforehand, so a checkout, a wheel and a test run see the same catalogs,
and no ``.mo`` file can lag behind its ``.po`` (Babel is a runtime dependency anyway, for
plural rules' data and dates).
"""

from __future__ import annotations

import functools
import gettext
import io
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from newsbot.ages import Age
from newsbot.errors import StorageError
from newsbot.i18n import (
    DOMAIN,
    LOCALE_DIR,
    N_,
    SOURCE_LANGUAGE,
    Translator,
    normalise_language,
)

UTC = ZoneInfo("UTC")
JUST_NOW = N_("just now")  # an age under a minute


@functools.cache
def translations(language: str) -> Translator:
    """The translator for ``language`` (a shipped one; English keeps the source text)."""
    language = normalise_language(language)
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog)  # fuzzy entries are left out: they fall back to English
    mo.seek(0)
    return Translations(mo, domain=DOMAIN)


def closed_line(tr: Translator) -> str:
    """The line a story closed to comments shows on its posts (Telegram and Discord)."""
    return "🔒 " + tr.gettext("Comments are closed")


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` ("Europe/Kyiv"), or ``ValueError`` naming the problem."""
    try:
        return ZoneInfo(name.strip())
    except (ValueError, OSError, KeyError) as error:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {name!r} (an IANA name, e.g. Europe/Kyiv)") from error


@dataclass(frozen=True, slots=True)
class Speech:
    """How one audience is spoken to: its language's words, and its dates in its time zone."""

    language: str = SOURCE_LANGUAGE
    zone: ZoneInfo = UTC

    @classmethod
    def of(cls, language: str = SOURCE_LANGUAGE, zone: str = "UTC") -> Speech:
        """The speech for a language code and a time zone's name (both checked)."""
        return cls(normalise_language(language), time_zone(zone))

    @property
    def tr(self) -> Translator:
        """The language's translator."""
        return translations(self.language)

    def gettext(self, message: str) -> str:
        """``message`` in this language."""
        return self.tr.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The sentence's form for ``n`` in this language."""
        return self.tr.ngettext(singular, plural, n)

    @property
    def locale(self) -> Locale:
        """Babel's locale for this language (month names, date order)."""
        return Locale.parse(self.language)

    def when(self, at: datetime) -> str:
        """A full date and time in the audience's zone, e.g. "2 Jan 2026, 05:04 EET"."""
        return format_datetime(at, "d MMM y, HH:mm zzz", tzinfo=self.zone, locale=self.locale)

    def age(self, age: Age) -> str:
        """An ``newsbot.ages.Age`` in words: "5 minutes ago" ("vor 5 Minuten"), or "just now"."""
        if age.count == 0:
            return self.gettext(JUST_NOW)
        return format_timedelta(
            -age.span, add_direction=True, threshold=1.0, locale=self.locale, format="long"
        )

    def ago(self, at: datetime, now: datetime) -> str:
        """How long ago ``at`` was, e.g. "3 hours ago" ("vor 3 Stunden", "3 години тому")."""
        return format_timedelta(
            at - now, add_direction=True, threshold=1.0, locale=self.locale, format="long"
        )


def speech_for(language_code: str | None, default: Speech | None = None) -> Speech:
    """The speech for a client's language code ("uk", "en-US", "pt-BR"), or ``default`` (English
    in UTC) when newsbot has no catalog for it."""
    default = default or Speech()
    try:
        return Speech(normalise_language(language_code or ""), default.zone)
    except ValueError:
        return default


def accepted_speech(header: str | None, default: Speech) -> Speech:
    """The speech an HTTP client asks for in ``Accept-Language`` ("uk, de;q=0.8, *;q=0.1"): the
    shipped language it prefers most (by ``q``, then order), in ``default``'s zone; ``default``
    when it names none newsbot speaks (or sends no header)."""
    wanted: list[tuple[float, int, str]] = []
    for order, part in enumerate((header or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            wanted.append((-quality, order, tag))
    for _, _, tag in sorted(wanted):
        try:
            return Speech(normalise_language(tag), default.zone)
        except ValueError:
            continue
    return default


def checked_speech_setting(name: str, value: str) -> str:
    """``NEWSBOT_LANGUAGE`` (a shipped language) or ``NEWSBOT_TIMEZONE`` (an IANA zone), checked;
    ``ValueError`` says what is wrong."""
    if name == "language":
        return normalise_language(value)
    time_zone(value)
    return value.strip()


class ChatSpeech:
    """Each chat's speech: its own language when one is set (``bot.py language``), else the
    default's; the zone is the default's. A chat's setting is looked up again at most every
    ``ttl`` seconds (another worker may have changed it); a store that does not answer keeps
    what was known.

    Args:
        lookup: the chat's own language code, or ``None`` (``NewsService.chat_language``).
        default: ``NEWSBOT_LANGUAGE`` and ``NEWSBOT_TIMEZONE``.
        ttl: seconds a looked-up language is used before it is looked up again.
    """

    def __init__(
        self,
        lookup: Callable[[str], Awaitable[str | None]],
        default: Speech,
        ttl: float = 30.0,
    ) -> None:
        self.lookup = lookup
        self.default = default
        self.ttl = ttl
        self._known: dict[str, tuple[float, Speech | None]] = {}

    def forget(self, chat_id: str) -> None:
        """Look the chat up again next time (its language was just changed)."""
        self._known.pop(chat_id, None)

    def of(self, chat_id: str) -> Speech:
        """The chat's speech as last looked up (the default before that)."""
        return self.own_known(chat_id) or self.default

    def own_known(self, chat_id: str) -> Speech | None:
        """The chat's own language as last looked up; ``None`` when it has none (or it was
        not looked up yet)."""
        known = self._known.get(chat_id)
        return known[1] if known else None

    async def refresh(self, chat_id: str) -> Speech:
        """The chat's speech, looked up again when the last look-up is older than ``ttl``."""
        return await self.own(chat_id) or self.default

    async def own(self, chat_id: str) -> Speech | None:
        """The chat's own language (``bot.py language``), looked up again when the last
        look-up is older than ``ttl``; ``None`` when it has none."""
        known = self._known.get(chat_id)
        if known and time.monotonic() - known[0] < self.ttl:
            return known[1]
        try:
            code = await self.lookup(chat_id)
        except StorageError:
            return self.own_known(chat_id)
        speech = None
        if code:
            try:
                speech = Speech(normalise_language(code), self.default.zone)
            except ValueError:  # a catalog removed since it was set
                speech = None
        if len(self._known) > 100_000:
            self._known.clear()
        self._known[chat_id] = (time.monotonic(), speech)
        return speech
