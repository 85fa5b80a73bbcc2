"""The Store contract: every backend must pass this suite unchanged.

Add a backend by adding a factory to ``BACKENDS``; the tests only use the ``Store`` protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsbot import (
    ArticleDraft,
    ArticleId,
    ArticleStatus,
    Author,
    CommentStatus,
    DeliveryOp,
    DeliveryState,
    DestinationId,
    DestinationKind,
    MessageLink,
    MessageRef,
    NewDestination,
    Platform,
    Posted,
    Store,
)
from newsbot.models import (
    ArticleCursor,
    CountRefresh,
    FeedItem,
    IncomingComment,
    NewComment,
    NewFeed,
    ThreadCursor,
)
from storage import SqliteStore
from storage.memory import MemoryDatabase, MemoryStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AUTHOR = Author("Ada", Platform.CLI, "operator")


async def _sqlite(database: str) -> Store:
    store = SqliteStore(database)
    await store.open()
    return store


async def _postgres(database: str) -> Store:
    from storage.postgres import PostgresStore

    store = PostgresStore(database)
    await store.open()
    return store


_MEMORY: dict[str, MemoryDatabase] = {}


async def _memory(database: str) -> Store:
    store = MemoryStore(_MEMORY.setdefault(database, MemoryDatabase()))
    await store.open()
    return store


# Each backend opens a store on a database location: a file path, or a server's URL (for
# memory, a name: stores opened on one name share its rows, as workers share a database).
BACKENDS: dict[str, Callable[[str], Awaitable[Store]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgres": _postgres,
}


def _location(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if name == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "contract.db")


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    store = await BACKENDS[request.param](_location(request.param, request, tmp_path))
    yield store
    await store.close()


@pytest.fixture(params=sorted(BACKENDS))
async def two_handles(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database, as two workers (or a worker and the command line) have."""
    where = _location(request.param, request, tmp_path)
    first = await BACKENDS[request.param](where)
    second = await BACKENDS[request.param](where)
    yield first, second
    await second.close()
    await first.close()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def dest(store: Store, chat: str, platform: Platform = Platform.TELEGRAM) -> DestinationId:
    d, _ = await store.add_destination(
        NewDestination(platform, chat, DestinationKind.CHANNEL, title=chat), T0
    )
    return d.id


async def article(store: Store, *destinations: DestinationId, when: float = 0) -> ArticleId:
    a, _ = await store.add_article(
        ArticleDraft("Title", "Body"), AUTHOR, at(when), list(destinations)
    )
    return a.id


def comment(
    article_id: ArticleId, msg: str, parent: int | None = None, when: float = 1
) -> NewComment:
    return NewComment(
        article_id=article_id,
        parent_id=parent,  # type: ignore[arg-type]
        author=Author("Rita", Platform.TELEGRAM, "7"),
        text=f"comment {msg}",
        source=MessageRef(Platform.TELEGRAM, "-100", msg),
        created_at=at(when),
    )


async def test_article_round_trip_keeps_every_field(backend: Store) -> None:
    draft = ArticleDraft(
        "Tïtle <b>&", "Body\n\n**x** ☃ 🎉 مرحبا", "sum", "https://a.example/x", None, ("a", "b")
    )
    created, fresh = await backend.add_article(draft, AUTHOR, T0, [])
    assert fresh
    got = await backend.get_article(created.id)
    assert got == created
    assert got is not None
    assert (got.title, got.body, got.summary, got.url, got.tags) == (
        draft.title,
        draft.body,
        "sum",
        "https://a.example/x",
        ("a", "b"),
    )
    assert got.status is ArticleStatus.PUBLISHED
    assert got.revision == 1
    assert got.created_at == T0 and got.created_at.tzinfo is not None
    assert await backend.get_article(ArticleId(created.id + 1)) is None


async def test_publish_enqueues_one_post_per_destination(backend: Store) -> None:
    a, b = await dest(backend, "-1"), await dest(backend, "-2")
    article_id = await article(backend, a, b)
    statuses = await backend.deliveries_for_article(article_id)
    assert [s.destination.chat_id for s in statuses] == ["-1", "-2"]
    assert all(s.delivery.state is DeliveryState.PENDING for s in statuses)
    assert all(s.delivery.op is DeliveryOp.POST for s in statuses)
    assert await backend.next_due(Platform.TELEGRAM) == T0
    assert await backend.next_due(Platform.DISCORD) is None


