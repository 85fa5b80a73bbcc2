"""Bad input gets a clear error and leaves the database exactly as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsbot import (
    Actor,
    ArticleDraft,
    Author,
    DestinationKind,
    DomainError,
    InvalidInput,
    MessageRef,
    NewDestination,
    NewsService,
    NotFound,
    PermissionDenied,
    Platform,
)
from newsbot.text import cut_chars, cut_utf16, utf16_len
from storage import SqliteStore
from tests.conftest import ADMIN, READER, subscribe


def snapshot(path: Path) -> list[tuple[str, list[tuple[object, ...]]]]:
    """Every row of every table, read with plain sqlite3 (a second, independent reader)."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [(t, sorted(db.execute(f"SELECT * FROM {t}"), key=repr)) for t in sorted(tables)]


BAD_DRAFTS = [
    ("empty title", ArticleDraft("", "body"), "title is empty"),
    ("blank title", ArticleDraft("   \t", "body"), "title is empty"),
    ("1 MB title", ArticleDraft("t" * 1_000_000, "body"), "longer than 256"),
    ("multi-line title", ArticleDraft("a\nb", "body"), "one line"),
    ("NUL in title", ArticleDraft("a\x00b", "body"), "control"),
    ("empty body", ArticleDraft("t", " \n "), "body is empty"),
    ("10 MB body", ArticleDraft("t", "b" * 10_000_000), "longer than 100000"),
    ("NUL in body", ArticleDraft("t", "a\x00b"), "NUL"),
    ("bell in body", ArticleDraft("t", "a\x07b"), "control"),
    ("javascript url", ArticleDraft("t", "b", url="javascript:alert(1)"), "http or https"),
    ("url with space", ArticleDraft("t", "b", url="https://a b.example"), "http or https"),
    ("bad image", ArticleDraft("t", "b", image_url="ftp://x"), "image url"),
    ("bad tag", ArticleDraft("t", "b", tags=("no spaces",)), "Tags are"),
    ("too many tags", ArticleDraft("t", "b", tags=tuple(f"t{i}" for i in range(11))), "At most"),
    ("long summary", ArticleDraft("t", "b", summary="s" * 2000), "summary"),
]


@pytest.mark.parametrize(("case", "bad", "message"), BAD_DRAFTS, ids=[c[0] for c in BAD_DRAFTS])
async def test_bad_drafts_are_refused_without_changes(
    service: NewsService, db_path: Path, case: str, bad: ArticleDraft, message: str
) -> None:
    await subscribe(service, "-1")
    before = snapshot(db_path)
    with pytest.raises(InvalidInput, match=message):
        await service.publish(ADMIN, bad)
    assert snapshot(db_path) == before


