"""The people port (``newsbot.ports.people``) on both SQL backends, written once like
``storage.units``: plain statements over ``_rows`` and ``_atomic``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import storage.rows as rows
from newsbot.models import CommentId, Platform
from newsbot.people import Account, Person, PersonId
from storage.notices import per_platform
from storage.units import CommonUnits, Tx

_JOINED = (
    "SELECT p.id, p.banned, p.notify, p.created_at, a.platform, a.account_id, a.name, "
    "a.verified_by, a.linked_at FROM people p LEFT JOIN person_accounts a ON a.person_id = p.id"
)
_ACCOUNT = "person_id, platform, account_id, name, verified_by, linked_at"
_TOKEN_PRUNE = 100  # expired tokens deleted per put_token at most


def _people(found: Iterable[Any]) -> list[Person]:
    """People from ``_JOINED`` rows (one per account, or one without for a person with
    none), in the order of their first row."""
    heads: dict[int, Any] = {}
    accounts: dict[int, list[Account]] = {}
    for r in found:
        heads.setdefault(int(r[0]), r)
        if r[4] is not None:
            accounts.setdefault(int(r[0]), []).append(
                Account(Platform(r[4]), r[5], r[6], r[7], rows.at(r[8]))
            )
    return [
        Person(
            PersonId(pid),
            tuple(sorted(accounts.get(pid, []), key=lambda a: a.linked_at)),
            bool(r[1]),
            bool(r[2]),
            rows.at(r[3]),
        )
        for pid, r in heads.items()
    ]


async def _person(tx: Tx, person_id: int) -> Person | None:
    people = _people(await tx.rows(f"{_JOINED} WHERE p.id = $1", person_id))
    return people[0] if people else None


class SqlPeople(CommonUnits):
    """``PeopleStore`` on a SQL backend's transaction primitive."""

    async def get_person(self, person_id: PersonId) -> Person | None:
        people = _people(await self._rows(f"{_JOINED} WHERE p.id = $1", person_id))
        return people[0] if people else None

    async def person_by_account(self, platform: Platform, account_id: str) -> Person | None:
        people = _people(
            await self._rows(
                f"{_JOINED} WHERE p.id = (SELECT person_id FROM person_accounts "
                "WHERE platform = $1 AND account_id = $2)",
                str(platform),
                account_id,
            )
        )
        return people[0] if people else None

    async def people_by_accounts(
        self, keys: Iterable[tuple[Platform, str]]
    ) -> dict[tuple[Platform, str], Person]:
        wanted = set(keys)
        found: dict[tuple[Platform, str], Person] = {}
        for platform, accounts in per_platform(wanted).items():
            for marks, chunk in rows.in_lists(accounts, 2):
                people = _people(
                    await self._rows(
                        f"{_JOINED} WHERE p.id IN (SELECT person_id FROM person_accounts "
                        f"WHERE platform = $1 AND account_id IN ({marks}))",
                        str(platform),
                        *chunk,
                    )
                )
                for person in people:
                    for a in person.accounts:
                        if (a.platform, a.account_id) in wanted:
                            found[(a.platform, a.account_id)] = person
        return found

    async def link_account(self, account: Account, person_id: PersonId | None) -> Person:
        async def body(tx: Tx) -> Person:
            key = (str(account.platform), account.account_id)
            held = await tx.row(
                "SELECT person_id FROM person_accounts WHERE platform = $1 AND account_id = $2",
                *key,
            )
            if held is not None:
                await tx.run(
                    "UPDATE person_accounts SET name = $1, verified_by = $2 "
                    "WHERE platform = $3 AND account_id = $4",
                    account.name,
                    account.verified_by,
                    *key,
                )
                owner = int(held[0])
            else:
                exists = person_id is not None and await tx.row(
                    "SELECT 1 FROM people WHERE id = $1", person_id
                )
                if exists and person_id is not None:
                    owner = person_id
                else:
                    created = await tx.rows(
                        "INSERT INTO people (created_at) VALUES ($1) RETURNING id",
                        account.linked_at,
                    )
                    owner = int(created[0][0])
                await tx.run(
                    f"INSERT INTO person_accounts ({_ACCOUNT}) VALUES ($1, $2, $3, $4, $5, $6)",
                    owner,
                    *key,
                    account.name,
                    account.verified_by,
                    account.linked_at,
                )
            person = await _person(tx, owner)
            assert person is not None
            return person

        return await self._atomic(body)

    async def merge_people(self, into: PersonId, other: PersonId) -> Person | None:
        async def body(tx: Tx) -> Person | None:
            target = await _person(tx, into)
            if target is None or into == other:
                return target
            source = await _person(tx, other)
            if source is None:
                return target
            await tx.run(
                "UPDATE person_accounts SET person_id = $1 WHERE person_id = $2", into, other
            )
            await tx.run(
                "UPDATE people SET banned = $1, notify = $2 WHERE id = $3",
                target.banned or source.banned,
                target.notify and source.notify,
                into,
            )
            await tx.run("DELETE FROM people WHERE id = $1", other)
            return await _person(tx, into)

        return await self._atomic(body)

    async def unlink_account(self, platform: Platform, account_id: str) -> bool:
        return await self._changed(
            "DELETE FROM person_accounts WHERE platform = $1 AND account_id = $2",
            str(platform),
            account_id,
        )

    async def list_people(self, limit: int, after: PersonId | None = None) -> list[Person]:
        return _people(
            await self._rows(
                f"{_JOINED} WHERE p.id IN (SELECT id FROM people WHERE id > $1 "
                "ORDER BY id LIMIT $2) ORDER BY p.id",
                after or 0,
                limit,
            )
        )

    async def set_person_flags(
        self, person_id: PersonId, *, banned: bool | None = None, notify: bool | None = None
    ) -> bool:
        return await self._changed(
            "UPDATE people SET banned = COALESCE($1, banned), notify = COALESCE($2, notify) "
            "WHERE id = $3",
            banned,
            notify,
            person_id,
        )

    async def forget_person(self, person_id: PersonId) -> bool:
        changed = await self._change(
            ("DELETE FROM person_accounts WHERE person_id = $1", (person_id,)),
            ("DELETE FROM people WHERE id = $1", (person_id,)),
        )
        return changed[1] > 0

    async def rename_author(
        self, platform: Platform, user_id: str, name: str, new_user_id: str
    ) -> list[CommentId]:
        async def body(tx: Tx) -> list[CommentId]:
            found = await tx.rows(
                "UPDATE comments SET author_name = $1, author_user_id = $2 "
                "WHERE author_platform = $3 AND author_user_id = $4 AND status <> 'deleted' "
                "RETURNING id",
                name,
                new_user_id,
                str(platform),
                user_id,
            )
            return sorted(CommentId(int(r[0])) for r in found)

        return await self._atomic(body)

    async def put_token(self, key: str, value: str, expires_at: datetime, now: datetime) -> bool:
        async def body(tx: Tx) -> bool:
            await tx.run("DELETE FROM tokens WHERE key = $1 AND expires_at <= $2", key, now)
            await tx.run(
                "DELETE FROM tokens WHERE key IN "
                "(SELECT key FROM tokens WHERE expires_at <= $1 LIMIT $2)",
                now,
                _TOKEN_PRUNE,
            )
            return (
                await tx.run(
                    "INSERT INTO tokens (key, value, expires_at) VALUES ($1, $2, $3) "
                    "ON CONFLICT (key) DO NOTHING",
                    key,
                    value,
                    expires_at,
                )
                > 0
            )

        return await self._atomic(body)

    async def take_token(self, key: str, now: datetime) -> str | None:
        async def body(tx: Tx) -> str | None:
            found = await tx.row(
                "DELETE FROM tokens WHERE key = $1 RETURNING value, expires_at", key
            )
            if found is None or rows.at(found[1]) <= now:
                return None
            return str(found[0])

        return await self._atomic(body)