async def test_claim_marks_sending_and_is_exclusive(backend: Store) -> None:
    ids = [await dest(backend, f"-{i}") for i in range(5)]
    article_id = await article(backend, *ids)
    first = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 3)
    second = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 3)
    assert len(first) == 3 and len(second) == 2
    claimed = {j.delivery.id for j in first} | {j.delivery.id for j in second}
    assert len(claimed) == 5
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(1), 3) == []
    job = first[0]
    assert job.article.id == article_id
    assert job.comment is None and job.delivery.attempts == 1
    assert len(job.nonce) <= 25
    assert all(
        s.delivery.state is DeliveryState.SENDING
        for s in await backend.deliveries_for_article(article_id)
    )


async def test_claim_respects_due_time_and_platform(backend: Store) -> None:
    tg, dc = await dest(backend, "-1"), await dest(backend, "c1", Platform.DISCORD)
    await article(backend, tg, dc, when=10)
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(5), 10) == []
    jobs = await backend.claim_deliveries(Platform.TELEGRAM, at(10), 10)
    assert [j.destination.chat_id for j in jobs] == ["-1"]


async def test_complete_records_message_and_links(backend: Store) -> None:
    d = await dest(backend, "-1")
    article_id = await article(backend, d)
    (job,) = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 5)
    refs = (MessageRef(Platform.TELEGRAM, "-1", "77"), MessageRef(Platform.TELEGRAM, "t", "77"))
    await backend.complete_delivery(job.delivery, Posted("77", "t9", refs), at(2))
    (status,) = await backend.deliveries_for_article(article_id)
    assert status.delivery.state is DeliveryState.SENT
    assert (status.delivery.message_id, status.delivery.thread_id) == ("77", "t9")
    for ref in refs:
        link = await backend.resolve_message(ref)
        assert link is not None and link.article_id == article_id and link.comment_id is None
    assert await backend.resolve_message(MessageRef(Platform.TELEGRAM, "-1", "78")) is None


async def test_retry_and_fail(backend: Store) -> None:
    d = await dest(backend, "-1")
    article_id = await article(backend, d)
    (job,) = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 5)
    await backend.retry_delivery(job.delivery, "502", at(30), at(1))
    (s,) = await backend.deliveries_for_article(article_id)
    assert s.delivery.state is DeliveryState.FAILED and s.delivery.last_error == "502"
    assert s.delivery.next_attempt_at == at(30) and s.delivery.attempts == 1
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(29), 5) == []
    (job,) = await backend.claim_deliveries(Platform.TELEGRAM, at(30), 5)
    await backend.retry_delivery(job.delivery, "429", at(31), at(30), count_attempt=False)
    (s,) = await backend.deliveries_for_article(article_id)
    assert s.delivery.attempts == 1 and s.delivery.state is DeliveryState.PENDING
    (job,) = await backend.claim_deliveries(Platform.TELEGRAM, at(31), 5)
    await backend.fail_delivery(job.delivery, "gone", at(32))
    (s,) = await backend.deliveries_for_article(article_id)
    assert s.delivery.state is DeliveryState.DEAD
    assert await backend.next_due(Platform.TELEGRAM) is None


async def test_release_claims_returns_sending_to_pending(backend: Store) -> None:
    ids = [await dest(backend, f"-{i}") for i in range(3)]
    await article(backend, *ids)
    await backend.claim_deliveries(Platform.TELEGRAM, at(1), 2, worker="w1")
    assert await backend.release_claims("w2") == 0  # another worker's claims are not ours
    assert await backend.release_claims("w1") == 2
    assert len(await backend.claim_deliveries(Platform.TELEGRAM, at(1), 10)) == 3


