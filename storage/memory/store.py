"""The ``Store`` in memory: articles, destinations, links and comments, on the outbox, the
small state and the feeds of the other parts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from newsbot import intake, slowmode
from newsbot.errors import StorageError
from newsbot.intake import Lineage, Lookups, Plan
from newsbot.mirroring import ArticlePost
from newsbot.models import (
    Article,
    ArticleCursor,
    ArticleDraft,
    ArticleId,
    ArticleStatus,
    Author,
    Comment,
    CommentId,
    CommentStatus,
    DeliveryOp,
    Destination,
    DestinationId,
    IncomingComment,
    MessageLink,
    MessageRef,
    NewComment,
    NewDestination,
    Platform,
    ThreadCursor,
)
from newsbot.policy import Story
from newsbot.ports import Store
from storage.memory.desk import Desk
from storage.memory.notices import MemoryNotices
from storage.memory.outbox import Outbox
from storage.memory.people import MemoryPeople
from storage.memory.reactions import Reactions
from storage.memory.routing import Routing
from storage.memory.schedule import Schedules
from storage.memory.slowmode import MemorySlowMode
from storage.memory.staffchat import StaffNotices
from storage.memory.state import Coordination, Feeds
from storage.memory.stats import Stats
from storage.memory.tables import (
    _DEAD,
    _FAILED,
    _NEVER,
    _PENDING,
    _SENDING,
    _SENT,
    PENDING_REASON,
    _utc,
)


class MemoryStore(
    Outbox,
    Coordination,
    Feeds,
    MemoryPeople,
    MemoryNotices,
    Reactions,
    Desk,
    MemorySlowMode,
    Schedules,
    Routing,
    Stats,
    StaffNotices,
):
    """A ``Store`` in memory, on its own ``MemoryDatabase`` unless given one: several stores
    on one database behave as workers sharing it."""

    # -- articles -------------------------------------------------------------------------

    async def add_article(
        self,
        draft: ArticleDraft,
        author: Author,
        now: datetime,
        deliver_to: Sequence[DestinationId],
        *,
        request: str | None = None,
    ) -> tuple[Article, bool]:
        """A plain publish: a planned one (``Schedules``) live now, every post due now, in
        lane 0."""
        due = [(d, now) for d in deliver_to]
        return await self.add_planned_article(draft, author, now, now, due, 0, request=request)

    async def update_article(
        self,
        article_id: ArticleId,
        draft: ArticleDraft,
        now: datetime,
        *,
        request: str | None = None,
    ) -> int | None:
        db = self._db
        if request is not None:
            if request in db.requests:
                return None
            db.requests[request] = article_id
        now = _utc(now)
        article = db.articles.get(article_id)
        if article is not None:
            db.articles[article_id] = replace(
                article,
                title=draft.title,
                body=draft.body,
                summary=draft.summary,
                url=draft.url,
                image_url=draft.image_url,
                tags=draft.tags,
                updated_at=now,
                revision=article.revision + 1,
            )
        queued = self._reenqueue(
            (d for d in db.deliveries.values() if d.article_id == article_id and not d.comment_id),
            DeliveryOp.EDIT,
            now,
        )
        self._changed()
        return queued

    async def retract_article(self, article_id: ArticleId, now: datetime) -> int:
        db = self._db
        now = _utc(now)
        article = db.articles.get(article_id)
        if article is not None:
            db.articles[article_id] = replace(
                article, status=ArticleStatus.RETRACTED, updated_at=now
            )
        mine = (d for d in db.deliveries.values() if d.article_id == article_id)
        queued = self._reenqueue(mine, DeliveryOp.DELETE, now)
        self._changed()
        return queued

    async def get_article(self, article_id: ArticleId) -> Article | None:
        return self._db.articles.get(article_id)

    async def latest_articles(self, limit: int, before: ArticleCursor | None) -> list[Article]:
        found = sorted(
            (
                a
                for a in self._db.articles.values()
                if a.status is ArticleStatus.PUBLISHED
                and (
                    before is None
                    or (a.published_at, a.id) < (before.published_at, before.article_id)
                )
            ),
            key=lambda a: (a.published_at or _NEVER, a.id),
            reverse=True,
        )
        return found[:limit]

    async def count_comments(self, article_id: ArticleId) -> int:
        return self._count(article_id)

    # -- destinations ---------------------------------------------------------------------

    async def add_destination(
        self, new: NewDestination, now: datetime, *, pending: bool = False
    ) -> tuple[Destination, bool]:
        db = self._db
        found = self._destination(new.platform, new.chat_id, new.thread_id)
        if found is not None and (found.active or (pending and found.pending)):
            return found, False
        changed = Destination(
            found.id if found else DestinationId(db.new_id("destinations")),
            new.platform,
            new.chat_id,
            new.thread_id or None,
            new.title,
            new.kind,
            not pending,
            new.tags,
            PENDING_REASON if pending else None,
            pending,
        )
        db.destinations[changed.id] = changed
        self._changed()
        return changed, True

    async def approve_destination(self, destination_id: DestinationId, now: datetime) -> bool:
        found = self._db.destinations.get(destination_id)
        if found is None or not found.pending:
            return False
        self._db.destinations[destination_id] = replace(
            found, active=True, pending=False, deactivated_reason=None
        )
        self._changed()
        return True

    async def get_destination(
        self, platform: Platform, chat_id: str, thread_id: str | None = None
    ) -> Destination | None:
        return self._destination(platform, chat_id, thread_id)

    def _destination(
        self, platform: Platform, chat_id: str, thread_id: str | None
    ) -> Destination | None:
        for d in self._db.destinations.values():
            if (d.platform, d.chat_id, d.thread_id or "") == (platform, chat_id, thread_id or ""):
                return d
        return None

    async def deactivate_destination(
        self, destination_id: DestinationId, reason: str, now: datetime
    ) -> bool:
        db = self._db
        found = db.destinations.get(destination_id)
        changed = found is not None and (found.active or found.pending)
        if found is not None and changed:
            db.destinations[destination_id] = replace(
                found, active=False, pending=False, deactivated_reason=reason
            )
        for d in list(db.deliveries.values()):
            if d.destination_id == destination_id and d.state in (_PENDING, _FAILED):
                self._put(
                    d,
                    state=_DEAD,
                    next_attempt_at=None,
                    updated_at=_utc(now),
                    last_error=f"destination inactive: {reason}",
                )
        self._changed()
        return changed

    async def list_destinations(
        self, platform: Platform | None = None, *, active_only: bool = True
    ) -> list[Destination]:
        return [
            d
            for _, d in sorted(self._db.destinations.items())
            if (d.active or not active_only) and (platform is None or d.platform is platform)
        ]

    # -- message links --------------------------------------------------------------------

    async def resolve_message(self, ref: MessageRef) -> MessageLink | None:
        return self._resolve(ref)

    def _resolve(self, ref: MessageRef) -> MessageLink | None:
        db = self._db
        link = db.links.get(ref)
        if link is not None:
            return MessageLink(ref, link.article_id, link.comment_id, link.destination_id)
        comment_id = db.sources.get(ref)
        if comment_id is None:
            return None
        return MessageLink(ref, db.comments[comment_id].article_id, comment_id)

    async def add_link(self, link: MessageLink) -> bool:
        if link.ref in self._db.links:
            return False
        self.database.links[link.ref] = link
        return True

    # -- comments -------------------------------------------------------------------------

    async def add_comment(
        self,
        new: NewComment,
        mirror_to: Sequence[DestinationId] = (),
        mirror_due: datetime | None = None,
    ) -> tuple[Comment, bool]:
        db = self._db
        if new.source in db.sources:
            return db.comments[db.sources[new.source]], False
        parent = None if new.parent_id is None else db.comments.get(new.parent_id)
        if parent is not None and parent.article_id != new.article_id:
            parent = None
        comment = Comment(
            CommentId(db.new_id("comments")),
            new.article_id,
            None if parent is None else parent.id,
            new.author,
            new.text,
            new.source,
            CommentStatus.VISIBLE,
            _utc(new.created_at),
        )
        self._insert(comment, None if parent is None else db.roots[parent.id] or parent.id)
        for destination_id in mirror_to:
            self._enqueue(
                new.article_id, comment.id, destination_id, mirror_due or comment.created_at
            )
        self._changed()
        return comment, True

    def _insert(self, comment: Comment, root_id: CommentId | None) -> None:
        db = self.database
        db.comments[comment.id] = comment
        db.roots[comment.id] = root_id
        db.sources[comment.source] = comment.id

    async def ingest_comment(self, incoming: IncomingComment) -> tuple[Comment, bool] | None:
        batch = [incoming]
        plan = intake.decide(batch, self._lookups(batch))
        self._write(batch, plan)
        if plan.accepted:
            self._changed()
        return intake.results(batch, plan.outcomes)[0]

    def _lookups(self, batch: Sequence[IncomingComment]) -> Lookups:
        db = self._db
        needs = intake.needs(batch)
        links = {ref: link for ref in needs.replies if (link := self._resolve(ref)) is not None}
        article_ids, parent_ids = needs.then(links.values())
        published = {
            a
            for a in article_ids
            if a in db.articles and db.articles[a].status is ArticleStatus.PUBLISHED
        }
        own = sorted(
            (d for d in db.deliveries.values() if d.article_id in published and not d.comment_id),
            key=lambda d: d.id,
        )
        posts: dict[ArticleId, list[ArticlePost]] = {a: [] for a in published}
        for d in own:
            if d.message_id is not None:
                where = db.destinations[d.destination_id]
                settled = d.state is _SENT and d.op is not DeliveryOp.DELETE
                posts[d.article_id].append(
                    ArticlePost(
                        d.id,
                        d.destination_id,
                        where.platform,
                        where.chat_id,
                        d.thread_id,
                        where.active,
                        settled,
                        d.updated_at,
                    )
                )
        parents = {}
        for parent_id in parent_ids:
            if parent_id in db.comments:
                article_id = db.comments[parent_id].article_id
                parents[parent_id] = Lineage(article_id, db.roots[parent_id] or parent_id)
        stories = {
            a: Story(
                self._desk.policies.get(a), db.articles[a].published_at, self._slow_modes.get(a, 0)
            )
            for a in published
        }
        return Lookups(
            next_id=db.last_id["comments"] + 1,
            stored={s: db.comments[db.sources[s]] for s in needs.sources if s in db.sources},
            banned={(str(p), u) for p, u in needs.authors if (p, u) in db.bans},
            links=links,
            published=published,
            posts=posts,
            post_links={a: self._post_links(a) for a in published},
            post_counts=Counter(d.article_id for d in own),
            parents=parents,
            stories=stories,
            slow=self._slow_lookups(slowmode.slow_articles(stories), needs.authors),
        )

    def _write(self, batch: Sequence[IncomingComment], plan: Plan) -> None:
        db = self.database
        for new in plan.accepted:
            item = batch[new.position]
            status = CommentStatus.HIDDEN if new.hidden else CommentStatus.VISIBLE
            comment = Comment(
                new.id,
                new.article_id,
                new.parent_id,
                item.author,
                item.text,
                item.source,
                status,
                _utc(item.created_at),
            )
            db.last_id["comments"] = max(db.last_id["comments"], new.id)
            self._insert(comment, new.root_id)
            for destination_id in new.mirror_to:
                self._enqueue(new.article_id, new.id, destination_id, _utc(new.mirror_due))
        for refresh in plan.refreshes:
            self._resend_count_edits(refresh.article_id)
            for post in refresh.posts:
                current = db.deliveries[post.delivery_id]
                if current.state is _SENT and current.op is not DeliveryOp.DELETE:
                    self._put(
                        current,
                        op=DeliveryOp.EDIT,
                        state=_PENDING,
                        next_attempt_at=_utc(refresh.due(post)),
                        attempts=0,
                        generation=current.generation + 1,
                        updated_at=_utc(refresh.at),
                    )

    async def get_comment(self, comment_id: CommentId) -> Comment | None:
        return self._db.comments.get(comment_id)

    async def get_comment_by_source(self, source: MessageRef) -> Comment | None:
        comment_id = self._db.sources.get(source)
        return None if comment_id is None else self.database.comments[comment_id]

    def _change_comment(
        self, comment_id: CommentId, now: datetime, op: DeliveryOp | None, **changes: object
    ) -> Comment:
        db = self._db
        current = db.comments.get(comment_id)
        if current is None:
            raise StorageError(f"comment {comment_id} vanished")
        comment = db.comments[comment_id] = replace(current, **changes)  # type: ignore[arg-type]
        if op is not None:
            mirrors = (d for d in db.deliveries.values() if d.comment_id == comment_id)
            self._reenqueue(mirrors, op, _utc(now))
        self._changed()
        return comment

    async def edit_comment(
        self, comment_id: CommentId, text: str, now: datetime, *, due: datetime | None = None
    ) -> Comment:
        db = self._db
        if comment_id not in db.comments:
            raise StorageError(f"comment {comment_id} vanished")
        now = _utc(now)
        held = max(_utc(due or now), now)
        comment = db.comments[comment_id] = replace(
            db.comments[comment_id], text=text, edited_at=now
        )
        for d in [d for d in db.deliveries.values() if d.comment_id == comment_id]:
            if d.op is DeliveryOp.DELETE:
                continue
            waited = db.not_before.get(d.id, held)
            if d.state is _SENT and d.message_id is not None:
                db.not_before[d.id] = held
                self._put(
                    d,
                    op=DeliveryOp.EDIT,
                    state=_PENDING,
                    next_attempt_at=held,
                    attempts=0,
                    generation=d.generation + 1,
                    last_error=None,
                    updated_at=now,
                )
            elif d.state in (_PENDING, _FAILED):
                db.not_before[d.id] = max(waited, held)
                self._put(d, next_attempt_at=max(d.next_attempt_at or held, held))
            elif d.state is _SENDING:
                db.not_before[d.id] = max(waited, held)
                self._put(d, op=DeliveryOp.EDIT, generation=d.generation + 1, updated_at=now)
        self._changed()
        return comment

    async def set_comment_status(
        self, comment_id: CommentId, status: CommentStatus, now: datetime
    ) -> Comment:
        visible = status is CommentStatus.VISIBLE
        return self._change_comment(
            comment_id,
            now,
            None if visible else DeliveryOp.DELETE,
            status=status,
            deleted_at=None if visible else _utc(now),
        )

    async def thread_page(
        self,
        article_id: ArticleId,
        limit: int,
        after: ThreadCursor | None,
        *,
        newest_first: bool,
    ) -> tuple[list[Comment], list[Comment], int]:
        db = self._db
        thread = [c for c in db.comments.values() if c.article_id == article_id]
        thread.sort(key=lambda c: (c.created_at, c.id))
        roots = [c for c in thread if c.parent_id is None]
        if newest_first:
            roots.reverse()
        if after is not None:
            mark = (after.created_at, after.comment_id)
            roots = [
                c
                for c in roots
                if ((c.created_at, c.id) < mark if newest_first else (c.created_at, c.id) > mark)
            ]
        ids = {c.id for c in roots[:limit]}
        replies = [c for c in thread if db.roots[c.id] in ids]
        return roots[:limit], replies, self._count(article_id)

    async def comments_by_author(self, platform: Platform, user_id: str) -> list[Comment]:
        return [
            c
            for _, c in sorted(self._db.comments.items())
            if c.author.platform is platform
            and c.author.user_id == user_id
            and c.status is CommentStatus.VISIBLE
        ]

    async def has_visible_comment(self, platform: Platform, user_id: str) -> bool:
        return any(
            c.author.platform is platform
            and c.author.user_id == user_id
            and c.status is CommentStatus.VISIBLE
            for c in self._db.comments.values()
        )


def _conforms(store: MemoryStore) -> Store:
    return store  # mypy checks here that the memory store has every method of the port
