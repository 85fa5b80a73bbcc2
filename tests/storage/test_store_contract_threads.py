"""The Store contract, threads and comments: ingest, parents, mirrors, pages."""

from __future__ import annotations

import asyncio

from newsbot import (
    Author,
    CommentStatus,
    DeliveryOp,
    DeliveryState,
    MessageLink,
    MessageRef,
    Platform,
    Posted,
    Store,
)
from newsbot.models import (
    CountRefresh,
    IncomingComment,
    ThreadCursor,
)
from tests.storage.contract_helpers import (
    T0,
    article,
    at,
    comment,
    dest,
    incoming,
    posted_article,
)


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


async def test_has_visible_comment_is_true_while_one_is_visible(backend: Store) -> None:
    article_id = await article(backend)
    rita = (Platform.TELEGRAM, "7")
    assert not await backend.has_visible_comment(*rita)
    first, _ = await backend.add_comment(comment(article_id, "1"))
    second, _ = await backend.add_comment(comment(article_id, "2"))
    assert await backend.has_visible_comment(*rita)
    assert not await backend.has_visible_comment(Platform.TELEGRAM, "8")
    assert not await backend.has_visible_comment(Platform.DISCORD, "7")
    await backend.set_comment_status(first.id, CommentStatus.HIDDEN, at(5))
    assert await backend.has_visible_comment(*rita)  # the second is still shown
    await backend.set_comment_status(second.id, CommentStatus.DELETED, at(6))
    assert not await backend.has_visible_comment(*rita)
    assert await backend.comments_by_author(*rita) == []  # the two agree


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
    for i, comment in enumerate(stored):  # noqa: F402 (shadowed the helper before the split too)
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