async def test_edit_reenqueues_sent_and_inflight(backend: Store) -> None:
    a, b, c = await dest(backend, "-1"), await dest(backend, "-2"), await dest(backend, "-3")
    article_id = await article(backend, a, b, c)
    jobs = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 2)  # -1, -2 in flight
    await backend.complete_delivery(jobs[0].delivery, Posted("m1"), at(2))  # -1 sent
    queued = await backend.update_article(article_id, ArticleDraft("New", "Body 2"), at(3))
    assert queued == 2  # the sent one and the one in flight; the pending one posts new content
    await backend.complete_delivery(jobs[1].delivery, Posted("m2"), at(4))
    by_chat = {
        s.destination.chat_id: s.delivery for s in await backend.deliveries_for_article(article_id)
    }
    assert by_chat["-1"].op is DeliveryOp.EDIT and by_chat["-1"].state is DeliveryState.PENDING
    # Finished an older generation: back to pending so the edit goes out too.
    assert by_chat["-2"].state is DeliveryState.PENDING and by_chat["-2"].message_id == "m2"
    assert by_chat["-3"].op is DeliveryOp.POST and by_chat["-3"].state is DeliveryState.PENDING
    got = await backend.get_article(article_id)
    assert got is not None and got.title == "New" and got.revision == 2


async def test_retract_deletes_posted_and_cancels_unsent(backend: Store) -> None:
    a, b = await dest(backend, "-1"), await dest(backend, "-2")
    article_id = await article(backend, a, b)
    jobs = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 1)
    await backend.complete_delivery(jobs[0].delivery, Posted("m1"), at(2))
    assert await backend.retract_article(article_id, at(3)) == 1
    by_chat = {
        s.destination.chat_id: s.delivery for s in await backend.deliveries_for_article(article_id)
    }
    assert by_chat["-1"].op is DeliveryOp.DELETE and by_chat["-1"].state is DeliveryState.PENDING
    assert by_chat["-2"].state is DeliveryState.DEAD
    got = await backend.get_article(article_id)
    assert got is not None and got.status is ArticleStatus.RETRACTED
    assert await backend.latest_articles(10, None) == []


async def test_destinations_subscribe_twice_and_deactivate(backend: Store) -> None:
    new = NewDestination(Platform.DISCORD, "123", DestinationKind.FORUM, title="news", tags=("x",))
    first, created = await backend.add_destination(new, T0)
    again, created_again = await backend.add_destination(new, at(1))
    assert created and not created_again and first == again
    assert first.kind is DestinationKind.FORUM and first.tags == ("x",)
    await article(backend, first.id)
    assert await backend.deactivate_destination(first.id, "kicked", at(2))
    assert not await backend.deactivate_destination(first.id, "kicked", at(2))
    assert await backend.list_destinations() == []
    (inactive,) = await backend.list_destinations(active_only=False)
    assert not inactive.active and inactive.deactivated_reason == "kicked"
    assert await backend.claim_deliveries(Platform.DISCORD, at(5), 10) == []
    back, created = await backend.add_destination(new, at(3))
    assert created and back.active and back.id == first.id
    assert await backend.get_destination(Platform.DISCORD, "123") == back
    assert await backend.get_destination(Platform.DISCORD, "124") is None


async def test_comment_insert_is_idempotent_on_source(backend: Store) -> None:
    article_id = await article(backend)
    first, created = await backend.add_comment(comment(article_id, "5"))
    again, created_again = await backend.add_comment(comment(article_id, "5"))
    assert created and not created_again and first == again
    assert await backend.count_comments(article_id) == 1
    assert await backend.get_comment_by_source(MessageRef(Platform.TELEGRAM, "-100", "5")) == first
    link = await backend.resolve_message(MessageRef(Platform.TELEGRAM, "-100", "5"))
    assert link == MessageLink(MessageRef(Platform.TELEGRAM, "-100", "5"), article_id, first.id)


async def test_comment_mirrors_enqueued_once(backend: Store) -> None:
    d = await dest(backend, "c", Platform.DISCORD)
    article_id = await article(backend, d)
    c, _ = await backend.add_comment(comment(article_id, "1"), [d], None)
    await backend.add_comment(comment(article_id, "1"), [d], None)
    statuses = await backend.deliveries_for_comment(c.id)
    assert len(statuses) == 1 and statuses[0].delivery.comment_id == c.id


