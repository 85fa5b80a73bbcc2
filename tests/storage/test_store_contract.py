"""The Store contract: every backend must pass this suite unchanged.

Add a backend by adding a factory to ``BACKENDS``; the tests only use the ``Store`` protocol.
The suite is split by port: articles and destinations here; the outbox, threads and comments,
and shared state, coordination and feeds in the ``test_store_contract_*.py`` modules beside it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from newsbot import (
    ArticleDraft,
    ArticleId,
    ArticleStatus,
    DestinationKind,
    MessageRef,
    NewDestination,
    Platform,
    Store,
)
from newsbot.models import (
    ArticleCursor,
)
from tests.storage.contract_helpers import (
    AUTHOR,
    BACKENDS,
    T0,
    _location,
    incoming,
)

# Other suites build their rows with these helpers and import them from here.
from tests.storage.contract_helpers import article as article
from tests.storage.contract_helpers import at as at
from tests.storage.contract_helpers import comment as comment
from tests.storage.contract_helpers import dest as dest
from tests.storage.contract_helpers import posted_article as posted_article


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


async def test_latest_articles_keyset(backend: Store) -> None:
    ids = [await article(backend, when=i) for i in range(5)]
    first = await backend.latest_articles(2, None)
    assert [a.id for a in first] == [ids[4], ids[3]]
    rest = await backend.latest_articles(
        10, ArticleCursor(first[-1].published_at or T0, first[-1].id)
    )
    assert [a.id for a in rest] == [ids[2], ids[1], ids[0]]


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
