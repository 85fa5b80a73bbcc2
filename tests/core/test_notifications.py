"""Reply notifications: who is told (the pure rule) and what the service queues."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from newsbot import Dispatcher, Job, NewsService, Platform, Posted
from newsbot.models import ArticleId, Comment, CommentId
from newsbot.notifications import Notice, NoticeJob, Prefs, recipients, to_send
from newsbot.people import Account, Person, PersonId, Proof, Proven, web_author_id
from newsbot.review import DeskSettings, WordList
from tests.conftest import ADMIN, draft, subscribe
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.wait import wait_for
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
TG = Platform.TELEGRAM
NINA = Proven(TG, "777", "Nina", Proof.TELEGRAM_LOGIN)
LATER = datetime(2100, 1, 1, tzinfo=UTC)


def person(*accounts: tuple[Platform, str, Proof], banned: bool = False) -> Person:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Person(
        PersonId(1),
        tuple(Account(p, a, "n", str(proof), now) for p, a, proof in accounts),
        banned,
        True,
        now,
    )


def test_rule_signed_in_accounts_by_default_chat_accounts_only_when_on() -> None:
    signed = person((TG, "1", Proof.TELEGRAM_LOGIN), (Platform.DISCORD, "2", Proof.LINK_CODE))
    web = (Platform.WEB, "x")
    assert recipients(signed, None, None, web, {}) == [(TG, "1")]
    started = {(Platform.DISCORD, "2"): Prefs(started=True)}
    assert recipients(signed, None, None, web, started) == [(TG, "1"), (Platform.DISCORD, "2")]
    refused = {(TG, "1"): Prefs(started=False, notify=False)}
    assert recipients(signed, None, None, web, refused) == []
    assert (
        recipients(person((TG, "1", Proof.TELEGRAM_LOGIN), banned=True), None, None, web, {}) == []
    )
    assert recipients(signed, None, signed, web, {}) == []  # the same person
    assert recipients(signed, None, None, (TG, "1"), {}) == []  # the same account
    lone = (TG, "5")
    assert recipients(None, lone, None, web, {lone: Prefs(started=True)}) == []  # off by default
    assert recipients(None, lone, None, web, {lone: Prefs(True, True)}) == [lone]
    assert recipients(None, lone, None, web, {lone: Prefs(False, True)}) == []  # never started
    assert recipients(None, (Platform.WEB, "w:1"), None, web, {}) == []


async def _thread(service: NewsService) -> tuple[ArticleId, Comment]:
    change = await service.publish(ADMIN, draft(title="Rates <up>"))
    article_id = change.article.id
    await service.people.sign_in(NINA)
    parent = await service.add_web_comment(
        article_id, "Nina", "first", client_key="nina", user_id=web_author_id(NINA)
    )
    return article_id, parent


async def _reply(service: NewsService, article_id: ArticleId, parent: Comment, n: int) -> Comment:
    return await service.add_web_comment(
        article_id,
        "Bob",
        f"reply {n}",
        parent_id=parent.id,
        client_key=f"bob{n}",
        user_id=f"w:b{n}",
    )


async def _claimed(service: NewsService) -> list[NoticeJob]:
    return await service.store.claim_notices(TG, LATER, 100, worker="t", lease=30)


async def test_a_reply_to_a_signed_in_reader_is_queued_once_and_coalesced(
    service: NewsService,
) -> None:
    article_id, parent = await _thread(service)
    for n in range(10):
        await _reply(service, article_id, parent, n)
    [job] = await _claimed(service)
    assert job.account_id == "777" and job.count == 10
    first = job.notices[0]
    assert first.title == "Rates <up>" and first.text == "reply 0" and first.author == "Bob"
    assert first.url == f"https://news.example/comments/{first.comment_id}"


async def test_none_when_off_to_oneself_or_banned(service: NewsService) -> None:
    article_id, parent = await _thread(service)
    await service.add_web_comment(
        article_id, "Nina", "me", parent_id=parent.id, client_key="n2", user_id=web_author_id(NINA)
    )
    assert await _claimed(service) == []
    assert await service.notifications.switch(TG, "777", False) is False
    await _reply(service, article_id, parent, 1)
    assert await _claimed(service) == []
    await service.notifications.switch(TG, "777", True)
    nina = await service.people.find(TG, "777")
    assert nina is not None
    await service.people.ban(ADMIN, nina.id)
    await _reply(service, article_id, parent, 2)
    assert await _claimed(service) == []


async def test_a_held_reply_is_told_when_approved(service: NewsService) -> None:
    article_id, parent = await _thread(service)
    service.desk_settings = DeskSettings(words=WordList(["casino"]))
    held = await service.add_web_comment(
        article_id, "Bob", "casino!", parent_id=parent.id, client_key="b", user_id="w:b"
    )
    assert await _claimed(service) == []
    await service.desk.approve(ADMIN, held.id)
    [job] = await _claimed(service)
    assert [n.comment_id for n in job.notices] == [held.id]


async def test_a_chat_account_is_told_only_after_notifications_on(service: NewsService) -> None:
    service.notifications.delay = timedelta(0)
    assert not await service.notifications.enabled(TG, "55")
    await service.notifications.switch(TG, "55", True)
    assert await service.notifications.enabled(TG, "55")
    await service.notifications.refused(TG, "55")
    assert not await service.notifications.enabled(TG, "55")


@dataclass
class Notifying(RecordingPublisher):
    """A recording publisher that also sends notices; ``order`` is every send in turn."""

    order: list[str] = field(default_factory=list)
    notices: list[NoticeJob] = field(default_factory=list)

    async def post(self, job: Job) -> Posted:
        self.order.append("post")
        return await super().post(job)

    async def notify(self, job: NoticeJob) -> None:
        self.order.append(f"notice:{job.account_id}:{job.count}")
        self.notices.append(job)


async def test_notices_go_after_the_due_fan_out_and_once_with_two_workers(
    service: NewsService,
) -> None:
    for n in range(30):
        await subscribe(service, str(-100 - n))
    service.notifications.delay = timedelta(0)
    service.mirror = False  # the article's 30 posts only
    article_id, parent = await _thread(service)
    for n in range(3):
        await _reply(service, article_id, parent, n)
    publisher = Notifying(TG)
    workers = [
        Dispatcher(
            service.store,
            {TG: publisher},
            poll_interval=0.05,
            concurrency=2,
            notices=service.store,
        )
        for _ in range(2)
    ]
    for worker in workers:
        await worker.start()
    try:
        await wait_for(
            lambda: any(o.startswith("notice") for o in publisher.order), 30, "the notice"
        )
        for worker in workers:
            await worker.drain(10)
    finally:
        for worker in workers:
            await worker.stop()
    notices = [o for o in publisher.order if o.startswith("notice")]
    assert notices == ["notice:777:3"]  # one message, sent once
    # Claimed only when no delivery was left due: at most the last claims' posts follow it.
    assert publisher.order.index(notices[0]) >= 30 - 2 * 2
    assert publisher.order.count("post") == 30


async def test_a_reply_hidden_before_the_notice_is_sent_is_left_out(service: NewsService) -> None:
    article_id, parent = await _thread(service)
    service.notifications.delay = timedelta(0)
    hidden = await _reply(service, article_id, parent, 1)
    shown = await _reply(service, article_id, parent, 2)
    await service.delete_comment(ADMIN, hidden.id)
    publisher = Notifying(TG)
    async with Dispatcher(
        service.store, {TG: publisher}, poll_interval=0.05, notices=service.store
    ):
        await wait_for(lambda: bool(publisher.notices), 30, "the notice")
    [job] = publisher.notices
    assert [n.comment_id for n in job.notices] == [shown.id] and job.count == 1
    visible = await service.store.visible_comments([hidden.id, shown.id, CommentId(999)])
    assert visible == {shown.id}


async def test_a_person_banned_while_the_notice_waits_is_not_told(service: NewsService) -> None:
    article_id, parent = await _thread(service)
    omar = Proven(TG, "888", "Omar", Proof.TELEGRAM_LOGIN)
    await service.people.sign_in(omar)
    other = await service.add_web_comment(
        article_id, "Omar", "second", client_key="omar", user_id=web_author_id(omar)
    )
    service.notifications.delay = timedelta(0)
    await _reply(service, article_id, parent, 1)
    await _reply(service, article_id, other, 2)
    # Both notices are queued; Nina is banned before hers goes (within the minute it waits).
    nina = await service.people.find(TG, "777")
    assert nina is not None
    await service.people.ban(ADMIN, nina.id)
    publisher = Notifying(TG)
    async with Dispatcher(
        service.store, {TG: publisher}, poll_interval=0.05, notices=service.store
    ) as dispatcher:
        await wait_for(lambda: bool(publisher.notices), 30, "Omar's notice")
        await dispatcher.drain()
        assert dispatcher.outcomes[("telegram", "notice_dropped")] == 1
    assert [job.account_id for job in publisher.notices] == ["888"]
    assert await _claimed(service) == []  # Nina's is gone, not waiting


def test_rule_at_send_time_nothing_to_a_banned_recipient() -> None:
    notice = Notice(CommentId(1), ArticleId(1), "t", "Bob", "hi", "u")
    job = NoticeJob(1, TG, "777", (notice,), 1, 1)
    assert to_send(job, {CommentId(1)}, banned=False) == job
    assert to_send(job, {CommentId(1)}, banned=True) is None
    assert to_send(job, set(), banned=False) is None


async def test_a_slow_notice_keeps_its_claim_and_goes_once(service: NewsService) -> None:
    article_id, parent = await _thread(service)
    service.notifications.delay = timedelta(0)
    await _reply(service, article_id, parent, 1)
    gate = asyncio.Event()
    publisher = Notifying(TG)
    entered: list[int] = []
    record = publisher.notify

    async def slow(job: NoticeJob) -> None:
        entered.append(job.id)
        await gate.wait()
        await record(job)

    publisher.notify = slow  # type: ignore[method-assign]
    lease = 0.3
    workers = [
        Dispatcher(
            service.store,
            {TG: publisher},
            poll_interval=0.02,
            lease=lease,
            notices=service.store,
        )
        for _ in range(2)
    ]
    for worker in workers:
        await worker.start()
    try:
        await wait_for(lambda: bool(entered), 30, "the send under way")
        # Four leases long, a probe never finds the notice claimable: its claim is renewed.
        until = asyncio.get_running_loop().time() + 4 * lease
        while asyncio.get_running_loop().time() < until:
            now = datetime.now(UTC)
            assert await service.store.claim_notices(TG, now, 10, worker="probe", lease=1) == []
            await asyncio.sleep(0.02)
        gate.set()
        for worker in workers:
            await worker.drain()
    finally:
        for worker in workers:
            await worker.stop()
    assert len(entered) == 1 and len(publisher.notices) == 1
