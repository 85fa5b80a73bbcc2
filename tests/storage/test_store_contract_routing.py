"""The Store contract, routing: filters and templates kept per destination."""

from __future__ import annotations

from newsbot import Store
from tests.storage.contract_helpers import T0, dest


async def test_filters_and_templates_are_kept_per_destination(backend: Store) -> None:
    a, b = await dest(backend, "-1"), await dest(backend, "-2")
    assert await backend.destination_filters() == {}
    assert await backend.set_destination_filter(a, "quake OR tags:news", T0)
    assert await backend.set_destination_template(b, "{{ title }}", T0)
    assert await backend.set_destination_filter(b, "-body:ads", T0)
    assert await backend.destination_filters() == {a: "quake OR tags:news", b: "-body:ads"}
    assert await backend.destination_templates() == {b: "{{ title }}"}
    assert await backend.set_destination_filter(a, "title:x", T0)  # replaced
    assert await backend.set_destination_filter(b, None, T0)  # removed, template kept
    assert await backend.destination_filters() == {a: "title:x"}
    assert await backend.destination_templates() == {b: "{{ title }}"}
    assert not await backend.set_destination_filter(999, "x", T0)  # type: ignore[arg-type]
    assert not await backend.set_destination_template(999, "x", T0)  # type: ignore[arg-type]
    found = await backend.destination_by_id(a)
    assert found is not None and found.chat_id == "-1"
    assert await backend.destination_by_id(999) is None  # type: ignore[arg-type]


async def test_a_test_article_is_a_draft_with_one_breaking_post(backend: Store) -> None:
    from newsbot import ArticleDraft, ArticleStatus, Platform
    from tests.storage.contract_helpers import AUTHOR

    a, _b = await dest(backend, "-1"), await dest(backend, "-2")
    article = await backend.add_test_article(ArticleDraft("[TEST] t", "b"), AUTHOR, T0, a)
    assert article is not None and article.status is ArticleStatus.DRAFT
    assert article.published_at is None
    assert await backend.latest_articles(10, None) == []
    [job] = await backend.claim_deliveries(Platform.TELEGRAM, T0, 10)
    assert job.destination.id == a and job.delivery.lane == 1
    await backend.deactivate_destination(a, "gone", T0)
    assert await backend.add_test_article(ArticleDraft("t", "b"), AUTHOR, T0, a) is None
