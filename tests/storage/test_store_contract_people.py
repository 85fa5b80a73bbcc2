"""The Store contract, people: persons, linked accounts and one-time tokens."""

from __future__ import annotations

import asyncio

from newsbot import Author, CommentStatus, Platform, Store
from newsbot.people import Account, PersonId
from tests.storage.contract_helpers import T0, article, at, comment


def account(platform: Platform, account_id: str, name: str = "Nina", t: float = 0) -> Account:
    return Account(platform, account_id, name, "telegram-login", at(t))


async def test_linking_creates_a_person_and_finds_them_by_account(backend: Store) -> None:
    assert await backend.person_by_account(Platform.TELEGRAM, "7") is None
    nina = await backend.link_account(account(Platform.TELEGRAM, "7"), None)
    assert [a.account_id for a in nina.accounts] == ["7"]
    assert not nina.banned and nina.notify and nina.created_at == T0
    both = await backend.link_account(account(Platform.DISCORD, "99", "nina#1", 1), nina.id)
    assert both.id == nina.id
    assert [(a.platform, a.account_id) for a in both.accounts] == [
        (Platform.TELEGRAM, "7"),
        (Platform.DISCORD, "99"),
    ]
    assert both.accounts[1].linked_at == at(1) and both.accounts[1].name == "nina#1"
    found = await backend.person_by_account(Platform.DISCORD, "99")
    assert found == both == await backend.get_person(nina.id)
    assert await backend.get_person(PersonId(nina.id + 100)) is None


async def test_an_account_stays_with_its_person(backend: Store) -> None:
    nina = await backend.link_account(account(Platform.TELEGRAM, "7"), None)
    other = await backend.link_account(account(Platform.DISCORD, "8"), None)
    assert other.id != nina.id
    kept = await backend.link_account(account(Platform.TELEGRAM, "7", "Nina B"), other.id)
    assert kept.id == nina.id and kept.accounts[0].name == "Nina B"
    stays = await backend.get_person(other.id)
    assert stays is not None and [a.account_id for a in stays.accounts] == ["8"]


async def test_merge_moves_accounts_and_keeps_a_ban(backend: Store) -> None:
    nina = await backend.link_account(account(Platform.TELEGRAM, "7"), None)
    other = await backend.link_account(account(Platform.DISCORD, "8", t=1), None)
    assert await backend.set_person_flags(other.id, banned=True, notify=False)
    merged = await backend.merge_people(nina.id, other.id)
    assert merged is not None and merged.id == nina.id
    assert merged.banned and not merged.notify
    assert [a.account_id for a in merged.accounts] == ["7", "8"]
    assert await backend.get_person(other.id) is None
    found = await backend.person_by_account(Platform.DISCORD, "8")
    assert found is not None and found.id == nina.id
    assert await backend.merge_people(PersonId(nina.id + 100), nina.id) is None
    assert await backend.get_person(nina.id) == merged


async def test_unlink_flags_list_and_forget(backend: Store) -> None:
    ids = [
        (await backend.link_account(account(Platform.WEB, f"w:{i}"), None)).id for i in range(5)
    ]
    nina = await backend.link_account(account(Platform.TELEGRAM, "7"), ids[0])
    assert await backend.unlink_account(Platform.TELEGRAM, "7")
    assert not await backend.unlink_account(Platform.TELEGRAM, "7")
    assert await backend.person_by_account(Platform.TELEGRAM, "7") is None
    left = await backend.get_person(nina.id)
    assert left is not None and [a.account_id for a in left.accounts] == ["w:0"]
    assert await backend.set_person_flags(nina.id, notify=False)
    assert not await backend.set_person_flags(PersonId(ids[-1] + 100), banned=True)
    flagged = await backend.get_person(nina.id)
    assert flagged is not None and not flagged.notify and not flagged.banned
    first = await backend.list_people(2)
    assert [p.id for p in first] == ids[:2]
    rest = await backend.list_people(10, first[-1].id)
    assert [p.id for p in rest] == ids[2:]
    assert [a.account_id for a in rest[0].accounts] == ["w:2"]
    assert await backend.forget_person(ids[1])
    assert not await backend.forget_person(ids[1])
    assert await backend.person_by_account(Platform.WEB, "w:1") is None
    assert [p.id for p in await backend.list_people(10)] == [ids[0], *ids[2:]]


async def test_a_person_without_accounts_is_still_found(backend: Store) -> None:
    nina = await backend.link_account(account(Platform.TELEGRAM, "7"), None)
    await backend.unlink_account(Platform.TELEGRAM, "7")
    alone = await backend.get_person(nina.id)
    assert alone is not None and alone.accounts == ()
    assert [p.id for p in await backend.list_people(5)] == [nina.id]


async def test_tokens_are_kept_once_and_taken_once(backend: Store) -> None:
    assert await backend.put_token("tglogin:abc", "1", at(60), T0)
    assert not await backend.put_token("tglogin:abc", "2", at(60), at(1))
    assert await backend.put_token("tglogin:abc", "3", at(120), at(60))  # the first expired
    assert await backend.take_token("tglogin:abc", at(61)) == "3"
    assert await backend.take_token("tglogin:abc", at(61)) is None
    assert await backend.put_token("link:X", "v", at(10), T0)
    assert await backend.take_token("link:X", at(10)) is None  # expired
    assert await backend.put_token("link:Y", "v", at(10), T0)
    assert await backend.take_token("link:Z", T0) is None


async def test_of_two_workers_one_keeps_a_token(two_handles: tuple[Store, Store]) -> None:
    first, second = two_handles
    kept = await asyncio.gather(
        *(store.put_token("tglogin:h", "x", at(60), T0) for store in (first, second) * 3)
    )
    assert sorted(kept) == [False] * 5 + [True]
    taken = await asyncio.gather(
        first.take_token("tglogin:h", T0), second.take_token("tglogin:h", T0)
    )
    assert taken.count("x") == 1


async def test_rename_author_renames_every_comment_not_deleted(backend: Store) -> None:
    article_id = await article(backend)
    first, _ = await backend.add_comment(comment(article_id, "1"))
    second, _ = await backend.add_comment(comment(article_id, "2"))
    gone, _ = await backend.add_comment(comment(article_id, "3"))
    await backend.set_comment_status(gone.id, CommentStatus.DELETED, at(2))
    renamed = await backend.rename_author(Platform.TELEGRAM, "7", "deleted user", "forgotten")
    assert renamed == [first.id, second.id]
    kept = await backend.get_comment(first.id)
    assert kept is not None and kept.author == Author(
        "deleted user", Platform.TELEGRAM, "forgotten"
    )
    untouched = await backend.get_comment(gone.id)
    assert untouched is not None and untouched.author.user_id == "7"
    assert await backend.comments_by_author(Platform.TELEGRAM, "7") == []
    assert await backend.rename_author(Platform.TELEGRAM, "7", "x", "y") == []