async def test_thread_keyset_pages_nested_replies(backend: Store) -> None:
    article_id = await article(backend)
    roots = []
    for i in range(5):
        c, _ = await backend.add_comment(comment(article_id, f"r{i}", when=10 + i))
        roots.append(c)
    reply, _ = await backend.add_comment(comment(article_id, "x1", parent=roots[0].id, when=20))
    deep, _ = await backend.add_comment(comment(article_id, "x2", parent=reply.id, when=21))
    page1, replies1, total = await backend.thread_page(article_id, 2, None, newest_first=False)
    assert [c.id for c in page1] == [roots[0].id, roots[1].id]
    assert total == 7
    # Replies at any depth under the page's roots, oldest first.
    assert [(c.id, c.parent_id) for c in replies1] == [
        (reply.id, roots[0].id),
        (deep.id, reply.id),
    ]
    cursor = ThreadCursor(page1[-1].created_at, page1[-1].id)
    page2, replies2, _ = await backend.thread_page(article_id, 10, cursor, newest_first=False)
    assert [c.id for c in page2] == [r.id for r in roots[2:]]
    assert replies2 == []
    newest, _, _ = await backend.thread_page(article_id, 2, None, newest_first=True)
    assert [c.id for c in newest] == [roots[4].id, roots[3].id]
    older, older_replies, _ = await backend.thread_page(
        article_id, 10, ThreadCursor(newest[-1].created_at, newest[-1].id), newest_first=True
    )
    assert [c.id for c in older] == [roots[2].id, roots[1].id, roots[0].id]
    # The replies under roots[0] came after the cursor's root, and are on its page all the same.
    assert [c.id for c in older_replies] == [reply.id, deep.id]
    second, replies_of_second, _ = await backend.thread_page(
        article_id, 1, ThreadCursor(roots[0].created_at, roots[0].id), newest_first=False
    )
    assert [c.id for c in second] == [roots[1].id]
    assert replies_of_second == []


async def test_comment_edit_and_status(backend: Store) -> None:
    article_id = await article(backend)
    c, _ = await backend.add_comment(comment(article_id, "1"))
    edited = await backend.edit_comment(c.id, "better", at(5))
    assert edited.text == "better" and edited.edited_at == at(5)
    deleted = await backend.set_comment_status(c.id, CommentStatus.DELETED, at(6))
    assert deleted.status is CommentStatus.DELETED and deleted.deleted_at == at(6)
    assert await backend.count_comments(article_id) == 0
    assert await backend.comments_by_author(Platform.TELEGRAM, "7") == []


async def test_latest_articles_keyset(backend: Store) -> None:
    ids = [await article(backend, when=i) for i in range(5)]
    first = await backend.latest_articles(2, None)
    assert [a.id for a in first] == [ids[4], ids[3]]
    rest = await backend.latest_articles(
        10, ArticleCursor(first[-1].published_at or T0, first[-1].id)
    )
    assert [a.id for a in rest] == [ids[2], ids[1], ids[0]]


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


def incoming(msg: str, reply_to: MessageRef | None = None, **kw: object) -> IncomingComment:
    return IncomingComment(
        source=MessageRef(Platform.TELEGRAM, "-100", msg),
        author=Author("Rita", Platform.TELEGRAM, str(kw.pop("user", "7"))),
        text=f"text {msg}",
        created_at=at(5),
        reply_to=reply_to,
        **kw,  # type: ignore[arg-type]
    )


async def posted_article(store: Store, *chats: str) -> tuple[ArticleId, dict[str, MessageRef]]:
    ids = [await dest(store, c) for c in chats]
    article_id = await article(store, *ids)
    refs = {}
    for job in await store.claim_deliveries(Platform.TELEGRAM, at(1), 100):
        ref = MessageRef(Platform.TELEGRAM, job.destination.chat_id, f"p{job.destination.id}")
        await store.complete_delivery(job.delivery, Posted(ref.message_id, links=(ref,)), at(2))
        refs[job.destination.chat_id] = ref
    return article_id, refs


async def test_ingest_resolves_parent_and_is_idempotent(backend: Store) -> None:
    article_id, refs = await posted_article(backend, "-100")
    result = await backend.ingest_comment(incoming("1", refs["-100"], mirror=False))
    assert result is not None
    top, created = result
    assert created and top.article_id == article_id and top.parent_id is None
    again = await backend.ingest_comment(incoming("1", refs["-100"], mirror=False))
    assert again == (top, False)
    child = await backend.ingest_comment(incoming("2", top.source, mirror=False))
    assert child is not None and child[0].parent_id == top.id
    assert await backend.count_comments(article_id) == 2


