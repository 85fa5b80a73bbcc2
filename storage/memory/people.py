"""The people port in memory: persons (their accounts inside them) and one-time tokens."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from newsbot.models import Author, CommentId, CommentStatus, Platform
from newsbot.people import Account, Person, PersonId
from storage.memory.tables import MemoryBase, _utc

_TOKEN_PRUNE = 100  # expired tokens deleted per put_token at most


class MemoryPeople(MemoryBase):
    """``PeopleStore`` on the memory database."""

    async def get_person(self, person_id: PersonId) -> Person | None:
        return self._db.people.get(person_id)

    async def person_by_account(self, platform: Platform, account_id: str) -> Person | None:
        return next(
            (
                p
                for p in self._db.people.values()
                if any(a.platform is platform and a.account_id == account_id for a in p.accounts)
            ),
            None,
        )

    async def people_by_accounts(
        self, keys: Iterable[tuple[Platform, str]]
    ) -> dict[tuple[Platform, str], Person]:
        wanted = set(keys)
        return {
            (a.platform, a.account_id): p
            for p in self._db.people.values()
            for a in p.accounts
            if (a.platform, a.account_id) in wanted
        }

    async def link_account(self, account: Account, person_id: PersonId | None) -> Person:
        db = self._db
        account = replace(account, linked_at=_utc(account.linked_at))
        held = await self.person_by_account(account.platform, account.account_id)
        if held is not None:
            accounts = tuple(
                replace(a, name=account.name, verified_by=account.verified_by)
                if (a.platform, a.account_id) == (account.platform, account.account_id)
                else a
                for a in held.accounts
            )
            person = db.people[held.id] = replace(held, accounts=accounts)
            return person
        owner = db.people.get(person_id) if person_id is not None else None
        if owner is None:
            owner = Person(PersonId(db.new_id("people")), (), False, True, account.linked_at)
        person = db.people[owner.id] = replace(owner, accounts=(*owner.accounts, account))
        return person

    async def merge_people(self, into: PersonId, other: PersonId) -> Person | None:
        people = self._db.people
        target = people.get(into)
        if target is None or into == other or other not in people:
            return target
        source = people.pop(other)
        accounts = tuple(sorted((*target.accounts, *source.accounts), key=lambda a: a.linked_at))
        merged = people[into] = replace(
            target,
            accounts=accounts,
            banned=target.banned or source.banned,
            notify=target.notify and source.notify,
        )
        return merged

    async def unlink_account(self, platform: Platform, account_id: str) -> bool:
        held = await self.person_by_account(platform, account_id)
        if held is None:
            return False
        self._db.people[held.id] = replace(
            held,
            accounts=tuple(
                a for a in held.accounts if (a.platform, a.account_id) != (platform, account_id)
            ),
        )
        return True

    async def list_people(self, limit: int, after: PersonId | None = None) -> list[Person]:
        people = self._db.people
        return [people[i] for i in sorted(i for i in people if i > (after or 0))][:limit]

    async def set_person_flags(
        self, person_id: PersonId, *, banned: bool | None = None, notify: bool | None = None
    ) -> bool:
        person = self._db.people.get(person_id)
        if person is None:
            return False
        self._db.people[person_id] = replace(
            person,
            banned=person.banned if banned is None else banned,
            notify=person.notify if notify is None else notify,
        )
        return True

    async def forget_person(self, person_id: PersonId) -> bool:
        return self._db.people.pop(person_id, None) is not None

    async def rename_author(
        self, platform: Platform, user_id: str, name: str, new_user_id: str
    ) -> list[CommentId]:
        comments = self._db.comments
        found = [
            c
            for c in comments.values()
            if (c.author.platform, c.author.user_id) == (platform, user_id)
            and c.status is not CommentStatus.DELETED
        ]
        for c in found:
            comments[c.id] = replace(c, author=Author(name, platform, new_user_id))
        return sorted(c.id for c in found)

    async def put_token(self, key: str, value: str, expires_at: datetime, now: datetime) -> bool:
        tokens = self._db.tokens
        expired = [k for k, (_, until) in tokens.items() if until <= now][:_TOKEN_PRUNE]
        for k in expired:
            del tokens[k]
        if key in tokens and tokens[key][1] > now:
            return False
        tokens[key] = (value, _utc(expires_at))
        return True

    async def take_token(self, key: str, now: datetime) -> str | None:
        found = self._db.tokens.pop(key, None)
        if found is None or found[1] <= now:
            return None
        return found[0]