async def test_refusals_leave_database_unchanged(service: NewsService, db_path: Path) -> None:
    await subscribe(service, "-1")
    article = (await service.publish(ADMIN, ArticleDraft("t", "b"))).article
    before = snapshot(db_path)
    attempts = [
        service.publish(READER, ArticleDraft("t", "b")),
        service.edit(READER, article.id, ArticleDraft("x", "y")),
        service.retract(READER, article.id),
        service.edit(ADMIN, 9999, ArticleDraft("x", "y")),  # type: ignore[arg-type]
        service.retract(ADMIN, 9999),  # type: ignore[arg-type]
        service.subscribe(READER, NewDestination(Platform.TELEGRAM, "-2", DestinationKind.GROUP)),
        service.subscribe(ADMIN, NewDestination(Platform.TELEGRAM, " ", DestinationKind.GROUP)),
        service.subscribe(
            ADMIN, NewDestination(Platform.TELEGRAM, "a\x00", DestinationKind.GROUP)
        ),
        service.subscribe(
            ADMIN, NewDestination(Platform.DISCORD, "notanumber", DestinationKind.CHANNEL)
        ),
        service.subscribe(
            ADMIN, NewDestination(Platform.DISCORD, "2" * 21, DestinationKind.FORUM)
        ),
        service.subscribe(
            ADMIN, NewDestination(Platform.TELEGRAM, "alice", DestinationKind.GROUP)
        ),
        service.subscribe(
            ADMIN,
            NewDestination(Platform.TELEGRAM, "-1", DestinationKind.FORUM, thread_id="topic"),
        ),
        service.unsubscribe(ADMIN, Platform.TELEGRAM, "-77"),
        service.ban(READER, Platform.TELEGRAM, "1"),
        service.delete_comment(ADMIN, 424242),  # type: ignore[arg-type]
        service.thread(article.id, cursor="%%%"),
        service.add_web_comment(article.id, "", "text", client_key="a"),
        service.add_web_comment(article.id, "n", "x" * 0, client_key="b"),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as info:
            await attempt
        assert str(info.value)  # a message a person can read
    assert snapshot(db_path) == before
    # A second subscribe of the same chat is a no-op.
    again = await service.subscribe(
        ADMIN, NewDestination(Platform.TELEGRAM, "-1", DestinationKind.CHANNEL)
    )
    assert not again.created
    assert snapshot(db_path) == before


async def test_reply_to_unknown_message_stores_nothing(
    service: NewsService, db_path: Path
) -> None:
    await service.publish(ADMIN, ArticleDraft("t", "b"))
    before = snapshot(db_path)
    result = await service.record_reply(
        reply_to=MessageRef(Platform.TELEGRAM, "-1", "1"),
        source=MessageRef(Platform.TELEGRAM, "-1", "2"),
        author=Author("x", Platform.TELEGRAM, "1"),
        text="hello",
    )
    assert result is None
    assert snapshot(db_path) == before


async def test_permission_refusal_names_the_setting(service: NewsService) -> None:
    with pytest.raises(PermissionDenied) as info:
        await service.publish(READER, ArticleDraft("t", "b"))
    assert "NEWSBOT_TELEGRAM_ADMINS" in str(info.value) and "7" in str(info.value)
    with pytest.raises(NotFound):
        await service.article(0)  # type: ignore[arg-type]


# Strings a chat or a form can send: every plane, controls, markup metacharacters.
ANY_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=300
) | st.sampled_from(
    [
        "<b>&amp;</b> *bold* _it_ `code` [l](javascript:x) \\ ~ | > # + - = { } . !",
        "@everyone @here <@&123> <@456> <#789>",
        "مرحبا بالعالم \u200f\u200e\u200b e\u0301\u0301\u0301",
        "🎉" * 2000,
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(title=ANY_TEXT, body=ANY_TEXT, name=ANY_TEXT, text=ANY_TEXT)
async def test_storage_round_trips_strings_exactly(
    tmp_path: Path, title: str, body: str, name: str, text: str
) -> None:
    """Whatever passes validation comes back from SQLite exactly as it was stored."""
    async with SqliteStore(tmp_path / "fuzz.db") as store:
        service = NewsService(store)
        try:
            article = (await service.publish(Actor.operator(), ArticleDraft(title, body))).article
        except InvalidInput:
            return
        got = await service.article(article.id)
        assert (got.title, got.body) == (title.strip(), body.replace("\r\n", "\n").strip())
        try:
            comment = await service.add_web_comment(
                article.id, name[:64], text, client_key=f"{len(text)}-{hash(text)}"
            )
        except InvalidInput:
            return
        stored = await service.comment(comment.id)
        assert stored.text == comment.text and stored.author.name == comment.author.name


@given(text=ANY_TEXT, limit=st.integers(min_value=0, max_value=500))
def test_cut_utf16_respects_limit_and_pairs(text: str, limit: int) -> None:
    cut = cut_utf16(text, limit)
    assert utf16_len(cut) <= max(limit, 0)
    cut.encode("utf-16-le")  # no lone surrogate
    if utf16_len(text) <= limit:
        assert cut == text
    else:
        assert cut.endswith("…") or limit < 1


@given(text=ANY_TEXT, limit=st.integers(min_value=0, max_value=500))
def test_cut_chars_respects_limit(text: str, limit: int) -> None:
    cut = cut_chars(text, limit)
    assert len(cut) <= limit
    if len(text) <= limit:
        assert cut == text
