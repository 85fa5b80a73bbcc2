"""The staff chat's pure rules: the setting, the notice, folding a flood, the buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsbot.errors import ConfigError
from newsbot.models import (
    ArticleId,
    Author,
    Comment,
    CommentId,
    CommentStatus,
    MessageRef,
    Platform,
)
from newsbot.review import Action, Reason, ReviewItem
from newsbot.staffchat import (
    BUTTONS,
    DATA_MAX,
    TEXT_MAX,
    Kind,
    Notice,
    StaffChat,
    acted_text,
    button_data,
    enter,
    enter_all,
    kind_of,
    more_text,
    notice_due,
    notice_text,
    parse_button,
    parse_staff_chat,
)

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def item(text: str = "<b>hi</b> & bye", reasons: tuple[str, ...] = (Reason.AUTHOR,)) -> ReviewItem:
    comment = Comment(
        id=CommentId(7),
        article_id=ArticleId(3),
        parent_id=None,
        author=Author("Rita\nReader", Platform.TELEGRAM, "42"),
        text=text,
        source=MessageRef(Platform.TELEGRAM, "-100", "5"),
        status=CommentStatus.HIDDEN,
        created_at=NOW,
    )
    reports = 3 if Reason.REPORTED in reasons else 0
    report_reasons = ("spam", "rude\nwords") if reports else ()
    return ReviewItem(comment, reasons, reports, report_reasons, NOW)


def test_the_setting() -> None:
    assert parse_staff_chat("") is None
    assert parse_staff_chat("  ") is None
    assert parse_staff_chat("telegram:-1001234") == StaffChat(Platform.TELEGRAM, "-1001234")
    assert parse_staff_chat("discord:99") == StaffChat(Platform.DISCORD, "99")
    assert str(parse_staff_chat("discord:99")) == "discord:99"


@pytest.mark.parametrize(
    "value", ["telegram", "telegram:", "discord:-5", "web:1", "telegram:12a", "discord:١٢"]
)
def test_a_bad_setting_is_refused_naming_it(value: str) -> None:
    with pytest.raises(ConfigError, match="NEWSBOT_STAFF_CHAT"):
        parse_staff_chat(value)


def test_an_item_is_reported_only_when_that_is_its_only_reason() -> None:
    assert kind_of((Reason.REPORTED,)) is Kind.REPORTED
    assert kind_of((Reason.AUTHOR, Reason.REPORTED)) is Kind.HELD
    assert kind_of((Reason.PREMODERATED,)) is Kind.HELD


def test_calm_one_notice_per_item() -> None:
    notice, new = enter(None, CommentId(1), Kind.HELD)
    assert new and notice == Notice(CommentId(1), Kind.HELD)
    assert notice.folded == 0
    # The notice was sent (nothing pending): the next item gets its own.
    second, new = enter(None, CommentId(2), Kind.REPORTED)
    assert new and second.lead == CommentId(2)


def test_a_flood_folds_into_the_pending_notice() -> None:
    notice, _ = enter(None, CommentId(1), Kind.HELD)
    for number in range(2, 25):
        notice, new = enter(notice, CommentId(number), Kind.HELD)
        assert not new
    notice, _ = enter(notice, CommentId(99), Kind.REPORTED)
    notice, _ = enter(notice, CommentId(1), Kind.HELD)  # the lead again: no change
    assert notice.lead == CommentId(1)
    assert notice.folded == 24
    assert more_text(notice.more) == "23 more held, 1 more reported"
    assert more_text({}) == ""


def test_a_batch_folds_as_its_items_would_one_by_one() -> None:
    batches: list[list[tuple[CommentId, Kind]]] = [
        [(CommentId(1), Kind.HELD)],
        [(CommentId(n), Kind.HELD) for n in range(1, 30)],
        [(CommentId(1), Kind.HELD), (CommentId(1), Kind.REPORTED), (CommentId(1), Kind.HELD)],
        [(CommentId(5), Kind.REPORTED), (CommentId(6), Kind.HELD), (CommentId(5), Kind.REPORTED)],
    ]
    for pending in (None, Notice(CommentId(1), Kind.HELD, {Kind.REPORTED: 2})):
        for batch in batches:
            one_by_one, first_new = pending, pending is None
            for comment_id, kind in batch:
                one_by_one, _ = enter(one_by_one, comment_id, kind)
            assert enter_all(pending, batch) == (one_by_one, first_new)
    same = Notice(CommentId(1), Kind.HELD)
    assert enter_all(same, [(CommentId(1), Kind.HELD)])[0] is same  # nothing to write
    assert enter_all(same, []) == (same, False)
    with pytest.raises(ValueError):
        enter_all(None, [])


def test_a_flood_of_200_makes_a_bounded_number_of_notices() -> None:
    """The outbox sends the pending notice now and then (here after every 40 items): only
    those sends plus the first make messages, and every item is counted in one of them."""
    pending: Notice | None = None
    sent: list[Notice] = []
    for number in range(1, 201):
        pending, _new = enter(pending, CommentId(number), Kind.HELD)
        if number % 40 == 0:
            sent.append(pending)
            pending = None
    assert pending is None
    assert len(sent) == 5
    assert sum(1 + n.folded for n in sent) == 200


def test_the_notice_text_is_plain_and_bounded() -> None:
    text = notice_text(item(), "Budget\nvote", {Kind.HELD: 2})
    assert text.heading == "Held comment"
    assert text.article == "Budget vote"
    assert text.platform == "telegram"
    assert text.author == "Rita Reader"
    assert text.reasons == "author"
    assert text.text == "<b>hi</b> & bye"  # escaping is the adapter's
    assert text.more == "2 more held"
    long = notice_text(item("x" * 5000), "A", {})
    assert len(long.text) == TEXT_MAX and long.text.endswith("…")


def test_a_reported_notice_says_how_many_and_why() -> None:
    text = notice_text(item(reasons=(Reason.REPORTED,)), "A", {})
    assert text.heading == "Reported comment (3 reports)"
    assert text.reasons == "reported, reported: spam, reported: rude words"


def test_button_data_round_trips_within_the_limit() -> None:
    for action in BUTTONS:
        data = button_data(CommentId(123456789012), action)
        assert len(data.encode()) <= DATA_MAX
        assert parse_button(data) == (CommentId(123456789012), action)
    with pytest.raises(ValueError, match="no staff button"):
        button_data(CommentId(1), Action.UNDO_HIDE)


@pytest.mark.parametrize(
    "data",
    [
        "",
        "desk",
        "desk:a",
        "desk:a:",
        "desk:x:1",
        "other:a:1",
        "desk:a:-1",
        "desk:a:1x",
        "desk:a:١",
        "desk:a:" + "9" * 19,
        "desk:a:1:2",
    ],
)
def test_foreign_or_forged_button_data_is_not_ours(data: str) -> None:
    assert parse_button(data) is None


def test_the_acted_line() -> None:
    assert acted_text(Action.APPROVE, "Ada\nAdmin") == "Approved by Ada Admin"
    assert acted_text(Action.BAN, "") == "Author banned by a moderator"
    assert acted_text(Action.HIDE, "Ada", changed=False) == "Hidden by Ada (nothing changed)"


def test_a_notice_waits_the_gap_after_the_last() -> None:
    assert notice_due(NOW, None, 3.0) == NOW
    assert notice_due(NOW, NOW - timedelta(seconds=10), 3.0) == NOW
    assert notice_due(NOW, NOW - timedelta(seconds=1), 3.0) == NOW + timedelta(seconds=2)
