"""What the CLI needs of storage, handed in by the composition root: an adapter never
imports storage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from newsbot import NewsService


@dataclass(frozen=True, slots=True)
class Backend:
    """The database a command works on, and the tools around it.

    Attributes:
        open_service: opens the store of the configured database and yields the service on
            it (feeds included); closes both on the way out. Raises ``NewsBotError`` when
            the database cannot be opened.
        copy: copies an SQLite file into an empty PostgreSQL database, returning the rows
            copied per table, and telling the progress callback (when given) of each chunk
            of rows as ``(table, rows sent, rows in the table)``; raises ``NewsBotError``
            when it cannot.
        backup: copies an SQLite database (live, with SQLite's online backup) to a file,
            returning its size in bytes and telling the progress callback of each step as
            ``(pages copied, pages in all)``; raises ``NewsBotError`` when it cannot.
        is_postgres: whether a database setting names PostgreSQL rather than an SQLite file.
        describe: a database setting as it may be printed (a URL loses its password).
    """

    open_service: Callable[[], AbstractAsyncContextManager[NewsService]]
    copy: Callable[[str, str, Callable[[str, int, int], None] | None], Awaitable[dict[str, int]]]
    backup: Callable[[str, str, Callable[[int, int], None] | None], Awaitable[int]]
    is_postgres: Callable[[str], bool]
    describe: Callable[[str], str]
