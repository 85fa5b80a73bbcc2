"""The dispatcher's low-priority lane: reply and staff notices share the slots the article
deliveries leave free, taking turns, so a flood of one kind never starves the other."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from newsbot import CommentStatus, Dispatcher, NewsService, Platform
from newsbot.errors import DeliveryError, DestinationGone, RateLimited
from newsbot.lane import Lane
from newsbot.models import ArticleId, CommentId
from newsbot.people import Proof, Proven, web_author_id
from newsbot.review import DeskSettings, WordList
from newsbot.staffchat import NoticeText
from storage.memory import MemoryStore
from tests.conftest import ADMIN, draft
from tests.core.test_notifications import Notifying
from tests.core.test_staffdesk import STAFF, StaffRecorder
from tests.fakes.publisher import RecordingPublisher
from tests.fakes.wait import wait_for
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
TG = Platform.TELEGRAM
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Queue:
    """A kind of low-priority item kept in a list (for the lane's own rule); an item
    starting with ``x`` fails to send."""

    items: list[str]
    at_once: int | None = None
    name: str = "queued"
    max_attempts: int = 2
    sent: list[str] = field(default_factory=list)
    settled: list[tuple[str, str]] = field(default_factory=list)

    def about(self, item: str) -> tuple[Platform, int, dict[str, object]]:
        return TG, item.count("x"), {"item": item}

    def retry_delay(self, attempts: int) -> float:
        return 1.0

    async def retry(
        self, item: str, worker: str, error: str, due: datetime, *, count_attempt: bool
    ) -> None:
        self.settled.append((item, f"retry: {error}"))

    async def give_up(self, item: str, worker: str, error: str, *, gone: bool) -> None:
        self.settled.append((item, "gone" if gone else "given up"))

    def sends(self, platform: Platform) -> bool:
        return True

    async def claim(
        self, platform: Platform, now: datetime, limit: int, *, worker: str, lease: float
    ) -> list[str]:
        taken, self.items = self.items[:limit], self.items[limit:]
        return taken

    async def send(self, item: str, worker: str) -> bool:
        if item.startswith("x"):
            raise DeliveryError("flaky")
        self.sent.append(item)
        return True

    async def next_due(self, platform: Platform) -> datetime | None:
        return NOW if self.items else None

    async def renew(self, worker: str, now: datetime, lease: float) -> int:
        return 0

    async def release(self, worker: str) -> int:
        return 0


def _lane(*kinds: Queue) -> Lane:
    return Lane(kinds, Dispatcher(MemoryStore(), {}))


async def _claim(lane: Lane, free: int) -> list[str]:
    claimed = await lane.claim(TG, NOW, free, worker="w", lease=30)
    for one in claimed:
        await lane.send(one, "w")
    return [c.item for c in claimed]


async def test_rule_kinds_share_the_free_slots_and_take_turns() -> None:
    flood = Queue([f"r{n}" for n in range(100)])
    staff = Queue(["s1", "s2", "s3"])
    lane = _lane(flood, staff)
    # One slot at a time: the kinds alternate, the flood does not hold the lane.
    assert [await _claim(lane, 1) for _ in range(4)] == [["r0"], ["s1"], ["r1"], ["s2"]]
    # Several slots: an even share each; what one kind leaves goes to the other.
    assert await _claim(lane, 4) == ["r2", "r3", "s3"]
    assert await _claim(lane, 4) == ["r4", "r5", "r6", "r7"]
    assert await lane.next_due(TG) == NOW


async def test_rule_a_kind_sends_at_most_at_once_per_platform() -> None:
    staff = Queue(["s1", "s2"], at_once=1)
    lane = _lane(staff)
    [first] = await lane.claim(TG, NOW, 4, worker="w", lease=30)
    assert await lane.claim(TG, NOW, 4, worker="w", lease=30) == []
    assert await lane.next_due(TG) is None  # no room: its due time does not wake the loop
    assert lane.renewals() == [staff.renew]
    await lane.send(first, "w")
    assert lane.renewals() == []
    assert await _claim(lane, 4) == ["s2"]


async def test_rule_a_failure_is_retried_then_given_up_the_same_for_every_kind() -> None:
    kind = Queue(["x", "xx"])
    lane = _lane(kind)
    assert await _claim(lane, 2) == ["x", "xx"]
    assert kind.settled == [("x", "retry: DeliveryError: flaky"), ("xx", "given up")]
    assert lane._host.outcomes[("telegram", "failed")] == 2


async def _staff_chat(service: NewsService, poster: StaffRecorder) -> ArticleId:
    """The staff chat posted by ``poster``, "casino" held; an article to comment on."""
    service.desk_settings = DeskSettings(words=WordList(["casino"]))
    service.staffchat.chat = STAFF
    poster.gate.set()
    service.staffchat.posters[TG] = poster
    return (await service.publish(ADMIN, draft())).article.id


async def test_a_flood_of_reply_notices_does_not_starve_the_staff_notice(
    service: NewsService,
) -> None:
    service.notifications.delay = timedelta(0)
    staff = StaffRecorder()
    article_id = await _staff_chat(service, staff)
    readers = 20
    for n in range(readers):
        reader = Proven(TG, str(1000 + n), f"Reader {n}", Proof.TELEGRAM_LOGIN)
        await service.people.sign_in(reader)
        parent = await service.add_web_comment(
            article_id, reader.name, "first", client_key=f"r{n}", user_id=web_author_id(reader)
        )
        await service.add_web_comment(
            article_id,
            "Bob",
            "a reply",
            parent_id=parent.id,
            client_key=f"b{n}",
            user_id=f"w:b{n}",
        )
    # Queued after the twenty reply notices, all due now.
    held = await service.add_web_comment(
        article_id, "Spam", "my casino", client_key="spam", user_id="w:spam"
    )
    assert held.status is CommentStatus.HIDDEN
    publisher = Notifying(TG)
    staff.order = publisher.order
    async with Dispatcher(
        service.store,
        {TG: publisher},
        concurrency=1,
        poll_interval=0.05,
        notices=service.store,
        staff=service.staffchat,
    ):
        await wait_for(
            lambda: len(publisher.notices) == readers and bool(staff.posted), 30, "every notice"
        )
    # One slot: the staff notice goes second, not after the twenty reply notices.
    assert publisher.order.index("staff") <= 1
    assert [i for _, i, _ in staff.posted] == [held.id]
    assert len({job.account_id for job in publisher.notices}) == readers


@dataclass
class Refusing(StaffRecorder):
    """A staff poster rate-limited once, then told the staff chat is gone."""

    answers: list[Exception] = field(
        default_factory=lambda: [RateLimited(0.0), DestinationGone("chat deleted")]
    )

    async def post_notice(self, chat_id: str, comment_id: CommentId, text: NoticeText) -> str:
        if self.answers:
            raise self.answers.pop(0)
        return await super().post_notice(chat_id, comment_id, text)


async def test_a_staff_notice_rate_limited_then_refused_is_settled_by_the_lane(
    service: NewsService,
) -> None:
    poster = Refusing()
    article_id = await _staff_chat(service, poster)
    await service.add_web_comment(article_id, "Spam", "casino", client_key="s", user_id="w:s")
    async with Dispatcher(
        service.store, {TG: RecordingPublisher()}, poll_interval=0.02, staff=service.staffchat
    ) as dispatcher:
        await wait_for(
            lambda: dispatcher.outcomes[("telegram", "staff_notice_refused")] == 1, 30, "refused"
        )
        await dispatcher.drain()
    assert dispatcher.outcomes[("telegram", "rate_limited")] == 1 and poster.posted == []
    [notice] = await service.store.staff_notices(STAFF, 5)
    assert notice.state == "dead" and notice.attempts == 1  # the rate limit did not count
