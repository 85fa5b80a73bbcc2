"""End to end: moderation follows the person. A person linked on Telegram, Discord and the
web is banned from one surface and refused on all three; deleting all their comments removes
every copy. Real python-telegram-bot and discord.py clients, the fakes, the real web server."""

from __future__ import annotations

import re
from typing import Any

from adapters.web.signin import SignInConfig
from newsbot import Actor, ArticleId, CommentStatus, MessageRef, NewsService, Platform
from newsbot.people import PersonId
from tests.adapters.telegram.telegram_e2e_helpers import (
    post_in,
    publish,
    subscribe_all,
    world_ref,
)
from tests.adapters.web.test_web_admin import TOKEN as ADMIN_TOKEN
from tests.adapters.web.test_web_admin import login as admin_login
from tests.adapters.web.test_web_helpers import Client, form_fields, web_client
from tests.adapters.web.test_web_signin import TOKEN, login
from tests.discord_helpers import World as DiscordWorld
from tests.discord_helpers import fake, make_world, world
from tests.fakes.wait import wait_for
from tests.telegram_helpers import GROUP, OTHER, READER
from tests.telegram_helpers import World as TelegramWorld
from tests.telegram_helpers import world as tg_world

__all__ = ["fake", "make_world", "tg_world", "world"]
SIGN_IN = SignInConfig(telegram_token=TOKEN, telegram_bot="news_bot")
CODE = re.compile(r"\b([A-HJ-NP-Z2-9]{8})\b")


async def sign_in_as(client: Client, service: NewsService, telegram_id: str) -> None:
    query = login(service, user=telegram_id)
    response = await client.get(f"/signin/telegram?{query}", allow_redirects=False)
    assert response.status == 303, await response.text()


async def web_comment(client: Client, article_id: int, text: str) -> Any:
    form = form_fields(await (await client.get(f"/articles/{article_id}")).text())
    form["text"] = text
    return await client.post(f"/articles/{article_id}/comments", data=form, allow_redirects=False)


async def test_a_person_banned_from_the_admin_page_is_refused_on_telegram_and_the_web(
    tg_world: TelegramWorld,
) -> None:
    w = tg_world
    await w.start()
    await subscribe_all(w)
    await publish(w, "Title\nBody")
    group_post = post_in(w, GROUP)["message_id"]
    await w.processed()
    async with (
        web_client(w.service, sign_in=SIGN_IN) as nina,
        web_client(w.service, admin_token=ADMIN_TOKEN) as admin,
    ):
        await sign_in_as(nina, w.service, str(READER))  # the web and Telegram: one person
        assert (await web_comment(nina, 1, "From the web")).status == 303
        first = w.tg.user_sends(GROUP, READER, "From Telegram", reply_to=group_post)
        await w.processed()
        comment = await w.store.get_comment_by_source(world_ref(GROUP, first["message_id"]))
        assert comment is not None
        await w.drain()  # mirrored to the other chats of the article
        copies = [
            s
            for s in await w.store.deliveries_for_comment(comment.id)
            if str(s.delivery.message_id).rpartition(":")[2].isdigit()
        ]
        assert copies, "the comment was mirrored"
        person = await w.service.people.find(Platform.TELEGRAM, str(READER))
        assert person is not None
        await admin_login(admin)
        page = await (await admin.get(f"/admin/people/{person.id}")).text()
        assert "From Telegram" in page and "From the web" in page
        banned = await admin.post(f"/admin/people/{person.id}/ban", allow_redirects=False)
        assert banned.status == 303
        await w.drain()
        deleted = {
            (str(c["chat_id"]), str(c["message_id"])) for c in w.tg.calls_to("deleteMessage")
        }
        for copy in copies:  # every copy of hers is gone from its chat
            chat, _, message = str(copy.delivery.message_id).rpartition(":")
            assert (chat or copy.destination.chat_id, message) in deleted
        # Refused everywhere: a Telegram reply is not stored (a reader after her is) ...
        late = w.tg.user_sends(GROUP, READER, "Still here?", reply_to=group_post)
        other = w.tg.user_sends(GROUP, OTHER, "Hello", reply_to=group_post)
        await w.processed()
        assert await w.store.get_comment_by_source(world_ref(GROUP, other["message_id"]))
        assert not await w.store.get_comment_by_source(world_ref(GROUP, late["message_id"]))
        # ... the web session ended, and signing in again is refused.
        assert (await web_comment(nina, 1, "again")).status == 400  # asked for a name now
        assert await w.service.comment_count(ArticleId(1)) == 1  # only Omar's
        again = await nina.get(f"/signin/telegram?{login(w.service, age=1, user=str(READER))}")
        assert again.status == 403


