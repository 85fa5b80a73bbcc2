"""The people port: persons, their linked accounts, and one-time tokens.

``newsbot.identity`` decides who may link what; a backend only keeps the facts, each method
one atomic unit of work (``newsbot.ports.store``'s rules hold). An account belongs to at most
one person at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from newsbot.models import CommentId, Platform
from newsbot.people import Account, Person, PersonId


class PeopleStore(Protocol):
    """Persons and accounts, and short-lived one-time tokens (login nonces, link codes)."""

    async def get_person(self, person_id: PersonId) -> Person | None:
        """The person with this id, with their accounts, if any."""
        ...

    async def person_by_account(self, platform: Platform, account_id: str) -> Person | None:
        """The person an account is linked to, if any."""
        ...

    async def people_by_accounts(
        self, keys: Iterable[tuple[Platform, str]]
    ) -> dict[tuple[Platform, str], Person]:
        """The person each of ``keys`` is linked to (accounts of nobody left out), in one
        look-up for many."""
        ...

    async def link_account(self, account: Account, person_id: PersonId | None) -> Person:
        """Link ``account`` to ``person_id`` (a new person, created at ``account.linked_at``,
        when ``None``) unless it is linked already; return the person holding it now.

        An account linked already stays with its person (compare the returned id with the one
        asked for); its name and ``verified_by`` are refreshed. Linking to a person that does
        not exist creates a new one.
        """
        ...

    async def merge_people(self, into: PersonId, other: PersonId) -> Person | None:
        """Move every account of ``other`` to ``into`` and remove ``other``; ``into`` is
        banned if either was, and is notified only if both were. Returns ``into``, or
        ``None`` when it does not exist (then nothing changes)."""
        ...

    async def unlink_account(self, platform: Platform, account_id: str) -> bool:
        """Unlink an account from its person (the person stays). Returns whether it was
        linked."""
        ...

    async def list_people(self, limit: int, after: PersonId | None = None) -> list[Person]:
        """People by id, ``limit`` at most, those after ``after`` when given."""
        ...

    async def set_person_flags(
        self, person_id: PersonId, *, banned: bool | None = None, notify: bool | None = None
    ) -> bool:
        """Set a person's ``banned`` or ``notify`` flag (``None`` leaves it). Returns whether
        the person exists."""
        ...

    async def forget_person(self, person_id: PersonId) -> bool:
        """Remove a person and their accounts. Returns whether they existed."""
        ...

    async def rename_author(
        self, platform: Platform, user_id: str, name: str, new_user_id: str
    ) -> list[CommentId]:
        """Give every comment of one author (not deleted) another author name and user id
        (a person forgotten: "deleted user"). Returns their ids; their copies are not
        touched (``ThreadStore.edit_comment`` re-renders them)."""
        ...

    async def put_token(self, key: str, value: str, expires_at: datetime, now: datetime) -> bool:
        """Keep ``value`` under ``key`` until ``expires_at`` unless a token is kept under
        ``key`` already and has not expired. Returns whether it was kept: a second caller
        with the same key, in any worker, gets ``False`` (a login accepted once).
        Each call also deletes a bounded batch of expired tokens."""
        ...

    async def take_token(self, key: str, now: datetime) -> str | None:
        """Remove the token kept under ``key`` and return its value, if it has not expired:
        of several workers taking one token, one gets it."""
        ...
