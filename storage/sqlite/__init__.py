"""The ``Store`` on SQLite through aiosqlite: WAL, foreign keys, IMMEDIATE write transactions.

``store`` holds ``SqliteStore`` with the comments' group commit, ``outbox`` the claims,
``state`` coordination and feeds, ``connection`` the two connections and the helpers the
units of work share, ``ingest`` the writer process and ``migrations/`` the schema.
"""

from storage.sqlite.connection import SqliteConnections
from storage.sqlite.store import SqliteStore

migrations = SqliteConnections.migrations

__all__ = ["SqliteStore", "migrations"]
