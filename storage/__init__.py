"""Persistence for newsbot: ``SqliteStore`` implements the core's ``Store`` port."""

from storage.sqlite import SqliteStore

__all__ = ["SqliteStore"]