async def test_ingest_refuses_unknown_banned_and_retracted(backend: Store) -> None:
    article_id, refs = await posted_article(backend, "-100")
    unknown = MessageRef(Platform.TELEGRAM, "-100", "nope")
    assert await backend.ingest_comment(incoming("1", unknown)) is None
    await backend.set_ban(Platform.TELEGRAM, "66", True, T0)
    assert await backend.ingest_comment(incoming("2", refs["-100"], user=66)) is None
    await backend.retract_article(article_id, at(3))
    assert await backend.ingest_comment(incoming("3", refs["-100"])) is None
    assert await backend.count_comments(article_id) == 0


async def test_ingest_by_article_id_for_the_web(backend: Store) -> None:
    article_id, _ = await posted_article(backend)
    result = await backend.ingest_comment(
        IncomingComment(
            source=MessageRef(Platform.WEB, str(article_id), "form-1"),
            author=Author("Wendy", Platform.WEB, "Wendy"),
            text="hello",
            created_at=at(5),
            article_id=article_id,
        )
    )
    assert result is not None and result[1] and result[0].author.platform is Platform.WEB


async def test_ingest_mirrors_to_other_posted_chats_only(backend: Store) -> None:
    article_id, refs = await posted_article(backend, "-1", "-2", "-3")
    other = await dest(backend, "-4")  # subscribed after the article: never got it
    del other
    copy = MessageRef(Platform.TELEGRAM, "-99", "copy")  # a discussion-group copy of -3's post
    link = await backend.resolve_message(refs["-3"])
    assert link is not None
    await backend.add_link(MessageLink(copy, article_id, None, link.destination_id))
    reply = IncomingComment(
        source=MessageRef(Platform.TELEGRAM, "-99", "c1"),
        author=Author("Rita", Platform.TELEGRAM, "7"),
        text="from the discussion group",
        created_at=at(5),
        reply_to=copy,
        mirror_due=at(60),
    )
    result = await backend.ingest_comment(reply)
    assert result is not None
    mirrors = await backend.deliveries_for_comment(result[0].id)
    assert sorted(m.destination.chat_id for m in mirrors) == ["-1", "-2"]
    assert {m.delivery.next_attempt_at for m in mirrors} == {at(60)}
    # From -1 itself: mirrored to -2 and -3, never back to -1.
    result = await backend.ingest_comment(incoming("x", refs["-1"]))
    assert result is not None
    mirrors = await backend.deliveries_for_comment(result[0].id)
    assert sorted(m.destination.chat_id for m in mirrors) == ["-2", "-3"]


async def test_replies_in_a_discussion_group_are_not_mirrored_back_to_it(backend: Store) -> None:
    article_id, refs = await posted_article(backend, "-1", "-2", "-3")
    copy = MessageRef(Platform.TELEGRAM, "-99", "copy")  # -3's post, copied to its group -99
    link = await backend.resolve_message(refs["-3"])
    assert link is not None
    await backend.add_link(MessageLink(copy, article_id, None, link.destination_id))

    def in_group(msg: str, reply_to: MessageRef) -> IncomingComment:
        return IncomingComment(
            source=MessageRef(Platform.TELEGRAM, "-99", msg),
            author=Author("Rita", Platform.TELEGRAM, "7"),
            text=f"group {msg}",
            created_at=at(5),
            reply_to=reply_to,
        )

    top = await backend.ingest_comment(in_group("c1", copy))
    assert top is not None
    answer = await backend.ingest_comment(in_group("c2", top[0].source))
    assert answer is not None and answer[0].parent_id == top[0].id
    # A reply to the reply, and one to that in the same batch as it.
    deeper = await asyncio.gather(
        backend.ingest_comment(in_group("c3", answer[0].source)),
        backend.ingest_comment(in_group("c4", MessageRef(Platform.TELEGRAM, "-99", "c3"))),
    )
    stored = [top, answer, *deeper]
    assert all(r is not None and r[1] for r in stored)
    for result in stored:
        assert result is not None
        mirrors = await backend.deliveries_for_comment(result[0].id)
        assert sorted(m.destination.chat_id for m in mirrors) == ["-1", "-2"], result[0].text


async def test_concurrent_ingest_is_batched_and_exact(backend: Store) -> None:

    _, refs = await posted_article(backend, "-100")
    results = await asyncio.gather(
        *(backend.ingest_comment(incoming(str(i % 150), refs["-100"])) for i in range(300))
    )
    assert all(r is not None for r in results)
    created = [r for r in results if r is not None and r[1]]
    assert len(created) == 150
    ids = {r[0].id for r in results if r is not None}
    assert len(ids) == 150


