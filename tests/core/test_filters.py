"""Filters per destination: the language and its verdicts (pure), publishing that follows
them; patterns run on the real linear-time engine (google-re2)."""

from __future__ import annotations

import asyncio

import pytest

from adapters.regex import Re2Engine
from newsbot import Actor, ArticleDraft, NewsService, Platform
from newsbot.errors import InvalidInput, NotFound, PermissionDenied
from newsbot.filters import check, parse
from newsbot.ports import Store
from tests.conftest import READER, subscribe
from tests.pg import BOTH

STORE_BACKENDS = ("memory", *BOTH)
RE2 = Re2Engine()
QUAKE = ArticleDraft(
    "Earthquake in the north", "Sponsored by nobody. Damage is light.", "A quake", tags=("news",)
)


def verdict(text: str, draft: ArticleDraft = QUAKE, author: str = "Ada Admin") -> tuple[bool, str]:
    result = check(parse(text, RE2), draft, author, RE2)
    return result.passed, result.reason


def test_keywords_fields_and_or_and_exclusions() -> None:
    assert verdict("quake") == (True, "matches quake")
    assert verdict("QUAKE north")[0]  # AND, case-insensitive
    assert verdict("quake south") == (False, "matches none of: quake south")
    assert verdict("quake south OR title:north") == (True, "matches title:north")
    assert verdict("tags:news")[0] and not verdict("tags:new")[0]  # a tag matches whole
    assert verdict("author:ada")[0]
    assert verdict("quake -body:sponsored") == (False, "excluded by -body:sponsored")
    assert verdict("-tags:sport") == (True, "no condition excludes it")
    assert verdict('"damage is light"')[0]


def test_patterns_run_on_the_engine() -> None:
    assert verdict("title~^Earth")[0]
    assert not verdict("summary~^Earth")[0]
    assert verdict('-~"(?i)sponsored by"')[0] is False
    assert verdict("tags~^ne")[0]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('"unbalanced', "Cannot read the filter"),
        ("titel:quake", "Unknown field 'titel'"),
        ("title:", "is empty"),
        ("OR quake", "OR needs terms"),
        (r"body~(a)\1", "is refused: invalid escape"),
        ("body~(?=x)", "is refused"),
        ("x" * 1001, "1000 characters at most"),
    ],
)
def test_bad_filters_are_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        parse(text, RE2)


def test_no_engine_no_patterns() -> None:
    assert parse("quake", None)
    with pytest.raises(InvalidInput, match="install google-re2"):
        parse("title~quake", None)


def test_a_text_round_trips() -> None:
    text = 'quake "two words" OR tags:news -body~"(?i)sponsored by"'
    assert parse(str(parse(text, RE2)), RE2) == parse(text, RE2)


async def test_a_catastrophic_pattern_runs_in_linear_time() -> None:
    # (a+)+$ against a's and a b: exponential for a backtracking engine (2**100000 steps),
    # a pass over the text for RE2. A generous bound that backtracking could never meet.
    hostile = ArticleDraft("t", "a" * 100_000 + "b")
    flt = parse("body~(a+)+$", RE2)
    result = await asyncio.wait_for(asyncio.to_thread(check, flt, hostile, "x", RE2), timeout=30)
    assert not result.passed


async def test_publishing_follows_each_chat_filter(store: Store) -> None:
    service = NewsService(store, admins={Platform.TELEGRAM: {"42"}}, regex=RE2)
    quakes = await subscribe(service, "-1")
    everything = await subscribe(service, "-2")
    no_ads = await subscribe(service, "-3")
    operator = Actor.operator()
    await service.routing.set_filter(operator, quakes, "quake OR title~(?i)earthquake")  # type: ignore[arg-type]
    await service.routing.set_filter(operator, no_ads, '-body~"(?i)sponsored"')  # type: ignore[arg-type]
    assert await service.routing.filters() == {
        quakes: "quake OR title~'(?i)earthquake'",
        no_ads: "-body~'(?i)sponsored'",
    }
    first = await service.publish(operator, QUAKE)
    second = await service.publish(operator, ArticleDraft("Markets", "Calm day"))
    chats = {
        change.article.title: sorted(
            s.destination.chat_id for s in await service.deliveries(change.article.id)
        )
        for change in (first, second)
    }
    assert chats == {QUAKE.title: ["-1", "-2"], "Markets": ["-2", "-3"]}
    await service.routing.set_filter(operator, quakes, " ")  # type: ignore[arg-type]
    assert everything not in await service.routing.filters()
    assert quakes not in await service.routing.filters()
    with pytest.raises(NotFound):
        await service.routing.set_filter(operator, 999, "x")  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        await service.routing.set_filter(READER, quakes, "x")  # type: ignore[arg-type]
