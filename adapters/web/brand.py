"""The newsroom's own site: its name, masthead, colours and footer, and a theme folder.

``Brand`` is what the templates see as ``brand``. A theme folder (``NEWSBOT_WEB_THEME_DIR``)
holds ``templates/`` and ``static/`` overrides: a template there replaces the built-in one of
the same name (a Jinja2 ``ChoiceLoader``), a file in ``static/`` is served instead of the
built-in one, and ``static/theme.css``, when present, is linked after the built-in style.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsbot.errors import ConfigError

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_LINK_SCHEMES = ("http://", "https://", "mailto:", "/")
# WCAG AA for normal text: links and the button's label are drawn in the accent on white.
MIN_CONTRAST = 4.5


@dataclass(frozen=True, slots=True)
class Brand:
    """How the site presents itself. Every field is plain text, escaped where it is shown.

    Attributes:
        name: the site's name, in the masthead, titles and link cards.
        description: a line about the site, on the front page and in its meta tags.
        logo_url: an image shown before the name (an address, or a path under ``/static/``).
        accent: a ``#rrggbb`` colour for links and buttons in the light scheme.
        footer: a line of footer text (a copyright, an imprint).
        footer_links: ``(label, address)`` pairs shown in the footer.
        theme_dir: the folder of template and static overrides, if any.
    """

    name: str = "News"
    description: str = ""
    logo_url: str = ""
    accent: str = ""
    footer: str = ""
    footer_links: tuple[tuple[str, str], ...] = ()
    theme_dir: Path | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ConfigError("NEWSBOT_SITE_NAME must not be empty")
        if self.accent:
            if not _COLOUR.match(self.accent):
                raise ConfigError("NEWSBOT_SITE_ACCENT must be a colour like #0b57d0")
            ratio = contrast(self.accent, "#ffffff")
            if ratio < MIN_CONTRAST:
                raise ConfigError(
                    f"NEWSBOT_SITE_ACCENT {self.accent} has a contrast of {ratio:.2f}:1 "
                    f"with white; links and buttons need at least {MIN_CONTRAST}:1 "
                    "(choose a darker colour)"
                )
        if self.theme_dir is not None and not self.theme_dir.is_dir():
            raise ConfigError(f"NEWSBOT_WEB_THEME_DIR: {self.theme_dir} is not a folder")

    @classmethod
    def from_settings(cls, settings: Any) -> Brand:
        """The brand from the ``site_*`` and ``web_theme_dir`` settings (``adapters.settings``).

        Raises:
            ConfigError: a value is malformed (an accent with too little contrast, a footer
                link that is not ``Label=address``, a theme folder that does not exist).
        """
        theme = str(settings.web_theme_dir).strip()
        return cls(
            name=settings.site_name.strip(),
            description=settings.site_description.strip(),
            logo_url=settings.site_logo.strip(),
            accent=settings.site_accent.strip(),
            footer=settings.site_footer.strip(),
            footer_links=parse_links(settings.site_footer_links),
            theme_dir=Path(theme) if theme else None,
        )


def parse_links(text: str) -> tuple[tuple[str, str], ...]:
    """``"About=https://x/about, Contact=mailto:desk@x"`` as ``(label, address)`` pairs.

    Raises:
        ConfigError: a part is not ``Label=address`` or its address is not http(s), mailto
            or a path on this site.
    """
    links = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        label, _, address = (s.strip() for s in part.partition("="))
        if not label or not address.startswith(_LINK_SCHEMES) or address.startswith("//"):
            raise ConfigError(
                f"NEWSBOT_SITE_FOOTER_LINKS: {part[:60]!r} is not Label=address "
                "(http://, https://, mailto: or /path), e.g. About=https://example.org/about"
            )
        links.append((label, address))
    return tuple(links)


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
