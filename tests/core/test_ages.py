"""Ages as a cached page shows them: floored to a unit, true within one unit while kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsbot.ages import Age, age, first_change

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "lag", "count", "unit"),
    [
        (0, 0, 0, "minute"),
        (59, 0, 0, "minute"),
        (20, 40, 1, "minute"),  # seen up to 40 s late: it may be a minute old by then
        (5 * 60 + 10, 40, 5, "minute"),
        (59 * 60 + 30, 40, 1, "hour"),
        (2 * 86400, 40, 2, "day"),
        (29 * 86400, 40, 4, "week"),
        (45 * 86400, 40, 1, "month"),
        (800 * 86400, 40, 2, "year"),
        (10 * 60, 600, 0, None),  # the minute is no longer than the lag: the exact time
        (3 * 3600, 600, 3, "hour"),
    ],
)
def test_an_age_is_floored_to_the_largest_unit_it_reaches(
    seconds: int, lag: float, count: int, unit: str | None
) -> None:
    found = age(NOW - timedelta(seconds=seconds), NOW, lag)
    if unit is None:
        assert found is None
    else:
        assert found is not None and (found.count, found.unit) == (count, unit)


@pytest.mark.parametrize("lag", [0, 15, 40, 59])
def test_a_page_made_now_and_again_when_an_age_changes_is_true_within_one_unit(lag: float) -> None:
    # Every moment a reader can see a page made at `made` (until the page is made again at
    # `changes_at`, and then `lag` seconds more in a browser or a shared cache), the age shown
    # is within one unit of the true one.
    at = NOW
    made = NOW
    checked = 0
    while made < NOW + timedelta(days=40):
        shown = age(at, made, lag)
        assert shown is not None and shown.changes_at > made
        last = shown.changes_at + timedelta(seconds=lag, microseconds=-1)
        for seen in (made, last):
            true = (seen - at).total_seconds()
            assert abs(shown.count * shown.seconds - true) < shown.seconds, (made, seen, shown)
            checked += 1
        made = shown.changes_at
    assert checked > 100


def test_the_first_change_of_several_ages() -> None:
    ages = [age(NOW - timedelta(minutes=m), NOW) for m in (3, 90)] + [None]
    assert first_change(ages) == NOW + timedelta(minutes=1)
    assert first_change([None]) is None
    assert Age(2, "hour", 3600, NOW).span == timedelta(hours=2)
