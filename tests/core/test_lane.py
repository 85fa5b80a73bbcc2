"""The dispatcher's low-priority lane: reply and staff notices share the slots the article
deliveries leave free, taking turns, so a flood of one kind never starves the other."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from newsbot import CommentStatus, Dispatcher, NewsService, Platform
from newsbot.lane import Lane
from newsbot.people import Proof, Proven, web_author_id
from newsbot.review import DeskSettings, WordList
from tests.conftest import ADMIN, draft
from tests.core.test_notifications import Notifying
from tests.core.test_staffdesk import STAFF, StaffRecorder
from tests.fakes.wait import wait_for
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
TG = Platform.TELEGRAM
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Queue:
    """A kind of low-priority item kept in a list (for the lane's own rule)."""

    items: list[str]
    at_once: int | None = None
    sent: list[str] = field(default_factory=list)

    def sends(self, platform: Platform) -> bool:
        return True

    async def claim(
        self, platform: Platform, now: datetime, limit: int, *, worker: str, lease: float
    ) -> list[str]:
        taken, self.items = self.items[:limit], self.items[limit:]
        return taken

    async def send(self, item: str, worker: str) -> None:
        self.sent.append(item)

    async def next_due(self, platform: Platform) -> datetime | None:
        return NOW if self.items else None

    async def renew(self, worker: str, now: datetime, lease: float) -> int:
        return 0

    async def release(self, worker: str) -> int:
        return 0


async def _claim(lane: Lane, free: int) -> list[str]:
    claimed = await lane.claim(TG, NOW, free, worker="w", lease=30)
    for one in claimed:
        await lane.send(one, "w")
    return [c.item for c in claimed]


async def test_rule_kinds_share_the_free_slots_and_take_turns() -> None:
    flood = Queue([f"r{n}" for n in range(100)])
    staff = Queue(["s1", "s2", "s3"])
    lane = Lane([flood, staff])
    # One slot at a time: the kinds alternate, the flood does not hold the lane.
    assert [await _claim(lane, 1) for _ in range(4)] == [["r0"], ["s1"], ["r1"], ["s2"]]
    # Several slots: an even share each; what one kind leaves goes to the other.
    assert await _claim(lane, 4) == ["r2", "r3", "s3"]
    assert await _claim(lane, 4) == ["r4", "r5", "r6", "r7"]
    assert await lane.next_due(TG) == NOW


async def test_rule_a_kind_sends_at_most_at_once_per_platform() -> None:
    staff = Queue(["s1", "s2"], at_once=1)
    lane = Lane([staff])
    [first] = await lane.claim(TG, NOW, 4, worker="w", lease=30)
    assert await lane.claim(TG, NOW, 4, worker="w", lease=30) == []
    assert await lane.next_due(TG) is None  # no room: its due time does not wake the loop
    assert lane.renewals() == [staff.renew]
    await lane.send(first, "w")
    assert lane.renewals() == []
    assert await _claim(lane, 4) == ["s2"]


async def test_a_flood_of_reply_notices_does_not_starve_the_staff_notice(
    service: NewsService,
) -> None:
    service.notifications.delay = timedelta(0)
    service.desk_settings = DeskSettings(words=WordList(["casino"]))
    service.staffchat.chat = STAFF
    staff = StaffRecorder()
    staff.gate.set()
    service.staffchat.posters[TG] = staff
    article_id = (await service.publish(ADMIN, draft())).article.id
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
