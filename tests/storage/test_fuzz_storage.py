"""Fuzzing storage and the service with hypothesis: every string survives exactly, and no
input, however hostile, gets anything but a stored value or a clear DomainError."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsbot import (
    Actor,
    ArticleDraft,
    Author,
    DomainError,
    MessageLink,
    MessageRef,
    NewsService,
    Platform,
)
from newsbot.models import NewComment
from storage import SqliteStore

HOSTILE = [
    "🎉" * 10_000,
    "x" * 1_000_000,
    "مرحبا \u202e\u200f\u200b\ufeff e\u0301\u0301\u0301 \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "<script>alert(1)</script> &amp; &lt; \\ * _ ` [a](b) ~ | > # + - = { } . !",
    "@everyone @here <@&123456789012345678> <@987654321098765432> <#1>",
    "\x00\x01\x07\x1b\x7f nul and controls",
]
# Every code point SQLite can hold (lone surrogates cannot be UTF-8 encoded).
STORABLE = st.text(alphabet=st.characters(codec="utf-8"), max_size=400) | st.sampled_from(HOSTILE)
# What a chat or a command line may hand us, lone surrogates included.
ANYTHING = st.text(max_size=300) | st.sampled_from([*HOSTILE, "lone \ud83d", "\udcff"])
NOW = datetime(2026, 5, 1, tzinfo=UTC)
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
async def fuzz_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "fuzz.db") as store:
        yield store


@FUZZ
@given(title=STORABLE, body=STORABLE, name=STORABLE, text=STORABLE, tag=STORABLE)
async def test_store_round_trips_every_string_exactly(
    fuzz_store: SqliteStore, title: str, body: str, name: str, text: str, tag: str
) -> None:
    draft = ArticleDraft(title, body, summary=text, tags=(tag,) if tag and " " not in tag else ())
    article, _ = await fuzz_store.add_article(draft, Author(name, Platform.CLI, name), NOW, [])
    got = await fuzz_store.get_article(article.id)
    assert got is not None
    assert (got.title, got.body, got.summary, got.author.name) == (title, body, text, name)
    source = MessageRef(Platform.TELEGRAM, name or "-1", f"{len(text)}:{hash(text)}")
    comment, _ = await fuzz_store.add_comment(
        NewComment(article.id, None, Author(name, Platform.DISCORD, text), text, source, NOW)
    )
    stored = await fuzz_store.get_comment(comment.id)
    assert stored is not None
    assert (stored.text, stored.author.name, stored.author.user_id) == (text, name, text)
    assert await fuzz_store.get_comment_by_source(source) == stored


@FUZZ
@given(title=ANYTHING, body=ANYTHING, name=ANYTHING, text=ANYTHING)
async def test_service_stores_or_refuses_clearly(
    fuzz_store: SqliteStore, title: str, body: str, name: str, text: str
) -> None:
    service = NewsService(fuzz_store)
    try:
        article = (await service.publish(Actor.operator(), ArticleDraft(title, body))).article
    except DomainError as refused:
        reason = str(refused)
        article = (await service.publish(Actor.operator(), ArticleDraft("t", "b"))).article
        assert reason  # a message a person can read
    post = MessageRef(Platform.TELEGRAM, "-100", f"post{article.id}")
    await fuzz_store.add_link(MessageLink(post, article.id))
    try:
        comment = await service.record_reply(
            reply_to=post,
            source=MessageRef(Platform.TELEGRAM, "-100", f"reply{article.id}"),
            author=Author(name, Platform.TELEGRAM, "7"),
            text=text,
        )
    except DomainError as refused:  # an empty comment after cleaning
        reason = str(refused)
        assert reason == "The comment is empty."
        return
    assert comment is not None
    comment.text.encode("utf-8")  # valid Unicode, whatever came in
    comment.author.name.encode("utf-8")
    assert len(comment.text) <= 4096 and len(comment.author.name) <= 64
    thread = await service.thread(article.id)
    assert [n.comment.text for n in thread.comments] == [comment.text]
