"""What each subscribed chat receives and how: its filter, its template and its delay.

``NewsService.routing`` is the ``Routing`` of the service: the admin use cases (set, clear,
show) and the verdict publishing asks of each destination's filter. Filters are
``newsbot.filters``; templates are text the core keeps for the template adapter, which checks
them before they are set. A delay staggers a chat: its posts wait that many seconds after
the article's platform time (``publishing.publish`` applies it when it enqueues).
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from typing import Protocol, TypeVar

from newsbot.errors import InvalidInput, NotFound
from newsbot.filters import Filter, Matcher, RegexEngine, Verdict, check, parse
from newsbot.i18n import N_, Message
from newsbot.models import Actor, Article, ArticleDraft, Author, Destination, DestinationId
from newsbot.ports import Clock, Store

log = logging.getLogger("newsbot.service")
_KEPT = 256  # parsed filters and compiled patterns kept between articles
T = TypeVar("T")
TEST_POST = ArticleDraft(
    "[TEST] newsbot test post",
    "This is a **test post**, sent to this chat alone to show how it receives articles. It is "
    "not an article: its link leads to no page.",
    "[TEST] A test post: only this chat received it.",
)


class RoutingHost(Protocol):
    """What routing needs of ``NewsService``."""

    store: Store
    clock: Clock

    def require_admin(self, actor: Actor, action: str) -> None:
        """``NewsService.require_admin``."""

    def _enqueued(self) -> None: ...


class Routing:
    """Filters and templates per destination.

    Args:
        svc: the service.
        regex: the linear-time engine patterns run on; ``None`` refuses filters with one.
    """

    def __init__(self, svc: RoutingHost, regex: RegexEngine | None = None) -> None:
        self.svc = svc
        self.regex = regex
        self._parsed: OrderedDict[str, Filter] = OrderedDict()
        self._patterns: OrderedDict[str, Matcher] = OrderedDict()

    async def destination(self, destination_id: DestinationId) -> Destination:
        """A destination by id.

        Raises:
            NotFound: no such destination.
        """
        found = await self.svc.store.destination_by_id(destination_id)
        if found is None:
            raise NotFound(N_("There is no destination %(id)s."), id=destination_id)
        return found

    async def set_filter(
        self, actor: Actor, destination_id: DestinationId, text: str | None
    ) -> Filter | None:
        """Give a destination a filter (``None`` or blank removes it); returns it as parsed.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such destination.
            InvalidInput: the filter cannot be read, or a pattern is refused.
        """
        self.svc.require_admin(actor, N_("set filters"))
        parsed = self.parse(text) if text and text.strip() else None
        kept = str(parsed) if parsed is not None else None
        if not await self.svc.store.set_destination_filter(
            destination_id, kept, self.svc.clock.now()
        ):
            raise NotFound(N_("There is no destination %(id)s."), id=destination_id)
        log.info("filter set", extra={"destination_id": destination_id, "filter": kept})
        return parsed

    async def filters(self) -> dict[DestinationId, str]:
        """Every destination's filter text."""
        return await self.svc.store.destination_filters()

    def parse(self, text: str) -> Filter:
        """A filter's text parsed (kept for the next articles)."""
        parsed = self._parsed.get(text)
        if parsed is None:
            parsed = parse(text, self.regex)
            _keep(self._parsed, text, parsed)
        return parsed

    def verdict(self, text: str | None, draft: ArticleDraft, author: str) -> Verdict:
        """Whether an article passes a destination's filter (``None``: no filter), and why."""
        if not text:
            return Verdict(True, "no filter")
        return check(self.parse(text), draft, author, self.regex, self._compiled)

    def _compiled(self, pattern: str) -> Matcher:
        matcher = self._patterns.get(pattern)
        if matcher is None:
            assert self.regex is not None  # parse() refused patterns without an engine
            matcher = self.regex.compile(pattern)
            _keep(self._patterns, pattern, matcher)
        return matcher

    async def set_template(
        self, actor: Actor, destination_id: DestinationId, text: str | None
    ) -> None:
        """Give a destination a template (``None`` removes it), already checked by the
        template adapter.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such destination.
        """
        self.svc.require_admin(actor, N_("set templates"))
        if not await self.svc.store.set_destination_template(
            destination_id, text, self.svc.clock.now()
        ):
            raise NotFound(N_("There is no destination %(id)s."), id=destination_id)
        log.info("template set", extra={"destination_id": destination_id, "cleared": not text})

    async def test_send(self, actor: Actor, destination_id: DestinationId) -> Article:
        """Send one clearly marked test post to one chat, as it shows articles (its template
        included), ahead of any fan-out; it is a draft: no page, in no list, nowhere else.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such destination.
            InvalidInput: the destination is not active.
        """
        self.svc.require_admin(actor, N_("send test posts"))
        destination = await self.destination(destination_id)
        author = Author(actor.name or actor.user_id, actor.platform, actor.user_id)
        article = await self.svc.store.add_test_article(
            TEST_POST, author, self.svc.clock.now(), destination_id
        )
        if article is None:
            raise InvalidInput(
                N_("Destination %(id)s is not active (%(reason)s)."),
                id=destination_id,
                reason=destination.deactivated_reason or Message(N_("waiting for approval")),
            )
        log.info("test post queued", extra={"destination_id": destination_id})
        self.svc._enqueued()
        return article

    async def set_delay(
        self, actor: Actor, destination_id: DestinationId, seconds: float | None
    ) -> float | None:
        """Give a destination a delay: its posts are not sent before the article's platform
        time plus ``seconds`` (``None`` or 0 removes it); returns the delay kept.

        Raises:
            PermissionDenied: the actor is not an admin.
            NotFound: no such destination.
            InvalidInput: the delay is negative, not a number, or longer than a week.
        """
        self.svc.require_admin(actor, N_("set delays"))
        kept = check_delay(seconds)
        if not await self.svc.store.set_destination_delay(
            destination_id, kept, self.svc.clock.now()
        ):
            raise NotFound(N_("There is no destination %(id)s."), id=destination_id)
        log.info("delay set", extra={"destination_id": destination_id, "delay": kept})
        return kept

    async def delays(self) -> dict[DestinationId, float]:
        """Every destination's delay in seconds."""
        return await self.svc.store.destination_delays()

    async def templates(self) -> dict[DestinationId, str]:
        """Every destination's template text."""
        return await self.svc.store.destination_templates()


DELAY_MAX = 7 * 24 * 3600.0  # a week: longer is a schedule, not a stagger


def check_delay(seconds: float | None) -> float | None:
    """A per-destination delay as kept: ``None`` for none (0 too).

    Raises:
        InvalidInput: negative, not a finite number, or longer than ``DELAY_MAX``.
    """
    if seconds is None or seconds == 0:
        return None
    if not math.isfinite(seconds) or seconds < 0 or seconds > DELAY_MAX:
        raise InvalidInput(N_("A delay is a number of seconds from 0 to 604800 (a week)."))
    return float(seconds)


def _keep(kept: OrderedDict[str, T], key: str, value: T) -> None:
    kept[key] = value
    while len(kept) > _KEPT:
        kept.popitem(last=False)
