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
