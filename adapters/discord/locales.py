"""Slash command descriptions and message-menu names in each language newsbot speaks
(``description_localizations``, ``name_localizations``).

discord.py asks a ``Translator`` for every ``locale_str`` of the tree when it syncs; the
descriptions and the context menus' names are marked with ``N_`` where the commands are
declared, and this one looks them up in the catalogs. Slash command and option names stay
English (what the docs and the answers name); a member whose Discord speaks German or
Ukrainian sees the descriptions in it, and the "Apps" menu of a message (Report, Delete
comment, Ban author) in it. Interactions still carry a menu's English name.
"""

from __future__ import annotations

import hashlib

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation, TranslationContextTypes, locale_str

from adapters.i18n import translations
from newsbot.i18n import DOMAIN, LOCALE_DIR, SOURCE_LANGUAGE, normalise_language

DESCRIPTION_MAX = 100  # Discord's limit for a command's or an option's description
NAME_MAX = 32  # and for a command's name (a context menu's may have spaces and capitals)

_DESCRIBED = frozenset(
    {
        TranslationContextLocation.command_description,
        TranslationContextLocation.group_description,
        TranslationContextLocation.parameter_description,
    }
)


class CatalogTranslator(app_commands.Translator):
    """Descriptions and context-menu names from ``newsbot/locale``; ``None`` (Discord shows
    the English) elsewhere."""

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: TranslationContextTypes
    ) -> str | None:
        if context.location in _DESCRIBED:
            longest = DESCRIPTION_MAX
        elif _menu_name(context):
            longest = NAME_MAX
        else:
            return None
        try:
            language = normalise_language(str(locale.value))
        except ValueError:
            return None
        if language == SOURCE_LANGUAGE:
            return None
        text = translations(language).gettext(string.message)
        if text == string.message or not 1 <= len(text) <= longest:
            return None
        return text


def _menu_name(context: TranslationContextTypes) -> bool:
    """Whether discord.py asks for a context menu's name (slash command names stay English)."""
    return context.location is TranslationContextLocation.command_name and isinstance(
        context.data, app_commands.ContextMenu
    )


def catalogs_fingerprint() -> str:
    """A hash of the catalogs, so that a changed translation syncs the commands again."""
    digest = hashlib.sha256()
    for path in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        digest.update(path.parent.parent.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
