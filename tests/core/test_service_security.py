"""The service's rules against strangers and repeats: requests carried out once, subscriptions
waiting for approval, intake limits, web identities and name bans, retracted threads, names
that cannot reorder the text around them. Real SQLite, no platform."""

from __future__ import annotations

import pytest

from newsbot import (
    Actor,
    ArticleId,
    Author,
    CommentStatus,
    DestinationKind,
    IntakeLimits,
    MessageRef,
    NewDestination,
    NewsService,
    NotFound,
    PermissionDenied,
    Platform,
    Posted,
    web_identity,
)
from newsbot.errors import InvalidInput
from newsbot.ports import Store
from newsbot.service import PENDING_MAX, REQUESTS_PER_DAY
from newsbot.text import clean_name, name_key, strip_control_chars
from tests.conftest import ADMIN, READER, FakeClock, draft
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)

GROUP_ADMIN = Actor(Platform.TELEGRAM, "77", "Group Admin", chat_admin=True)


async def test_one_request_publishes_once(service: NewsService, store: Store) -> None:
    await service.subscribe(
        ADMIN, NewDestination(Platform.TELEGRAM, "-1", DestinationKind.CHANNEL)
    )
    first = await service.publish(ADMIN, draft(), request="telegram:42:100")
    again = await service.publish(ADMIN, draft(), request="telegram:42:100")
    assert not first.repeated and first.queued == 1
    assert again.repeated and again.article == first.article and again.queued == 0
    assert [a.id for a in (await service.latest()).articles] == [first.article.id]
    assert len(await service.deliveries(first.article.id)) == 1
    # A new message is a new request.
    other = await service.publish(ADMIN, draft(), request="telegram:42:101")
    assert not other.repeated and other.article.id != first.article.id


async def test_one_request_edits_once(service: NewsService) -> None:
    article = (await service.publish(ADMIN, draft())).article
    edited = await service.edit(ADMIN, article.id, draft("New"), request="discord:i:5")
    again = await service.edit(ADMIN, article.id, draft("Newer"), request="discord:i:5")
    assert not edited.repeated and edited.article.revision == 2
    assert again.repeated and again.article.revision == 2 and again.article.title == "New"


async def test_chat_admin_subscription_waits_for_approval(service: NewsService) -> None:
    result = await service.subscribe(
        GROUP_ADMIN, NewDestination(Platform.TELEGRAM, "-9", DestinationKind.GROUP)
    )
    assert result.created and result.destination.pending and not result.destination.active
    change = await service.publish(ADMIN, draft())
    assert change.queued == 0
    assert [d.chat_id for d in await service.pending_destinations()] == ["-9"]
    with pytest.raises(PermissionDenied):
        await service.approve(GROUP_ADMIN, Platform.TELEGRAM, "-9")
    approved = await service.approve(ADMIN, Platform.TELEGRAM, "-9")
    assert approved.active and not approved.pending
    assert (await service.publish(ADMIN, draft("Second"))).queued == 1
    with pytest.raises(NotFound):
        await service.approve(ADMIN, Platform.TELEGRAM, "-9")
    # The newsbot admin's own subscription needs no approval.
    own = await service.subscribe(
        ADMIN, NewDestination(Platform.TELEGRAM, "-10", DestinationKind.GROUP)
    )
    assert own.destination.active


def asker(n: int) -> Actor:
    return Actor(Platform.TELEGRAM, f"90{n}", f"Asker {n}", chat_admin=True)


def group(chat: str) -> NewDestination:
    return NewDestination(Platform.TELEGRAM, chat, DestinationKind.GROUP)


