"""The Store contract, shared state, coordination (roles, workers, watch) and feeds."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import pytest

from newsbot import (
    MessageLink,
    MessageRef,
    Platform,
    Store,
)
from newsbot.models import (
    FeedItem,
    NewFeed,
)
from tests.storage.contract_helpers import (
    T0,
    article,
    at,
    dest,
)


async def test_links_bans_and_state(backend: Store) -> None:
    article_id = await article(backend)
    copy = MessageRef(Platform.TELEGRAM, "-200", "3")
    assert await backend.add_link(MessageLink(copy, article_id))
    assert not await backend.add_link(MessageLink(copy, article_id))
    link = await backend.resolve_message(copy)
    assert link is not None and link.article_id == article_id
    assert not await backend.is_banned(Platform.DISCORD, "5")
    assert await backend.set_ban(Platform.DISCORD, "5", True, T0)
    assert not await backend.set_ban(Platform.DISCORD, "5", True, T0)
    assert await backend.is_banned(Platform.DISCORD, "5")
    assert await backend.set_ban(Platform.DISCORD, "5", False, T0)
    assert not await backend.is_banned(Platform.DISCORD, "5")
    assert await backend.get_state("k") is None
    await backend.set_state("k", "1")
    await backend.set_state("k", "2")
    assert await backend.get_state("k") == "2"


# -- leases: claims, roles, workers ---------------------------------------------------------


async def test_roles_have_one_holder_until_the_lease_ends(backend: Store) -> None:
    first = await backend.acquire_role("send:telegram", "a", T0, 5)
    assert first is not None and first.holder == "a" and first.lease_until == at(5)
    assert await backend.acquire_role("send:telegram", "b", at(1), 5) is None
    renewed = await backend.acquire_role("send:telegram", "a", at(4), 5)
    assert renewed is not None and renewed.epoch == first.epoch and renewed.lease_until == at(9)
    assert await backend.acquire_role("send:telegram", "b", at(8.9), 5) is None
    taken = await backend.acquire_role("send:telegram", "b", at(9.1), 5)
    assert taken is not None and taken.holder == "b" and taken.epoch == first.epoch + 1
    assert await backend.acquire_role("send:discord", "a", at(9.1), 5) is not None
    assert not await backend.release_role("send:telegram", "a")
    assert await backend.release_role("send:telegram", "b")
    back = await backend.acquire_role("send:telegram", "a", at(9.2), 5)
    assert back is not None and back.epoch == first.epoch + 2
    roles = await backend.list_roles()
    assert [(r.role, r.holder) for r in roles] == [("send:discord", "a"), ("send:telegram", "a")]


async def test_concurrent_role_claims_have_one_winner(backend: Store) -> None:

    results = await asyncio.gather(
        *(backend.acquire_role("send:discord", f"w{i}", T0, 5) for i in range(8))
    )
    assert len([r for r in results if r is not None]) == 1


async def test_workers_heartbeat_and_leave(backend: Store) -> None:
    from newsbot import WorkerInfo

    a = WorkerInfo("a", "host1", 11, T0, at(1), ("send:telegram",))
    b = WorkerInfo("b", "host2", 22, at(1), at(2))
    await backend.heartbeat(a)
    await backend.heartbeat(b)
    assert await backend.list_workers(T0) == [a, b]
    await backend.heartbeat(WorkerInfo("a", "host1", 11, T0, at(30), ()))
    (alive,) = await backend.list_workers(at(20))
    assert alive.id == "a" and alive.heartbeat_at == at(30) and alive.roles == ()
    await backend.remove_worker("a")
    assert await backend.list_workers(T0) == [b]


async def test_rate_slots_are_atomic_and_slide(backend: Store) -> None:

    waits = await asyncio.gather(*(backend.take_slot("web:1.2.3.4", 5, 60, T0) for _ in range(25)))
    assert sorted(waits)[:5] == [0.0] * 5
    assert all(w > 0 for w in sorted(waits)[5:])
    assert 59 < max(waits) <= 60
    assert await backend.take_slot("web:5.6.7.8", 5, 60, T0) == 0.0
    assert await backend.take_slot("web:1.2.3.4", 5, 60, at(30)) == pytest.approx(30)
    assert await backend.take_slot("web:1.2.3.4", 5, 60, at(60.5)) == 0.0


async def test_setdefault_state_keeps_the_first_value(backend: Store) -> None:

    values = await asyncio.gather(
        *(backend.setdefault_state("web.form_secret", f"s{i}") for i in range(5))
    )
    assert len(set(values)) == 1
    assert await backend.get_state("web.form_secret") == values[0]


async def test_watch_hears_changes_made_by_another_handle(
    two_handles: tuple[Store, Store],
) -> None:

    watcher, writer = two_handles
    heard: list[str] = []
    changed = asyncio.Event()

    def listener(topic: str) -> None:
        heard.append(topic)
        changed.set()

    watcher.watch(listener)
    d = await dest(writer, "-1")
    # The watch starts listening in the background, so a change made at once may come before
    # it: write until one is heard (each write is one it must report once it listens).
    written = 0
    deadline = asyncio.get_running_loop().time() + 5
    while not changed.is_set():
        assert asyncio.get_running_loop().time() < deadline, "no change was reported in 5 s"
        await article(writer, d)
        written += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), 0.5)
    assert set(heard) <= {"*", "outbox"} | {f"article:{i}" for i in range(1, written + 1)}


# -- feeds ----------------------------------------------------------------------------------


async def test_feeds_are_added_once_listed_saved_and_removed(backend: Store) -> None:
    feed, created = await backend.add_feed(
        NewFeed("https://site.example/feed", ("local", "news"), 900.0, 3), T0
    )
    assert created and feed.active and feed.items_seen == 0
    assert (feed.url, feed.tags, feed.interval, feed.backfill) == (
        "https://site.example/feed",
        ("local", "news"),
        900.0,
        3,
    )
    assert feed.next_poll_at == T0 and feed.last_success_at is None and feed.errors == 0
    again, created_again = await backend.add_feed(NewFeed("https://site.example/feed"), at(5))
    assert not created_again and again == feed
    other, _ = await backend.add_feed(NewFeed("https://other.example/rss"), T0)
    assert [f.id for f in await backend.list_feeds()] == [feed.id, other.id]

    polled = dataclasses.replace(
        feed,
        url="https://site.example/feed/",
        title="Site — news",
        next_poll_at=at(900),
        last_poll_at=at(1),
        last_success_at=at(1),
        last_status=200,
        etag='W/"abc"',
        last_modified="Sun, 01 Mar 2026 12:00:00 GMT",
        errors=0,
        last_error=None,
    )
    await backend.save_feed(polled)
    stored = (await backend.list_feeds())[0]
    assert stored == polled

    gone = dataclasses.replace(
        polled, active=False, errors=3, last_status=410, deactivated_reason="410 Gone"
    )
    await backend.save_feed(gone)
    assert (await backend.list_feeds())[0] == gone
    # Adding an inactive feed again reactivates it with the new settings, due at once.
    back, changed = await backend.add_feed(
        NewFeed("https://site.example/feed/", ("sport",), 120.0, 0), at(50)
    )
    assert changed and back.active and back.id == feed.id
    assert (back.tags, back.interval, back.errors, back.deactivated_reason) == (
        ("sport",),
        120.0,
        0,
        None,
    )
    assert back.next_poll_at == at(50)
    # ... and its next poll is a first poll again: nothing old gets published.
    assert (back.etag, back.last_modified, back.last_success_at) == (None, None, None)

    assert await backend.remove_feed(feed.id)
    assert not await backend.remove_feed(feed.id)
    assert [f.id for f in await backend.list_feeds()] == [other.id]


async def test_feed_items_are_recorded_per_feed_and_replaced(backend: Store) -> None:
    one, _ = await backend.add_feed(NewFeed("https://a.example/feed"), T0)
    two, _ = await backend.add_feed(NewFeed("https://b.example/feed"), T0)
    article_id = await article(backend)
    seen = FeedItem(one.id, "k1", None, "f1", at(1))
    posted = FeedItem(one.id, "k2", article_id, "f2", at(2))
    await backend.save_feed_items([seen, posted, FeedItem(two.id, "k1", None, "other", at(3))])
    await backend.save_feed_items([])
    assert await backend.feed_items(one.id, ["k1", "k2", "k3"]) == {"k1": seen, "k2": posted}
    assert await backend.feed_items(one.id, []) == {}
    assert (await backend.feed_items(two.id, ["k1"]))["k1"].fingerprint == "other"

    edited = dataclasses.replace(posted, fingerprint="f2b", edited_at=at(700))
    await backend.save_feed_items([edited])
    assert (await backend.feed_items(one.id, ["k2"]))["k2"] == edited
    counts = {f.id: f.items_seen for f in await backend.list_feeds()}
    assert counts == {one.id: 2, two.id: 1}

    many = [f"key{i}" for i in range(1200)]  # more keys than one statement binds
    await backend.save_feed_items([FeedItem(two.id, k, None, "x", at(4)) for k in many[::100]])
    assert len(await backend.feed_items(two.id, many)) == 12

    # The articles stay when a feed goes; a late item of a removed feed is not recorded.
    assert await backend.remove_feed(one.id)
    assert await backend.get_article(article_id) is not None
    await backend.save_feed_items([FeedItem(one.id, "k9", None, "late", at(5))])
    assert await backend.feed_items(one.id, ["k1", "k2", "k9"]) == {}


async def test_a_removed_feeds_id_is_never_given_again(backend: Store) -> None:
    # Its request keys (feed:ID:ITEM) and its articles' author name the id: a new feed
    # under it would take the removed feed's articles over.
    first, _ = await backend.add_feed(NewFeed("https://a.example/feed"), T0)
    last, _ = await backend.add_feed(NewFeed("https://b.example/feed"), T0)
    assert await backend.remove_feed(last.id)
    given = {first.id, last.id}
    for n in range(3):
        new, created = await backend.add_feed(NewFeed(f"https://c{n}.example/feed"), at(n))
        assert created and new.id not in given and new.id > max(given)
        given.add(new.id)
        assert await backend.remove_feed(new.id)
    # Every feed gone (an empty table) changes nothing either; nor does re-adding a URL.
    assert await backend.remove_feed(first.id)
    again, _ = await backend.add_feed(NewFeed("https://a.example/feed"), at(9))
    assert again.id > max(given)
