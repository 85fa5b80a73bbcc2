"""Staff are recognisable, and names that imitate them are refused (typed) or marked."""

from __future__ import annotations

import pytest

from newsbot import InvalidInput, MessageRef, NewsService, Platform
from newsbot.errors import ConfigError
from newsbot.models import Author
from newsbot.staff import IMITATION_MARK, STAFF_MARK, imitates_staff, parse_staff, shown_name
from tests.conftest import ADMIN, draft, subscribe

STORE_BACKENDS = ("memory",)


@pytest.mark.parametrize(
    "name", ["Editor", "STAFF", "Еdіtor", "Adm1n", "The Moderator", "e d i t o r", "Newsroom"]
)
def test_names_imitating_the_badge_are_recognised(name: str) -> None:
    assert imitates_staff(name)


@pytest.mark.parametrize("name", ["Nina", "Rita Reader", "Eddie Tor"])
def test_ordinary_names_are_not(name: str) -> None:
    assert not imitates_staff(name)


def test_only_staff_names_carry_the_mark() -> None:
    assert shown_name("Ada", True) == "Ada" + STAFF_MARK
    assert shown_name("Eve ✓ staff", False) == "Eve staff" + IMITATION_MARK
    assert shown_name("Eve ✔", False) == "Eve"
    assert shown_name("Rita", False) == "Rita"


def test_the_staff_setting() -> None:
    assert parse_staff("telegram:1, discord:22,telegram:3") == {
        Platform.TELEGRAM: frozenset({"1", "3"}),
        Platform.DISCORD: frozenset({"22"}),
    }
    assert parse_staff("") == {}
    with pytest.raises(ConfigError, match="NEWSBOT_STAFF"):
        parse_staff("slack:1")


async def test_staff_comments_are_marked_and_imitations_refused_or_marked(
    service: NewsService,
) -> None:
    service.staff = parse_staff("discord:5")
    await subscribe(service, "-1")
    article = (await service.publish(ADMIN, draft())).article
    post = MessageRef(Platform.WEB, str(article.id), "seed")
    await service.add_web_comment(article.id, "Nina", "first", client_key="seed", user_id="w:1")

    async def reply(author: Author, n: int) -> str:
        stored = await service.record_reply(
            reply_to=post,
            source=MessageRef(author.platform, "c", str(n)),
            author=author,
            text="hi",
        )
        assert stored is not None
        return stored.author.name

    assert await reply(Author("Ada Admin", Platform.TELEGRAM, "42"), 1) == "Ada Admin" + STAFF_MARK
    assert await reply(Author("Sam", Platform.DISCORD, "5"), 2) == "Sam" + STAFF_MARK
    assert await reply(Author("Editor Eve", Platform.DISCORD, "6"), 3) == (
        "Editor Eve" + IMITATION_MARK
    )
    with pytest.raises(InvalidInput, match="kept for the newsroom"):
        await service.add_web_comment(article.id, "Еditor", "x", client_key="k2", user_id="w:2")
    signed_in = await service.add_web_comment(
        article.id, "Admin Fan", "x", client_key="k3", user_id="telegram@77"
    )
    assert signed_in.author.name == "Admin Fan" + IMITATION_MARK  # the platform's name: marked
    staff_web = await service.add_web_comment(
        article.id, "Sam", "x", client_key="k4", user_id="discord@5"
    )
    assert staff_web.author.name == "Sam" + STAFF_MARK
    assert service.is_staff(staff_web.author) and not service.is_staff(signed_in.author)
