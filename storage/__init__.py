"""Persistence for newsbot: ``SqliteStore`` and ``PostgresStore`` implement the core's ``Store``.

``open_store(database)`` picks one by the setting's form: a ``postgresql://`` (or
``postgres://``) URL is a PostgreSQL database, anything else the path of an SQLite file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsbot.errors import ConfigError
from storage.sqlite import SqliteStore

if TYPE_CHECKING:
    from storage.postgres import PostgresStore

__all__ = ["SqliteStore", "describe_database", "is_postgres", "open_store"]

_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(database: str) -> bool:
    """Whether ``database`` names a PostgreSQL database rather than an SQLite file."""
    return database.strip().lower().startswith(_SCHEMES)


def open_store(database: str, *, synchronous: str = "FULL") -> SqliteStore | PostgresStore:
    """The store for a ``NEWSBOT_DATABASE`` value, not yet opened (``await store.open()``, or
    ``async with``).

    ``synchronous`` is SQLite's durability setting; on PostgreSQL, ``NORMAL`` turns
    ``synchronous_commit`` off (a server crash may lose the last commits, newsbot's may not).

    Raises:
        ConfigError: a PostgreSQL URL was given but the ``postgres`` extra is not installed.
    """
    if is_postgres(database):
        try:
            from storage.postgres import PostgresStore
        except ImportError as exc:
            raise ConfigError(
                "NEWSBOT_DATABASE is a PostgreSQL URL but asyncpg is missing: "
                "pip install 'newsbot[postgres]'"
            ) from exc
        return PostgresStore(database.strip(), synchronous=synchronous)
    return SqliteStore(database, synchronous=synchronous)


def describe_database(database: str) -> str:
    """``database`` as it may appear in logs and messages: a URL loses its password."""
    if not is_postgres(database):
        return database
    from urllib.parse import urlsplit

    parts = urlsplit(database.strip())
    if parts.password is None:
        return database.strip()
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()
