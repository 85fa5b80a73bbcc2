"""The small state of a memory store (bans, named values, rate slots, workers and roles)
and its feeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from newsbot.models import Feed, FeedId, FeedItem, NewFeed, Platform, RoleLease, WorkerInfo
from storage.memory.tables import _NEVER, MemoryBase, _utc

_SLOT_PRUNE = 100  # expired rate slots deleted per take_slot at most


class Coordination(MemoryBase):
    """Bans, named values, rate slots, workers and roles."""

    # -- bans and small state -------------------------------------------------------------

    async def set_ban(self, platform: Platform, user_id: str, banned: bool, now: datetime) -> bool:
        bans, key = self._db.bans, (str(platform), user_id)
        if banned == (key in bans):
            return False
        if banned:
            bans.add(key)
        else:
            bans.discard(key)
        return True

    async def is_banned(self, platform: Platform, user_id: str) -> bool:
        return (str(platform), user_id) in self._db.bans

    async def get_state(self, key: str) -> str | None:
        return self._db.state.get(key)

    async def set_state(self, key: str, value: str) -> None:
        self._db.state[key] = value

    async def setdefault_state(self, key: str, value: str) -> str:
        return self._db.state.setdefault(key, value)

    async def take_slot(self, key: str, limit: int, window: float, now: datetime) -> float:
        slots, span = self._db.slots, timedelta(seconds=window)
        taken = slots[key] = sorted(s for s in slots.get(key, []) if s[0] > now - span)
        pruned = 0  # and expired slots of other keys, a bounded batch per call
        for other in [k for k in slots if k != key]:
            kept = [s for s in slots[other] if s[1] > now]
            pruned += len(slots[other]) - len(kept)
            if kept:
                slots[other] = kept
            else:
                del slots[other]
            if pruned >= _SLOT_PRUNE:
                break
        if len(taken) < limit:
            taken.append((now, now + span))
            return 0.0
        oldest = taken[0][0] if taken else now
        return max((oldest - now).total_seconds() + window, 0.001)

    # -- workers and roles ----------------------------------------------------------------

    async def heartbeat(self, worker: WorkerInfo) -> None:
        workers = self._db.workers
        known = workers.get(worker.id)
        workers[worker.id] = (
            worker
            if known is None
            else replace(known, heartbeat_at=worker.heartbeat_at, roles=worker.roles)
        )

    async def remove_worker(self, worker_id: str) -> None:
        self._db.workers.pop(worker_id, None)

    async def list_workers(self, since: datetime) -> list[WorkerInfo]:
        alive = [w for w in self._db.workers.values() if w.heartbeat_at >= since]
        return sorted(alive, key=lambda w: (w.started_at, w.id))

    async def acquire_role(
        self, role: str, worker: str, now: datetime, lease: float
    ) -> RoleLease | None:
        known = self._db.roles.get(role)
        until = _utc(now) + timedelta(seconds=lease)
        if known is None:
            epoch = 1
        elif known.holder == worker or known.lease_until < now:
            epoch = known.epoch if known.holder == worker else known.epoch + 1
        else:
            return None
        taken = self.database.roles[role] = RoleLease(role, worker, until, epoch)
        return taken

    async def release_role(self, role: str, worker: str) -> bool:
        known = self._db.roles.get(role)
        if known is None or known.holder != worker:
            return False
        self.database.roles[role] = replace(known, lease_until=_NEVER)  # the epoch goes on
        return True

    async def list_roles(self) -> list[RoleLease]:
        return [lease for _, lease in sorted(self._db.roles.items())]


class Feeds(MemoryBase):
    """Followed feeds and the items seen in them."""

    # -- feeds ----------------------------------------------------------------------------

    def _seen(self, feed: Feed) -> Feed:
        count = sum(1 for feed_id, _ in self.database.feed_items if feed_id == feed.id)
        return replace(feed, items_seen=count)

    async def add_feed(self, new: NewFeed, now: datetime) -> tuple[Feed, bool]:
        db = self._db
        known = next((f for f in db.feeds.values() if f.url == new.url), None)
        if known is not None and known.active:
            return self._seen(known), False
        now = _utc(now)
        if known is None:
            feed_id = FeedId(db.new_id("feeds"))
            feed = Feed(feed_id, new.url, "", new.tags, new.interval, new.backfill, True, now, now)
        else:
            feed = replace(
                known,
                active=True,
                tags=new.tags,
                interval=new.interval,
                backfill=new.backfill,
                errors=0,
                last_error=None,
                deactivated_reason=None,
                etag=None,
                last_modified=None,
                last_success_at=None,
                next_poll_at=now,
            )
        db.feeds[feed.id] = feed
        return self._seen(feed), True

    async def list_feeds(self) -> list[Feed]:
        return [self._seen(f) for _, f in sorted(self._db.feeds.items())]

    async def save_feed(self, feed: Feed) -> None:
        known = self._db.feeds.get(feed.id)
        if known is not None:
            kept = {"id": known.id, "created_at": known.created_at, "items_seen": 0}
            self.database.feeds[feed.id] = replace(feed, **kept)  # type: ignore[arg-type]

    async def remove_feed(self, feed_id: FeedId) -> bool:
        db = self._db
        for key in [k for k in db.feed_items if k[0] == feed_id]:
            del db.feed_items[key]
        return db.feeds.pop(feed_id, None) is not None

    async def feed_items(self, feed_id: FeedId, keys: Sequence[str]) -> dict[str, FeedItem]:
        items = self._db.feed_items
        return {k: items[(feed_id, k)] for k in keys if (feed_id, k) in items}

    async def save_feed_items(self, items: Sequence[FeedItem]) -> None:
        db = self._db
        for item in items:
            if item.feed_id not in db.feeds:
                continue
            known = db.feed_items.get((item.feed_id, item.key))
            if known is not None:
                item = replace(item, seen_at=known.seen_at)
            db.feed_items[(item.feed_id, item.key)] = item
