"""Slash command descriptions in each language newsbot speaks (``description_localizations``).

discord.py asks a ``Translator`` for every ``locale_str`` of the tree when it syncs; the
descriptions are marked with ``N_`` where the commands are declared, and this one looks them
up in the catalogs. Command and option names stay English (what the docs and the answers
name); a member whose Discord speaks German or Ukrainian sees the descriptions in it.
"""

from __future__ import annotations

import hashlib

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation, TranslationContextTypes, locale_str

from adapters.i18n import translations
from newsbot.i18n import DOMAIN, LOCALE_DIR, SOURCE_LANGUAGE, normalise_language

DESCRIPTION_MAX = 100  # Discord's limit for a command's or an option's description

_DESCRIBED = frozenset(
    {
        TranslationContextLocation.command_description,
        TranslationContextLocation.group_description,
        TranslationContextLocation.parameter_description,
    }
)


class CatalogTranslator(app_commands.Translator):
    """Descriptions from ``newsbot/locale``; ``None`` (Discord shows the English) elsewhere."""

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: TranslationContextTypes
    ) -> str | None:
        if context.location not in _DESCRIBED:
            return None
        try:
            language = normalise_language(str(locale.value))
        except ValueError:
            return None
        if language == SOURCE_LANGUAGE:
            return None
        text = translations(language).gettext(string.message)
        if text == string.message or not 1 <= len(text) <= DESCRIPTION_MAX:
            return None
        return text


def catalogs_fingerprint() -> str:
    """A hash of the catalogs, so that a changed translation syncs the commands again."""
    digest = hashlib.sha256()
    for path in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        digest.update(path.parent.parent.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