async def test_a_burst_is_stored_whole_with_its_threads_mirrors_and_count_edits(
    backend: Store,
) -> None:
    _, refs = await posted_article(backend, "-100", "-2")  # the burst is written in -100
    burst: list[IncomingComment] = []
    for i in range(600):  # four in five answer the one before, mostly in the same batch
        reply_to = burst[-1].source if i % 5 else refs["-100"]
        burst.append(incoming(f"b{i}", reply_to, count_refresh=CountRefresh(), user=i % 7))
    results = await asyncio.gather(*(backend.ingest_comment(c) for c in burst))
    stored = [r[0] for r in results if r is not None and r[1]]
    assert len(stored) == 600 and len({c.id for c in stored}) == 600
    for i, comment in enumerate(stored):
        assert comment.parent_id == (stored[i - 1].id if i % 5 else None)
        assert await backend.get_comment(comment.id) == comment
    for comment in stored[::97]:
        mirrors = await backend.deliveries_for_comment(comment.id)
        assert [m.destination.chat_id for m in mirrors] == ["-2"]
    posts = await backend.deliveries_for_article(stored[0].article_id)
    assert {(s.delivery.op, s.delivery.state) for s in posts} == {
        (DeliveryOp.EDIT, DeliveryState.PENDING)
    }


async def test_mirror_jobs_point_at_the_discussion_copy(backend: Store) -> None:
    channel = await dest(backend, "-100")
    discord = await dest(backend, "c1", Platform.DISCORD)
    article_id = await article(backend, channel, discord)
    for platform in (Platform.TELEGRAM, Platform.DISCORD):
        for job in await backend.claim_deliveries(platform, at(1), 10):
            chat = job.destination.chat_id
            ref = MessageRef(platform, chat, f"post-{chat}")
            await backend.complete_delivery(
                job.delivery, Posted(ref.message_id, links=(ref,)), at(2)
            )
    copy = MessageRef(Platform.TELEGRAM, "-200", "77")  # the channel post's discussion copy
    await backend.add_link(MessageLink(copy, article_id, None, channel))
    group_comment = await backend.ingest_comment(
        IncomingComment(
            source=MessageRef(Platform.TELEGRAM, "-200", "78"),
            author=Author("Tom", Platform.TELEGRAM, "5"),
            text="in the group",
            created_at=at(3),
            reply_to=copy,
        )
    )
    assert group_comment is not None
    discord_reply = await backend.ingest_comment(
        IncomingComment(
            source=MessageRef(Platform.DISCORD, "c1", "900"),
            author=Author("Dee", Platform.DISCORD, "6"),
            text="from discord",
            created_at=at(4),
            reply_to=MessageRef(Platform.DISCORD, "c1", "post-c1"),
        )
    )
    assert discord_reply is not None
    # A reply on Discord to the mirrored copy of the group comment.
    jobs = await backend.claim_deliveries(Platform.DISCORD, at(5), 10)
    (to_discord,) = [j for j in jobs if j.comment is not None]
    await backend.complete_delivery(
        to_discord.delivery,
        Posted("901", links=(MessageRef(Platform.DISCORD, "c1", "901"),)),
        at(6),
    )
    child = await backend.ingest_comment(
        IncomingComment(
            source=MessageRef(Platform.DISCORD, "c1", "902"),
            author=Author("Dee", Platform.DISCORD, "6"),
            text="answering Tom",
            created_at=at(7),
            reply_to=MessageRef(Platform.DISCORD, "c1", "901"),
        )
    )
    assert child is not None and child[0].parent_id == group_comment[0].id
    jobs = await backend.claim_deliveries(Platform.TELEGRAM, at(8), 10)
    by_comment = {j.comment.id: j for j in jobs if j.comment is not None}
    top = by_comment[discord_reply[0].id]
    assert top.discussion == copy and top.reply_to == "77"  # under the post's copy
    answer = by_comment[child[0].id]
    assert answer.discussion == copy and answer.reply_to == "78"  # natively under Tom's message
    assert answer.parent is not None and answer.parent.text == "in the group"