async def test_a_ban_from_discord_follows_the_person_to_the_web(world: DiscordWorld) -> None:
    await world.subscribe(world.text)
    article_id = await world.publish()
    _post_id, thread_id = await world.post_of(article_id, world.text)
    thread = int(thread_id or 0)
    async with web_client(world.service, sign_in=SIGN_IN) as nina:
        await sign_in_as(nina, world.service, "777")
        code = CODE.findall(str((await world.slash("link", world.reader))["data"]["content"]))
        linked = await nina.post("/signin/link", data={"code": code[0]})
        assert "Linked." in await linked.text()
        assert (await web_comment(nina, article_id, "From the web")).status == 303
        said = await world.fake.user_message(thread, world.reader, "From Discord")
        source = MessageRef(Platform.DISCORD, said["channel_id"], said["id"])

        async def stored(ref: MessageRef) -> bool:
            return await world.store.get_comment_by_source(ref) is not None

        await wait_for(lambda: stored(source), what="the Discord comment stored")
        answer = await world.menu("Ban author", world.owner, thread, int(said["id"]))
        assert "Banned" in str(answer["data"].get("content"))
        shown = await world.service.thread(ArticleId(article_id))
        assert [n.comment for n in shown.comments] == []  # her web comment too
        late = await world.fake.user_message(thread, world.reader, "Still here?")
        other = await world.fake.user_message(thread, world.manager, "Hello")
        await wait_for(
            lambda: stored(MessageRef(Platform.DISCORD, other["channel_id"], other["id"])),
            what="the next reader's comment",
        )
        assert not await stored(MessageRef(Platform.DISCORD, late["channel_id"], late["id"]))
        refused = await web_comment(nina, article_id, "again")
        assert refused.status == 400  # the session ended: the form asks for a name
        again = await nina.get(f"/signin/telegram?{login(world.service, age=2)}")
        assert again.status == 403
    comment = await world.store.get_comment_by_source(source)
    assert comment is not None and comment.status is CommentStatus.DELETED


async def test_a_forgotten_person_shows_as_deleted_user_on_every_copy(
    tg_world: TelegramWorld,
) -> None:
    w = tg_world
    await w.start()
    await subscribe_all(w)
    await publish(w, "Title\nBody")
    group_post = post_in(w, GROUP)["message_id"]
    await w.processed()
    async with web_client(w.service, sign_in=SIGN_IN) as nina:
        await sign_in_as(nina, w.service, str(READER))
        sent = w.tg.user_sends(GROUP, READER, "Remember me?", reply_to=group_post)
        await w.processed()
        await w.drain()
        person = await w.service.people.find(Platform.TELEGRAM, str(READER))
        assert person is not None
        count = await w.service.people.forget(
            Actor.operator(), PersonId(person.id), remove_comments=False
        )
        assert count == 1
        await w.drain()
        edits = [c for c in w.tg.calls_to("editMessageText") if "Remember me?" in c["text"]]
        assert edits and all("deleted user" in c["text"] for c in edits)
        assert all("Rita" not in c["text"] for c in edits)
        comment = await w.store.get_comment_by_source(world_ref(GROUP, sent["message_id"]))
        assert comment is not None and comment.author.name == "deleted user"
        assert await w.service.people.find(Platform.TELEGRAM, str(READER)) is None
        html = await (await nina.get("/articles/1")).text()
        assert "Commenting as" not in html  # her session named a person now forgotten
