"""The web adapter: article pages with their comment thread, Atom feeds and a JSON API.

``WebAdapter`` is what ``bot.py`` runs; ``create_app`` builds the same aiohttp application
for tests or for embedding in another server. See ``docs/web.md`` for routes and protections.
"""

from adapters.web.adapter import WebAdapter
from adapters.web.app import create_app

__all__ = ["WebAdapter", "create_app"]
