"""End to end: a staff member's web comment carries the badge on the page and the marker in
its Telegram copies; a typed name imitating the badge is refused on the form."""

from __future__ import annotations

from adapters.web.signin import SignInConfig
from newsbot.staff import STAFF_MARK
from tests.adapters.telegram.telegram_e2e_helpers import publish, subscribe_all
from tests.adapters.test_people_moderation_e2e import sign_in_as, web_comment
from tests.adapters.web.test_web_helpers import post_comment, web_client
from tests.adapters.web.test_web_signin import TOKEN
from tests.fakes.wait import wait_for
from tests.telegram_helpers import ADMIN, GROUP
from tests.telegram_helpers import World as TelegramWorld
from tests.telegram_helpers import world as tg_world

__all__ = ["tg_world"]
SIGN_IN = SignInConfig(telegram_token=TOKEN, telegram_bot="news_bot")


async def test_staff_badge_on_the_web_and_marker_in_copies(tg_world: TelegramWorld) -> None:
    w = tg_world
    await w.start()
    await subscribe_all(w)
    await publish(w, "Title\nBody")
    await w.processed()
    async with web_client(w.service, sign_in=SIGN_IN) as editor:
        await sign_in_as(editor, w.service, str(ADMIN))
        assert (await web_comment(editor, 1, "A word from the desk")).status == 303
        await w.drain()

        def copied() -> bool:
            return any("A word from the desk" in m.get("text", "") for m in w.bot_messages(GROUP))

        await wait_for(copied, 10, "the staff comment mirrored to the group")
        (copy,) = [m for m in w.bot_messages(GROUP) if "A word from the desk" in m["text"]]
        assert STAFF_MARK.strip() in copy["text"]
    async with web_client(w.service, sign_in=SIGN_IN) as reader:
        html = await (await reader.get("/articles/1")).text()
        assert '<span class="badge staff" title="The newsroom\'s staff">Staff</span>' in html
        refused = await post_comment(reader, 1, "Еditor", "I am the editor")  # Cyrillic Е
        assert refused.status == 400
        assert "kept for the newsroom" in (await refused.text()).replace("&#39;", "'")
