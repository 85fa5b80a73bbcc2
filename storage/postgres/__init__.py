"""The ``Store`` on PostgreSQL through asyncpg, for several workers on one database."""

from storage.postgres.store import PostgresStore, migrations

__all__ = ["PostgresStore", "migrations"]
