"""The fast path for plain replies agrees with the library path on every message it takes,
and leaves everything else to the library."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.ext import filters

from adapters.telegram.fastpath import UpdatesRequest, plain_reply
from adapters.telegram.handlers import author_of, chat_names, message_text

# What routes a message to Handlers.reply (handlers.py: install), and what would take it first.
REPLY_FILTER = (
    filters.UpdateType.MESSAGE
    & filters.ChatType.GROUPS
    & filters.REPLY
    & ~filters.COMMAND
    & ~filters.StatusUpdate.ALL
)
FIRST = filters.COMMAND | filters.IS_AUTOMATIC_FORWARD | filters.StatusUpdate.MIGRATE

names = st.text(min_size=1, max_size=40)
ids = st.integers(min_value=1, max_value=2**52)
user = st.fixed_dictionaries(
    {"id": ids, "is_bot": st.just(False), "first_name": names},
    optional={"last_name": names, "username": st.from_regex(r"[a-z]\w{4,20}", fullmatch=True)},
)
sender_chat = st.fixed_dictionaries(
    {"id": st.integers(min_value=-(10**13), max_value=-1), "type": st.just("channel")},
    optional={"title": names, "username": st.from_regex(r"[a-z]\w{4,20}", fullmatch=True)},
)
chat = st.fixed_dictionaries(
    {
        "id": st.integers(min_value=-(10**13), max_value=-1),
        "type": st.sampled_from(["group", "supergroup"]),
    },
    optional={"title": names, "username": st.from_regex(r"[a-z]\w{4,20}", fullmatch=True)},
)
entity = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["bold", "bot_command", "url", "mention"]),
        "offset": st.integers(0, 3),
        "length": st.integers(1, 3),
    }
)


@st.composite
def replies(draw: st.DrawFn) -> dict[str, Any]:
    group = draw(chat)
    message: dict[str, Any] = {
        "message_id": draw(ids),
        "date": draw(st.integers(1_600_000_000, 1_900_000_000)),
        "chat": group,
        "text": draw(st.text(min_size=1, max_size=200)),
        "reply_to_message": {
            "message_id": draw(ids),
            "date": 1_700_000_000,
            "chat": group,
            "text": "The article post, in full",
            "entities": [{"type": "text_link", "offset": 0, "length": 3, "url": "https://x"}],
        },
    }
    if draw(st.booleans()):
        message["sender_chat"] = draw(sender_chat)
    if draw(st.integers(0, 5)):
        message["from"] = draw(user)
    if draw(st.booleans()):
        message["entities"] = sorted(draw(st.lists(entity, max_size=3)), key=lambda e: e["offset"])
    return {"update_id": draw(ids), "message": message}


@settings(max_examples=300, deadline=None)
@given(replies())
def test_the_fast_path_reads_what_the_library_path_reads(raw: dict[str, Any]) -> None:
    update = Update.de_json(json.loads(json.dumps(raw)), None)
    message = update.message
    assert message is not None
    reply = plain_reply(raw)
    routed = bool(REPLY_FILTER.check_update(update)) and not FIRST.check_update(update)
    author = author_of(message)
    if reply is None:
        # Left to the library: fine whenever the library would not store it as a plain reply
        # either, or it is one we do not take (a command-looking entity, no sender).
        assert (
            not routed
            or author is None
            or any(
                e["type"] == "bot_command" and e["offset"] == 0
                for e in raw["message"].get("entities", ())
            )
        )
        return
    assert routed, "the fast path took a message the reply handler would not get"
    assert reply.update_id == update.update_id
    assert reply.author == author
    assert reply.text == message_text(message)
    assert reply.chat_names == chat_names(message.chat)
    assert reply.message_id == message.message_id
    assert message.reply_to_message is not None
    assert reply.replied_id == message.reply_to_message.message_id
    assert reply.sent_at == message.date


def test_the_library_keeps_everything_else() -> None:
    group = {"id": -1001, "type": "supergroup", "title": "G"}
    reader = {"id": 7, "is_bot": False, "first_name": "Rita"}
    base = {
        "message_id": 5,
        "date": 1_700_000_000,
        "chat": group,
        "from": reader,
        "text": "hello",
        "reply_to_message": {"message_id": 4, "date": 1_700_000_000, "chat": group},
    }
    assert plain_reply({"update_id": 1, "message": base}) is not None
    others: list[dict[str, Any]] = [
        {"update_id": 1, "edited_message": base},
        {"update_id": 1, "message": {**base, "chat": {"id": 7, "type": "private"}}},
        {"update_id": 1, "message": {k: v for k, v in base.items() if k != "reply_to_message"}},
        {
            "update_id": 1,
            "message": {**base, "text": "/ban"}
            | {"entities": [{"type": "bot_command", "offset": 0, "length": 4}]},
        },
        {"update_id": 1, "message": {**base, "is_automatic_forward": True}},
        {"update_id": 1, "message": {**base, "from": {**reader, "is_bot": True}}},
        {
            "update_id": 1,
            "message": {k: v for k, v in base.items() if k != "text"}
            | {"caption": "a photo", "photo": []},
        },
        {"update_id": 1, "message": {**base, "new_chat_title": "x"}},
        {"update_id": 1, "message": {**base, "chat": "not a chat"}},
        {"update_id": 1, "message": base, "callback_query": {}},
        ["not", "an", "update"],  # type: ignore[list-item]  # not even an object, on purpose
    ]
    for other in others:
        assert plain_reply(other) is None, other


def test_the_request_takes_plain_replies_and_trims_the_rest() -> None:
    group = {"id": -1001, "type": "supergroup", "title": "G"}
    post = {
        "message_id": 4,
        "date": 1_700_000_000,
        "chat": group,
        "text": "x" * 4000,
        "entities": [{"type": "bold", "offset": 0, "length": 1}],
    }
    plain = {
        "message_id": 5,
        "date": 1_700_000_000,
        "chat": group,
        "from": {"id": 7, "is_bot": False, "first_name": "Rita"},
        "text": "hello",
        "reply_to_message": post,
    }
    photo = {k: v for k, v in plain.items() if k != "text"} | {"caption": "c", "photo": []}
    payload = {
        "ok": True,
        "result": [
            {"update_id": 1, "message": plain},
            {"update_id": 2, "message": photo},
        ],
    }
    request = UpdatesRequest()
    parsed = request.parse_json_payload(json.dumps(payload).encode())
    assert [u["update_id"] for u in parsed["result"]] == [2]
    assert parsed["result"][0]["message"]["reply_to_message"] == {
        "message_id": 4,
        "date": 1_700_000_000,
        "chat": group,
    }
    taken = request.take()
    assert [r.update_id for r in taken] == [1]
    assert request.take() == []
