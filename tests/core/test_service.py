"""Every use case of NewsService on a real store (SQLite and PostgreSQL) with a recording
publisher."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsbot import (
    Actor,
    ArticleDraft,
    ArticleStatus,
    Author,
    CommentStatus,
    DeliveryOp,
    DeliveryState,
    DestinationKind,
    Dispatcher,
    InvalidInput,
    MessageRef,
    NewDestination,
    NewsService,
    NotFound,
    PermissionDenied,
    Platform,
)
from newsbot.ports import Store
from tests.conftest import ADMIN, READER, FakeClock, draft, subscribe
from tests.fakes.publisher import RecordingPublisher
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
TG = Platform.TELEGRAM


def reply_ref(chat: str, message: str) -> MessageRef:
    return MessageRef(TG, chat, message)


async def posted_id(publisher: RecordingPublisher, chat: str) -> str:
    (call,) = publisher.ops("post", chat)
    assert call.message_id is not None
    return call.message_id


async def test_publish_fans_out_to_matching_active_destinations(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    await subscribe(service, "-1")
    await subscribe(service, "-2", tags=("sport",))
    await subscribe(service, "-3", tags=("politics", "world"))
    gone = await subscribe(service, "-4")
    await service.store.deactivate_destination(gone, "test", service.clock.now())  # type: ignore[arg-type]
    change = await service.publish(ADMIN, draft(tags=("world",)))
    assert change.queued == 2
    await dispatcher.drain()
    assert sorted(c.job.destination.chat_id for c in publisher.ops("post")) == ["-1", "-3"]
    job = publisher.ops("post")[0].job
    url = f"https://news.example/articles/{change.article.id}"
    assert job.article_url == f"{url}?via=d{job.destination.id}"  # counted arrivals
    assert change.article.author == Author("Ada Admin", TG, "42")
    statuses = await service.deliveries(change.article.id)
    assert {s.delivery.state for s in statuses} == {DeliveryState.SENT}


async def test_non_admin_is_refused_and_nothing_changes(
    service: NewsService, store: Store
) -> None:
    await subscribe(service, "-1")
    with pytest.raises(PermissionDenied, match="NEWSBOT_TELEGRAM_ADMINS"):
        await service.publish(READER, draft())
    assert (await service.latest()).articles == []
    with pytest.raises(PermissionDenied):
        await service.subscribe(READER, NewDestination(TG, "-5", DestinationKind.GROUP))
    assert len(await service.destinations()) == 1


async def test_chat_admin_may_subscribe_but_not_publish(service: NewsService) -> None:
    chat_admin = Actor(TG, "7", "Rita", chat_admin=True)
    result = await service.subscribe(chat_admin, NewDestination(TG, "-5", DestinationKind.GROUP))
    assert result.created
    with pytest.raises(PermissionDenied):
        await service.publish(chat_admin, draft())
    guild_manager = Actor(Platform.DISCORD, "1", "Mo", platform_admin=True)
    assert (await service.publish(guild_manager, draft())).article.id > 0


async def test_second_subscribe_is_a_noop_and_unsubscribe(service: NewsService) -> None:
    new = NewDestination(TG, "-9", DestinationKind.CHANNEL, title="Nine")
    first = await service.subscribe(ADMIN, new)
    second = await service.subscribe(ADMIN, new)
    assert first.created and not second.created
    assert first.destination == second.destination
    await service.unsubscribe(ADMIN, TG, "-9")
    with pytest.raises(NotFound, match="not subscribed"):
        await service.unsubscribe(ADMIN, TG, "-9")
    assert [d.active for d in await service.destinations()] == [False]


async def test_edit_and_retract_reach_every_posted_message(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    await subscribe(service, "-1")
    await subscribe(service, "-2")
    change = await service.publish(ADMIN, draft())
    await dispatcher.drain()
    edited = await service.edit(ADMIN, change.article.id, draft("New title", "New body"))
    assert edited.queued == 2 and edited.article.revision == 2
    await dispatcher.drain()
    edits = publisher.ops("edit")
    assert sorted(c.job.destination.chat_id for c in edits) == ["-1", "-2"]
    assert all(c.job.article.title == "New title" for c in edits)
    assert {c.message_id for c in edits} == {c.message_id for c in publisher.ops("post")}
    retracted = await service.retract(ADMIN, change.article.id)
    assert retracted.article.status is ArticleStatus.RETRACTED and retracted.queued == 2
    await dispatcher.drain()
    assert len(publisher.ops("delete")) == 2
    again = await service.retract(ADMIN, change.article.id)
    assert again.queued == 0
    with pytest.raises(InvalidInput, match="retracted"):
        await service.edit(ADMIN, change.article.id, draft())
    assert (await service.latest()).articles == []


async def test_retract_before_sending_cancels(service: NewsService) -> None:
    await subscribe(service, "-1")
    change = await service.publish(ADMIN, draft())
    await service.retract(ADMIN, change.article.id)
    (status,) = await service.deliveries(change.article.id)
    assert status.delivery.state is DeliveryState.DEAD
    assert "cancelled" in (status.delivery.last_error or "")


async def test_record_reply_threads_and_parents(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    await subscribe(service, "-1", kind=DestinationKind.GROUP)
    change = await service.publish(ADMIN, draft())
    await dispatcher.drain()
    post = await posted_id(publisher, "-1")
    bob = Author("Bob", TG, "8")
    top = await service.record_reply(
        reply_to=reply_ref("-1", post), source=reply_ref("-1", "500"), author=bob, text="first!"
    )
    assert top is not None and top.article_id == change.article.id and top.parent_id is None
    child = await service.record_reply(
        reply_to=reply_ref("-1", "500"), source=reply_ref("-1", "501"), author=bob, text="reply"
    )
    assert child is not None and child.parent_id == top.id
    again = await service.record_reply(
        reply_to=reply_ref("-1", "500"), source=reply_ref("-1", "501"), author=bob, text="reply"
    )
    assert again == child
    unrelated = await service.record_reply(
        reply_to=reply_ref("-1", "9999"), source=reply_ref("-1", "502"), author=bob, text="?"
    )
    assert unrelated is None
    page = await service.thread(change.article.id)
    assert page.total == 2
    assert [n.comment.id for n in page.comments] == [top.id]
    assert [n.comment.id for n in page.comments[0].replies] == [child.id]


async def test_comment_edit_delete_and_tombstone(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    await subscribe(service, "-1", kind=DestinationKind.GROUP)
    change = await service.publish(ADMIN, draft())
    await dispatcher.drain()
    post = await posted_id(publisher, "-1")
    bob = Author("Bob", TG, "8")
    top = await service.record_reply(
        reply_to=reply_ref("-1", post), source=reply_ref("-1", "10"), author=bob, text="one"
    )
    assert top is not None
    await service.record_reply(
        reply_to=reply_ref("-1", "10"), source=reply_ref("-1", "11"), author=bob, text="two"
    )
    edited = await service.edit_comment(reply_ref("-1", "10"), "one, edited")
    assert edited is not None and edited.text == "one, edited" and edited.edited_at is not None
    assert await service.edit_comment(reply_ref("-1", "404"), "x") is None
    deleted = await service.delete_comment_by_source(reply_ref("-1", "10"))
    assert deleted is not None and deleted.status is CommentStatus.DELETED
    page = await service.thread(change.article.id)
    assert page.total == 1
    (root,) = page.comments
    assert root.comment.text == "" and root.comment.author.name == ""  # placeholder
    assert [r.comment.text for r in root.replies] == ["two"]


async def test_discussion_copy_links_to_article(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    await subscribe(service, "-100")
    change = await service.publish(ADMIN, draft())
    await dispatcher.drain()
    post = await posted_id(publisher, "-100")
    copy = reply_ref("-200", "3")
    assert await service.link_copy(reply_ref("-100", post), copy)
    assert not await service.link_copy(reply_ref("-100", "nope"), reply_ref("-200", "4"))
    comment = await service.record_reply(
        reply_to=copy, source=reply_ref("-200", "4"), author=Author("C", TG, "9"), text="hi"
    )
    assert comment is not None and comment.article_id == change.article.id


async def test_mirroring_skips_source_and_replies_to_parent_copy(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    await subscribe(service, "-1", kind=DestinationKind.GROUP)
    await subscribe(service, "-2", kind=DestinationKind.GROUP)
    await service.publish(ADMIN, draft())
    await dispatcher.drain()
    post1 = await posted_id(publisher, "-1")
    post2 = await posted_id(publisher, "-2")
    top = await service.record_reply(
        reply_to=reply_ref("-1", post1),
        source=reply_ref("-1", "20"),
        author=Author("Bob", TG, "8"),
        text="from one",
    )
    assert top is not None
    await dispatcher.drain()
    (mirror,) = [c for c in publisher.ops("post") if c.job.comment is not None]
    assert mirror.job.destination.chat_id == "-2" and mirror.job.reply_to == post2
    assert mirror.message_id is not None
    # A reply in -2 to the mirrored copy lands under the comment and goes back to -1 only,
    # as a reply to the original message there.
    child = await service.record_reply(
        reply_to=reply_ref("-2", mirror.message_id),
        source=reply_ref("-2", "30"),
        author=Author("Eve", TG, "9"),
        text="answer",
    )
    assert child is not None and child.parent_id == top.id
    await dispatcher.drain()
    back = [
        c
        for c in publisher.ops("post")
        if c.job.comment is not None and c.job.comment.id == child.id
    ]
    assert [(c.job.destination.chat_id, c.job.reply_to) for c in back] == [("-1", "20")]
    # Deleting the comment deletes its mirrors.
    await service.delete_comment(ADMIN, top.id)
    await dispatcher.drain()
    assert [c.message_id for c in publisher.ops("delete")] == [mirror.message_id]


async def test_mirror_off(store: Store, publisher: RecordingPublisher) -> None:
    service = NewsService(store, admins={TG: {"42"}}, mirror=False)
    dispatcher = Dispatcher(store, {TG: publisher}, poll_interval=0.05)
    service.on_enqueue(dispatcher.wake)
    async with dispatcher:
        await subscribe(service, "-1", kind=DestinationKind.GROUP)
        await subscribe(service, "-2", kind=DestinationKind.GROUP)
        await service.publish(ADMIN, draft())
        await dispatcher.drain()
        post1 = await posted_id(publisher, "-1")
        await service.record_reply(
            reply_to=reply_ref("-1", post1),
            source=reply_ref("-1", "20"),
            author=Author("Bob", TG, "8"),
            text="x",
        )
        await dispatcher.drain()
    assert [c.job.comment for c in publisher.calls if c.job.comment is not None] == []


async def test_ban_deletes_and_blocks(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    await subscribe(service, "-1", kind=DestinationKind.GROUP)
    change = await service.publish(ADMIN, draft())
    await dispatcher.drain()
    post = await posted_id(publisher, "-1")
    spam = Author("Spam", TG, "66")
    await service.record_reply(
        reply_to=reply_ref("-1", post), source=reply_ref("-1", "1"), author=spam, text="buy"
    )
    with pytest.raises(PermissionDenied):
        await service.ban(READER, TG, "66")
    assert await service.ban(ADMIN, TG, "66") == 1
    blocked = await service.record_reply(
        reply_to=reply_ref("-1", post), source=reply_ref("-1", "2"), author=spam, text="buy!"
    )
    assert blocked is None
    assert (await service.thread(change.article.id)).total == 0
    assert await service.unban(ADMIN, TG, "66")
    assert not await service.unban(ADMIN, TG, "66")


async def test_web_comment(service: NewsService) -> None:
    change = await service.publish(ADMIN, draft())
    c = await service.add_web_comment(change.article.id, "  Wendy ", "Hello <b>", client_key="t1")
    assert c.author.name == "Wendy" and c.author.platform is Platform.WEB and c.text == "Hello <b>"
    same = await service.add_web_comment(change.article.id, "Wendy", "Hello <b>", client_key="t1")
    assert same.id == c.id
    reply = await service.add_web_comment(
        change.article.id, "Will", "Re", parent_id=c.id, client_key="t2"
    )
    assert reply.parent_id == c.id
    with pytest.raises(InvalidInput, match="longer than 64"):
        await service.add_web_comment(change.article.id, "x" * 65, "t", client_key="t3")
    with pytest.raises(InvalidInput, match="write a comment"):
        await service.add_web_comment(change.article.id, "x", "   ", client_key="t4")
    with pytest.raises(NotFound):
        await service.add_web_comment(change.article.id, "x", "t", parent_id=999, client_key="t5")  # type: ignore[arg-type]


async def test_thread_pagination_cursor(service: NewsService) -> None:
    change = await service.publish(ADMIN, draft())
    ids = []
    for i in range(7):
        c = await service.add_web_comment(change.article.id, "n", f"c{i}", client_key=f"k{i}")
        ids.append(c.id)
    seen: list[int] = []
    cursor = None
    while True:
        page = await service.thread(change.article.id, cursor=cursor, limit=3)
        seen += [n.comment.id for n in page.comments]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ids
    newest = await service.thread(change.article.id, limit=2, newest_first=True)
    assert [n.comment.id for n in newest.comments] == ids[::-1][:2]
    with pytest.raises(InvalidInput, match="cursor"):
        await service.thread(change.article.id, cursor="garbage!!")
    with pytest.raises(InvalidInput):
        await service.thread(change.article.id, limit=0)


async def test_latest_pagination(service: NewsService) -> None:
    ids = [(await service.publish(ADMIN, draft(f"t{i}"))).article.id for i in range(5)]
    first = await service.latest(limit=2)
    assert [a.id for a in first.articles] == ids[::-1][:2]
    assert first.next_cursor is not None
    rest = await service.latest(limit=10, cursor=first.next_cursor)
    assert [a.id for a in rest.articles] == ids[::-1][2:] and rest.next_cursor is None


async def test_destination_gone(service: NewsService) -> None:
    await subscribe(service, "-1")
    assert await service.destination_gone(TG, "-1", "bot was kicked") == 1
    assert await service.destination_gone(TG, "-1", "bot was kicked") == 0
    (d,) = await service.destinations()
    assert not d.active and d.deactivated_reason == "bot was kicked"


async def test_unknown_ids(service: NewsService) -> None:
    with pytest.raises(NotFound, match="no article 12345"):
        await service.article(12345)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await service.edit(ADMIN, 12345, draft())  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await service.retract(ADMIN, 12345)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await service.thread(12345)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await service.deliveries(12345)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await service.delete_comment(ADMIN, 12345)  # type: ignore[arg-type]


async def test_edit_ops_follow_generation(
    service: NewsService, dispatcher: Dispatcher, publisher: RecordingPublisher
) -> None:
    await subscribe(service, "-1")
    change = await service.publish(ADMIN, draft())
    await dispatcher.drain()
    await service.edit(ADMIN, change.article.id, draft("B"))
    await service.edit(ADMIN, change.article.id, draft("C"))
    await dispatcher.drain()
    edits = publisher.ops("edit")
    assert edits and edits[-1].job.article.title == "C"
    (status,) = await service.deliveries(change.article.id)
    assert status.delivery.op is DeliveryOp.EDIT and status.delivery.state is DeliveryState.SENT


async def test_validation_normalises_draft(service: NewsService) -> None:
    change = await service.publish(
        ADMIN,
        ArticleDraft(
            "  Title  ", "Body\r\nline", " s ", " https://x.example/a ", None, ("#World", "world")
        ),
    )
    a = change.article
    assert (a.title, a.body, a.summary, a.url, a.tags) == (
        "Title",
        "Body\nline",
        "s",
        "https://x.example/a",
        ("world",),
    )


async def test_comment_count_refresh_is_paced(store: Store, publisher: RecordingPublisher) -> None:
    """Five replies within the pace make one edit. The clock is a fake one that moves only
    when told: however slowly a loaded machine stores the replies, no edit may fall due
    before the pace has passed."""
    from newsbot import CountRefresh

    clock = FakeClock()
    service = NewsService(
        store,
        admins={TG: {"42"}},
        count_refresh=CountRefresh(min_interval=2.0, per_second=1000),
        clock=clock,
    )
    dispatcher = Dispatcher(store, {TG: publisher}, poll_interval=0.02, clock=clock)
    service.on_enqueue(dispatcher.wake)
    async with dispatcher:
        await subscribe(service, "-1", kind=DestinationKind.GROUP)
        change = await service.publish(ADMIN, draft())
        await dispatcher.drain()
        post = await posted_id(publisher, "-1")
        for n in range(5):
            await service.record_reply(
                reply_to=reply_ref("-1", post),
                source=reply_ref("-1", f"r{n}"),
                author=Author("Bob", TG, "8"),
                text=f"comment {n}",
            )
        (status,) = await service.deliveries(change.article.id)
        assert status.delivery.op is DeliveryOp.EDIT
        assert status.delivery.state is DeliveryState.PENDING
        # Due once min_interval has passed since the post was sent (the clock has not moved).
        assert status.delivery.next_attempt_at == clock.now() + timedelta(seconds=2)
        assert publisher.ops("edit") == []
        clock.advance(2.0)
        await dispatcher.drain()
    edits = publisher.ops("edit")
    assert len(edits) == 1  # five comments, one edit
    assert edits[0].job.comment_count == 5


async def test_copy_linked_by_the_article_address_it_carries(service: NewsService) -> None:
    await subscribe(service, "-100")
    article = (await service.publish(ADMIN, draft())).article
    url = service.article_url(article.id)
    assert service.article_in_url(url) == article.id
    assert service.article_in_url(url + "-a-slug?x=1") == article.id
    assert service.article_in_url("https://elsewhere.example/articles/1") is None
    copy = reply_ref("-200", "5")
    assert not await service.link_article_copy(copy, article.id, "-999")  # not a destination
    assert await service.link_article_copy(copy, article.id, "-100")
    comment = await service.record_reply(
        reply_to=copy, source=reply_ref("-200", "6"), author=Author("R", TG, "7"), text="hi"
    )
    assert comment is not None and comment.article_id == article.id
    await service.retract(ADMIN, article.id)
    assert not await service.link_article_copy(reply_ref("-200", "9"), article.id, "-100")


async def test_a_migrated_chat_keeps_its_subscriptions_and_requests(service: NewsService) -> None:
    """A group that became a supergroup: approved stays approved, a request keeps waiting,
    both under the new id only; reported again, nothing more moves."""
    await subscribe(service, "-41", tags=("tech",))
    asker = Actor(TG, "7", "Asker", chat_admin=True)
    await service.subscribe(asker, NewDestination(TG, "-42", DestinationKind.GROUP))
    assert await service.chat_migrated(TG, "-41", "-1001") == 1
    assert await service.chat_migrated(TG, "-42", "-1002") == 1
    assert await service.chat_migrated(TG, "-41", "-1001") == 0
    found = {d.chat_id: d for d in await service.destinations(TG)}
    assert (found["-41"].active, found["-41"].pending) == (False, False)
    assert (found["-42"].active, found["-42"].pending) == (False, False)
    assert (found["-1001"].active, found["-1001"].pending) == (True, False)
    assert found["-1001"].tags == ("tech",)
    assert (found["-1002"].active, found["-1002"].pending) == (False, True)
    assert [d.chat_id for d in await service.pending_destinations()] == ["-1002"]


async def test_a_chat_cannot_migrate_to_an_id_that_names_no_chat(service: NewsService) -> None:
    await subscribe(service, "-43")
    with pytest.raises(InvalidInput):
        await service.chat_migrated(TG, "-43", "not a chat")
    (d,) = await service.destinations(TG)
    assert d.active and d.chat_id == "-43"
