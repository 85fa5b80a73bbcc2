"""The one error-to-answer policy both chat adapters use (newsbot.answers)."""

from __future__ import annotations

import pytest

from newsbot.answers import APOLOGY, TRY_AGAIN, AnswerKind, answer_to
from newsbot.errors import (
    DestinationGone,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    StorageError,
)


@pytest.mark.parametrize(
    "error",
    [NotFound("There is no article 9."), PermissionDenied("No."), InvalidInput("Usage: x")],
)
def test_a_domain_error_is_shown_as_it_is(error: Exception) -> None:
    answer = answer_to(error)
    assert (answer.kind, answer.text) == (AnswerKind.SHOW, str(error))


def test_a_storage_error_asks_to_try_again() -> None:
    answer = answer_to(StorageError("connection refused at 10.0.0.5"))
    assert (answer.kind, answer.text) == (AnswerKind.RETRY, TRY_AGAIN)
    assert "10.0.0.5" not in TRY_AGAIN


@pytest.mark.parametrize("error", [RateLimited(3.0), DestinationGone("gone")])
def test_an_answer_that_could_not_be_delivered_is_not_answered_again(error: Exception) -> None:
    assert answer_to(error).kind is AnswerKind.SILENT
    assert answer_to(error).text is None


@pytest.mark.parametrize("error", [KeyError("secret"), RuntimeError("token=abc"), TypeError()])
def test_anything_else_gets_an_apology_that_tells_nothing(error: Exception) -> None:
    answer = answer_to(error)
    assert (answer.kind, answer.text) == (AnswerKind.APOLOGISE, APOLOGY)
    assert str(error) not in APOLOGY or not str(error)