async def test_requests_waiting_for_approval_are_bounded(service: NewsService) -> None:
    for n in range(PENDING_MAX):
        await service.subscribe(asker(n // REQUESTS_PER_DAY), group(f"-5{n:03d}"))
    late = asker(999)
    with pytest.raises(InvalidInput, match=f"{PENDING_MAX} chats are already waiting"):
        await service.subscribe(late, group("-6000"))
    assert len(await service.pending_destinations()) == PENDING_MAX
    # Asking again for a chat that waits is answered as before.
    again = await service.subscribe(asker(0), group("-5000"))
    assert not again.created and again.destination.pending
    # Once an admin goes through the list there is room again.
    await service.approve(ADMIN, Platform.TELEGRAM, "-5000")
    assert (await service.subscribe(late, group("-6000"))).destination.pending
    # A newsbot admin's own subscriptions never wait, so never count.
    assert (await service.subscribe(ADMIN, group("-7000"))).destination.active


async def test_one_person_asks_for_at_most_ten_subscriptions_a_day(store: Store) -> None:
    clock = FakeClock()
    service = NewsService(store, admins={Platform.TELEGRAM: {"42"}}, clock=clock)
    for n in range(REQUESTS_PER_DAY):
        assert (await service.subscribe(asker(1), group(f"-{n + 1}"))).destination.pending
    with pytest.raises(InvalidInput, match=f"asked for {REQUESTS_PER_DAY} subscriptions"):
        await service.subscribe(asker(1), group("-99"))
    assert len(await service.pending_destinations()) == REQUESTS_PER_DAY
    # Repeats are free; someone else may still ask; a day later, so may they.
    assert not (await service.subscribe(asker(1), group("-1"))).created
    assert (await service.subscribe(asker(2), group("-98"))).created
    clock.advance(86400)
    assert (await service.subscribe(asker(1), group("-99"))).destination.pending


async def test_open_subscriptions_need_no_approval(store: Store) -> None:
    service = NewsService(store, open_subscriptions=True)
    result = await service.subscribe(
        GROUP_ADMIN, NewDestination(Platform.TELEGRAM, "-9", DestinationKind.GROUP)
    )
    assert result.destination.active and not result.destination.pending


async def test_a_pending_request_can_be_withdrawn(service: NewsService) -> None:
    await service.subscribe(
        GROUP_ADMIN, NewDestination(Platform.TELEGRAM, "-9", DestinationKind.GROUP)
    )
    await service.unsubscribe(GROUP_ADMIN, Platform.TELEGRAM, "-9")
    assert await service.pending_destinations() == []


async def test_intake_limits_hide_floods_and_never_mirror_them(store: Store) -> None:
    clock = FakeClock()
    service = NewsService(
        store,
        admins={Platform.TELEGRAM: {"42"}},
        clock=clock,
        intake=IntakeLimits(per_author=3, per_chat=5, window=60),
    )
    for chat in ("-1", "-2"):
        await service.subscribe(
            ADMIN, NewDestination(Platform.TELEGRAM, chat, DestinationKind.GROUP)
        )
    article = (await service.publish(ADMIN, draft())).article
    for job in await store.claim_deliveries(Platform.TELEGRAM, clock.now(), 10):
        ref = MessageRef(Platform.TELEGRAM, job.destination.chat_id, "post")
        await store.complete_delivery(job.delivery, Posted("post", links=(ref,)), clock.now())
    post = MessageRef(Platform.TELEGRAM, "-1", "post")

    async def by(n: int, user: str) -> tuple[CommentStatus, int]:
        comment = await service.record_reply(
            reply_to=post,
            source=MessageRef(Platform.TELEGRAM, "-1", f"m{n}"),
            author=Author(f"user {user}", Platform.TELEGRAM, user),
            text=f"reply {n}",
        )
        assert comment is not None
        return comment.status, len(await store.deliveries_for_comment(comment.id))

    # One author: 3 a minute, then hidden and not mirrored to -2.
    got = [await by(n, "7") for n in range(4)]
    assert got[:3] == [(CommentStatus.VISIBLE, 1)] * 3
    assert got[3] == (CommentStatus.HIDDEN, 0)
    # The chat: 5 a minute across authors (3 accepted so far: the hidden one takes no place).
    assert await by(10, "8") == (CommentStatus.VISIBLE, 1)
    assert await by(11, "9") == (CommentStatus.VISIBLE, 1)
    assert await by(14, "10") == (CommentStatus.HIDDEN, 0)
    assert await service.comment_count(article.id) == 5
    clock.advance(61)
    assert await by(12, "7") == (CommentStatus.VISIBLE, 1)


async def test_web_identity_is_keyed_and_stable() -> None:
    a = web_identity(b"k1", "session-1")
    assert a == web_identity(b"k1", "session-1")
    assert a != web_identity(b"k2", "session-1") != web_identity(b"k1", "session-2")
    assert a.startswith("w:") and "session-1" not in a


NINA_LOOK_ALIKES = (
    "Nina.",
    "NINA",
    "Nіna",  # Cyrillic і
    "Νina",  # Greek capital nu
    "Ｎｉｎａ",
    "𝐍𝐢𝐧𝐚",
    "Ⓝⓘⓝⓐ",
    "ᴺⁱⁿᵃ",
    "N i n a",
    "N1na",
    "\u202eNina",
    "N\u200bi\u00adna",  # a zero-width space and a soft hyphen
    "Niná",
    "Nina\u0301",  # a combining acute accent
    "ÑÌÑÀ",
    "Nïnä",
    "Ńįņą",
    "Nịna",
    "NİNA",  # Turkish capital I with a dot
    "Nına",  # dotless i
    "ɴɪɴᴀ",  # small capitals
    "Nɪɴᴀ",
    "ɲina",  # n with a left hook
    "ƞina",  # n with a long right leg
    "Niꞑa",  # n with a descender
)


@pytest.mark.parametrize("look_alike", NINA_LOOK_ALIKES)
def test_name_keys_see_through_look_alikes(look_alike: str) -> None:
    assert name_key(look_alike) == name_key("Nina")


def test_name_keys_keep_different_names_apart() -> None:
    nina = name_key("Nina")
    for other in ("Nino", "Anna", "Nia", "Ника"):
        assert name_key(other) != nina, other
    # Other scripts are compared as they look, not as they sound.
    assert name_key("李明") != name_key("理明")
    assert name_key("Мария") != name_key("Марта")
    assert name_key("l1I|" * 16) == "l" * 64  # linear, not every combination


def test_names_lose_bidi_controls() -> None:
    assert clean_name("Eve\u202e (Editor)\u202c") == "Eve (Editor)"
    assert clean_name("a\u2066b\u2069") == "ab"


async def test_names_and_comments_lose_c1_controls(service: NewsService) -> None:
    """U+009B is CSI to a terminal, as ESC [ is: it must not reach ``bot.py comments``."""
    article = (await service.publish(ADMIN, draft())).article
    comment = await service.add_web_comment(
        article.id, "Eve\x9b31m\x85", "red\x9b2J\x80 text\x9f", client_key="c1"
    )
    assert (comment.author.name, comment.text) == ("Eve31m", "red2J text")
    [stored] = (await service.thread(article.id)).comments
    assert (stored.comment.author.name, stored.comment.text) == ("Eve31m", "red2J text")
    assert strip_control_chars("a\x1b[2J\x9b2J\tb\n") == "a[2J2J\tb\n"


async def test_name_bans_stored_by_earlier_versions_still_hold(
    service: NewsService, store: Store
) -> None:
    article = (await service.publish(ADMIN, draft())).article
    # Name keys kept accents before: a ban on "Niná" was stored as "nlná".
    await store.set_ban(Platform.WEB, "name:nlná", True, service.clock.now())
    with pytest.raises(PermissionDenied):
        await service.add_web_comment(article.id, "Niná", "x", client_key="1")
    assert await service.unban(Actor.operator(), Platform.WEB, "Niná")
    comment = await service.add_web_comment(article.id, "Niná", "back", client_key="2")
    assert comment.text == "back"


async def test_web_bans_follow_identity_and_name(service: NewsService) -> None:
    article = (await service.publish(ADMIN, draft())).article
    nina, impostor = web_identity(b"k", "nina"), web_identity(b"k", "impostor")
    await service.add_web_comment(article.id, "Nina", "hi", client_key="1", user_id=nina)
    fake = await service.add_web_comment(
        article.id, "Nina", "spam", client_key="2", user_id=impostor
    )
    # Banning the impostor's comment bans the impostor, not the real Nina.
    await service.ban(Actor.operator(), Platform.WEB, fake.author.user_id)
    with pytest.raises(PermissionDenied):
        await service.add_web_comment(article.id, "Bob", "x", client_key="3", user_id=impostor)
    await service.add_web_comment(article.id, "Nina", "still me", client_key="4", user_id=nina)
    # A banned name catches its look-alikes, whoever types them.
    await service.ban_name(Actor.operator(), "Troll")
    for n, name in enumerate(("Troll.", "TROLL", "Тroll")):
        with pytest.raises(PermissionDenied):
            await service.add_web_comment(
                article.id, name, "x", client_key=f"t{n}", user_id=web_identity(b"k", name)
            )
    # Accents and small capitals do not get round a ban on a name.
    await service.ban_name(Actor.operator(), "Nina")
    for n, name in enumerate(("Niná", "ɴɪɴᴀ", "Ñina")):
        with pytest.raises(PermissionDenied):
            await service.add_web_comment(
                article.id, name, "x", client_key=f"n{n}", user_id=web_identity(b"k", name)
            )
    # Older comments were keyed by name: banning such an id bans the name too.
    await service.ban(Actor.operator(), Platform.WEB, "Olga")
    with pytest.raises(PermissionDenied):
        await service.add_web_comment(
            article.id, "Olga!", "x", client_key="o", user_id=web_identity(b"k", "o")
        )


async def test_retracted_thread_is_gone_except_for_admins(service: NewsService) -> None:
    article = (await service.publish(ADMIN, draft())).article
    await service.add_web_comment(article.id, "Wendy", "hi", client_key="1")
    await service.retract(ADMIN, article.id)
    with pytest.raises(NotFound):
        await service.thread(article.id)
    with pytest.raises(NotFound):
        await service.thread(article.id, viewer=READER)
    with pytest.raises(NotFound):
        await service.readable_article(article.id, READER)
    assert (await service.thread(article.id, viewer=ADMIN)).total == 1
    assert (await service.readable_article(article.id, Actor.operator())).id == article.id
    with pytest.raises(NotFound):
        await service.thread(ArticleId(999), viewer=ADMIN)