async def test_comment_in_a_posts_thread_is_not_mirrored_back_there(backend: Store) -> None:
    text = await dest(backend, "chan", Platform.DISCORD)
    other = await dest(backend, "-5")
    await article(backend, text, other)
    for platform in (Platform.DISCORD, Platform.TELEGRAM):
        for job in await backend.claim_deliveries(platform, at(1), 10):
            chat = job.destination.chat_id
            thread = "th1" if platform is Platform.DISCORD else None
            links = [MessageRef(platform, chat, "m1")]
            if thread:
                links.append(MessageRef(platform, thread, thread))
            await backend.complete_delivery(
                job.delivery, Posted("m1", thread, tuple(links)), at(2)
            )
    first = await backend.ingest_comment(
        IncomingComment(
            source=MessageRef(Platform.DISCORD, "th1", "c1"),
            author=Author("Dee", Platform.DISCORD, "6"),
            text="in the thread",
            created_at=at(3),
            reply_to=MessageRef(Platform.DISCORD, "th1", "th1"),
        )
    )
    assert first is not None
    reply = await backend.ingest_comment(
        IncomingComment(
            source=MessageRef(Platform.DISCORD, "th1", "c2"),
            author=Author("Eve", Platform.DISCORD, "7"),
            text="reply in the thread",
            created_at=at(4),
            reply_to=first[0].source,
        )
    )
    assert reply is not None and reply[0].parent_id == first[0].id
    for created in (first, reply):
        mirrors = await backend.deliveries_for_comment(created[0].id)
        assert [m.destination.id for m in mirrors] == [other]


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_calls_after_close_fail_clearly(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from newsbot import StorageError

    store = await BACKENDS[name](_location(name, request, tmp_path))
    await store.close()
    with pytest.raises(StorageError, match="not open"):
        await store.ingest_comment(incoming("1", MessageRef(Platform.TELEGRAM, "-1", "1")))
    with pytest.raises(StorageError, match="not open"):
        await store.get_article(ArticleId(1))


# -- requests carried out once, approval, hidden intake ------------------------------------


async def test_a_request_publishes_and_edits_once(backend: Store) -> None:
    d = await dest(backend, "-1")
    first, created = await backend.add_article(
        ArticleDraft("T", "B"), AUTHOR, T0, [d], request="telegram:42:7"
    )
    again, created_again = await backend.add_article(
        ArticleDraft("T", "B"), AUTHOR, at(5), [d], request="telegram:42:7"
    )
    assert created and not created_again and again == first
    assert await backend.latest_articles(10, None) == [first]
    assert len(await backend.deliveries_for_article(first.id)) == 1
    other, created_other = await backend.add_article(
        ArticleDraft("T", "B"), AUTHOR, at(6), [d], request="telegram:42:8"
    )
    assert created_other and other.id != first.id
    (job,) = [
        j
        for j in await backend.claim_deliveries(Platform.TELEGRAM, at(7), 10)
        if j.article.id == first.id
    ]
    await backend.complete_delivery(job.delivery, Posted("m1"), at(8))
    draft = ArticleDraft("T2", "B2")
    assert await backend.update_article(first.id, draft, at(9), request="edit:1") == 1
    assert await backend.update_article(first.id, draft, at(10), request="edit:1") is None
    got = await backend.get_article(first.id)
    assert got is not None and got.revision == 2 and got.title == "T2"
    # The same key names one command: an edit cannot reuse a publish's key either.
    assert await backend.update_article(first.id, draft, at(11), request="telegram:42:7") is None


async def test_pending_destination_waits_for_approval(backend: Store) -> None:
    new = NewDestination(Platform.TELEGRAM, "-5", DestinationKind.GROUP, title="g")
    pending, created = await backend.add_destination(new, T0, pending=True)
    assert created and pending.pending and not pending.active
    again, created_again = await backend.add_destination(new, at(1), pending=True)
    assert not created_again and again.pending
    assert await backend.list_destinations() == []
    (listed,) = await backend.list_destinations(active_only=False)
    assert listed.pending and listed.deactivated_reason
    # An article published meanwhile is not enqueued to it, even if asked.
    article_id = await article(backend, pending.id)
    assert await backend.deliveries_for_article(article_id) == []
    assert await backend.approve_destination(pending.id, at(2))
    assert not await backend.approve_destination(pending.id, at(3))
    approved = await backend.get_destination(Platform.TELEGRAM, "-5")
    assert approved is not None and approved.active and not approved.pending
    assert approved.deactivated_reason is None
    # Asking again for an active chat changes nothing; an admin's subscription is active.
    assert (await backend.add_destination(new, at(4), pending=True))[1] is False
    other = NewDestination(Platform.TELEGRAM, "-6", DestinationKind.GROUP)
    waiting, _ = await backend.add_destination(other, at(5), pending=True)
    assert await backend.deactivate_destination(waiting.id, "withdrawn", at(6))
    gone = await backend.get_destination(Platform.TELEGRAM, "-6")
    assert gone is not None and not gone.pending and not gone.active
    direct, _ = await backend.add_destination(other, at(7))
    assert direct.active and not direct.pending


async def test_hidden_comment_is_kept_but_not_counted_or_mirrored(backend: Store) -> None:
    article_id, refs = await posted_article(backend, "-1", "-2")
    result = await backend.ingest_comment(incoming("h", refs["-1"], hidden=True))
    assert result is not None
    comment, created = result
    assert created and comment.status is CommentStatus.HIDDEN
    stored = await backend.get_comment(comment.id)
    assert stored is not None and stored.status is CommentStatus.HIDDEN
    assert await backend.deliveries_for_comment(comment.id) == []
    assert await backend.count_comments(article_id) == 0


# -- leases: claims, roles, workers ---------------------------------------------------------


async def test_claims_are_leases_taken_over_only_after_expiry(backend: Store) -> None:
    ids = [await dest(backend, f"-{i}") for i in range(3)]
    await article(backend, *ids)
    mine = await backend.claim_deliveries(Platform.TELEGRAM, at(1), 2, worker="a", lease=10)
    assert {j.delivery.claimed_by for j in mine} == {"a"}
    assert all(j.delivery.next_attempt_at == at(11) for j in mine)
    # Another worker starting now finds only the unclaimed one, and cannot release a's.
    theirs = await backend.claim_deliveries(Platform.TELEGRAM, at(2), 10, worker="b", lease=10)
    assert len(theirs) == 1
    assert await backend.release_claims("b", Platform.DISCORD) == 0
    await backend.complete_delivery(theirs[0].delivery, Posted("b1"), at(3))
    # a renews its leases (renewal is per worker)...
    assert await backend.renew_claims("a", at(9), 10) == 2
    assert await backend.claim_deliveries(Platform.TELEGRAM, at(12), 10, worker="b") == []
    # ...then stalls: at expiry b takes both over, with one more attempt counted.
    taken = await backend.claim_deliveries(Platform.TELEGRAM, at(19), 10, worker="b", lease=10)
    assert sorted(j.delivery.id for j in taken) == sorted(j.delivery.id for j in mine)
    assert all(j.delivery.attempts == 2 and j.delivery.claimed_by == "b" for j in taken)
    assert await backend.renew_claims("a", at(20), 10) == 0
    # a wakes up and reports a failure: it no longer owns the claim, so nothing changes.
    await backend.retry_delivery(mine[0].delivery, "late", at(40), at(20))
    await backend.fail_delivery(mine[1].delivery, "late", at(20))
    by_id = {s.delivery.id: s.delivery for s in await backend.deliveries_for_article(1)}  # type: ignore[arg-type]
    assert all(by_id[j.delivery.id].state is DeliveryState.SENDING for j in taken)
    # But a post a made is still recorded: the message exists.
    await backend.complete_delivery(mine[0].delivery, Posted("late-post"), at(21))
    assert await backend.resolve_message(MessageRef(Platform.TELEGRAM, "-0", "late-post"))
    assert await backend.release_claims("b") == 1  # the one a finished is done, not b's
    assert await backend.next_due(Platform.TELEGRAM) is not None


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


async def test_delivery_counts_by_platform_and_state(backend: Store) -> None:
    ids = [await dest(backend, f"-{i}") for i in range(3)]
    ids.append(await dest(backend, "c1", Platform.DISCORD))
    await article(backend, *ids)
    (job,) = await backend.claim_deliveries(Platform.DISCORD, at(1), 5)
    await backend.complete_delivery(job.delivery, Posted("m"), at(2))
    await backend.claim_deliveries(Platform.TELEGRAM, at(1), 1)
    assert await backend.delivery_counts() == {
        (Platform.TELEGRAM, DeliveryState.PENDING): 2,
        (Platform.TELEGRAM, DeliveryState.SENDING): 1,
        (Platform.DISCORD, DeliveryState.SENT): 1,
    }


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
