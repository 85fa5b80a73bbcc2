"""Languages and time zones: the catalogs are complete and current, plurals and dates right."""

from __future__ import annotations

import io
import pickle
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from adapters.discord.render import article_embed
from adapters.i18n import (
    Speech,
    accepted_speech,
    checked_speech_setting,
    speech_for,
    translations,
)
from adapters.telegram.render.posts import comment_count_line, render_thread
from adapters.web.render import comments_label, slugify
from newsbot import (
    Actor,
    ArticleId,
    CommentId,
    DestinationKind,
    NewDestination,
    NewsService,
    Platform,
)
from newsbot.answers import APOLOGY, TRY_AGAIN, answer_to
from newsbot.errors import InvalidInput, NotFound, PermissionDenied, StorageError
from newsbot.i18n import LOCALE_DIR, N_, Message, languages, normalise_language
from tests.adapters.discord.test_discord_render import make_article
from tests.adapters.telegram.telegram_e2e_helpers import subscribe_all
from tests.adapters.web.test_web_helpers import web_client
from tests.discord_helpers import content, fake, make_world
from tests.telegram_helpers import ADMIN, GROUP, IGNORE_RETRY_AFTER_WARNING, world
from tests.telegram_helpers import World as TgWorld

__all__ = ["fake", "make_world", "world"]
pytestmark = IGNORE_RETRY_AFTER_WARNING

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = ("de", "uk")


def _ids(catalog_bytes: bytes) -> set[object]:
    return {m.id for m in read_po(io.BytesIO(catalog_bytes)) if m.id}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[object]:
    """The messages in the code now, extracted as `make messages` does."""
    pot = tmp_path_factory.mktemp("messages") / "newsbot.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg",
         "--no-location", "--sort-output", "--omit-header", "-k", "N_", "-o", str(pot), "."],
        cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    ids = _ids(pot.read_bytes())
    assert len(ids) > 50  # the extraction found the templates and the code
    return ids


def test_the_template_is_up_to_date(extracted: set[object]) -> None:
    assert _ids((LOCALE_DIR / "newsbot.pot").read_bytes()) == extracted, "run `make messages`"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_has_a_translation(language: str, extracted: set[object]) -> None:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "newsbot.po"
    catalog = read_po(io.BytesIO(path.read_bytes()), locale=language)
    assert {m.id for m in catalog if m.id} == extracted, "run `make messages`, then translate"
    for message in catalog:
        if not message.id:
            continue
        raw = message.string if isinstance(message.string, tuple) else (message.string,)
        strings = [str(s or "") for s in raw]
        assert len(strings) == (catalog.num_plurals if message.pluralizable else 1), message.id
        assert all(s.strip() for s in strings), f"{language}: no translation for {message.id!r}"
        assert not message.fuzzy, message.id
        # A translation keeps the values it is given: it names none that is not passed, and
        # (a count aside, which a form may spell out) drops none.
        ids = [str(i) for i in (message.id if isinstance(message.id, tuple) else (message.id,))]
        wanted = set().union(*(_placeholders(i) for i in ids))
        for s in strings:
            assert wanted - {"count", "seconds", "max"} <= _placeholders(s) <= wanted, s


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\((\w+)\)s", text))


def test_the_shipped_languages() -> None:
    assert languages() == ("en", "de", "uk")
    assert normalise_language("UK") == "uk"
    assert normalise_language("de-AT") == "de"
    assert speech_for("en-US").language == "en"
    assert speech_for("fr").language == "en"
    assert speech_for("uk").language == "uk"
    with pytest.raises(ValueError, match="no catalog"):
        normalise_language("fr")


@pytest.mark.parametrize(
    ("count", "line"),
    [
        (1, "💬 1 коментар"),
        (2, "💬 2 коментарі"),
        (5, "💬 5 коментарів"),
        (11, "💬 11 коментарів"),
        (21, "💬 21 коментар"),
        (22, "💬 22 коментарі"),
        (0, "💬 Коментарів ще немає"),
    ],
)
def test_ukrainian_count_lines_have_three_plural_forms(count: int, line: str) -> None:
    assert comment_count_line(count, translations("uk")) == line


def test_count_lines_in_each_language() -> None:
    assert comment_count_line(1) == "💬 1 comment"
    assert comment_count_line(2) == "💬 2 comments"
    assert comment_count_line(1, translations("de")) == "💬 1 Kommentar"
    assert comment_count_line(21, translations("de")) == "💬 21 Kommentare"
    assert comments_label(5, translations("uk")) == "5 коментарів"
    assert comments_label(2, translations("de")) == "2 Kommentare"


def test_discord_embeds_count_in_the_language() -> None:
    article = make_article(title="Заголовок", body="Текст")
    embed = article_embed(article, url="", comment_count=3, tr=translations("uk"))
    assert embed.footer.text == "💬 3 коментарі"


def test_telegram_thread_pages_speak_the_language() -> None:
    page = render_thread("Titel", [], total=0, article_url="https://n.example/a/1",
                         tr=translations("de"))  # fmt: skip
    assert "Noch keine Kommentare" in page.text
    assert page.text.endswith("Im Web lesen")


def test_answers_are_translated() -> None:
    uk = translations("uk")
    assert answer_to(StorageError("down"), uk).text == uk.gettext(TRY_AGAIN) != TRY_AGAIN
    assert answer_to(RuntimeError("bug"), uk).text.startswith("Вибачте")  # type: ignore[union-attr]
    assert answer_to(RuntimeError("bug")).text == APOLOGY


def test_dates_in_the_configured_zone_and_language() -> None:
    at = datetime(2026, 1, 2, 23, 30, tzinfo=UTC)
    assert Speech().when(at) == "2 Jan 2026, 23:30 UTC"
    # Kyiv is two hours ahead in winter: already the 3rd there, in Ukrainian month names.
    assert Speech.of("uk", "Europe/Kyiv").when(at) == "3 січ. 2026, 01:30 +0200"
    assert Speech.of("de", "Europe/Berlin").when(at) == "3 Jan. 2026, 00:30 MEZ"
    # Summer time is the zone's too.
    assert Speech.of("de", "Europe/Berlin").when(at + timedelta(days=180)).endswith("MESZ")
    assert Speech.of("uk").ago(at - timedelta(hours=3), at) == "3 години тому"
    assert Speech.of("de").ago(at - timedelta(hours=5), at) == "vor 5 Stunden"


def test_settings_are_checked() -> None:
    assert checked_speech_setting("language", "uk") == "uk"
    assert checked_speech_setting("timezone", " Europe/Kyiv ") == "Europe/Kyiv"
    with pytest.raises(ValueError, match="unknown time zone"):
        checked_speech_setting("timezone", "Mars/Olympus")
    with pytest.raises(ValueError, match="no catalog"):
        checked_speech_setting("language", "xx")


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Café au lait!", "cafe-au-lait"),
        ("Новини Києва: мер відкрив міст", "novini-kiieva-mer-vidkriv-mist"),
        ("東京の天気", "dongjingnotianqi"),
        ("أخبار اليوم", "khbr-lywm"),
    ],
)
def test_slugs_are_readable_in_any_script(title: str, slug: str) -> None:
    assert slugify(title) == slug


async def test_only_newsbot_admins_set_a_chat_language(service: NewsService) -> None:
    new = NewDestination(Platform.TELEGRAM, "-100", DestinationKind.CHANNEL, title="Канал")
    await service.subscribe(Actor.operator(), new)
    stranger = Actor(Platform.TELEGRAM, "77", "Stranger", chat_admin=True)
    with pytest.raises(PermissionDenied):
        await service.set_chat_language(stranger, Platform.TELEGRAM, "-100", "uk")
    with pytest.raises(InvalidInput, match="no catalog"):
        await service.set_chat_language(Actor.operator(), Platform.TELEGRAM, "-100", "xx")
    with pytest.raises(NotFound):
        await service.set_chat_language(Actor.operator(), Platform.DISCORD, "-100", "uk")
    assert await service.set_chat_language(Actor.operator(), Platform.TELEGRAM, "-100", "uk-UA")
    assert await service.chat_language(Platform.TELEGRAM, "-100") == "uk"


def test_a_constant_refusal_from_the_core_is_answered_in_the_language() -> None:
    refusal = InvalidInput("This chat is not subscribed.")
    assert answer_to(refusal, translations("uk")).text == "Цей чат не підписаний."
    assert answer_to(refusal, translations("de")).text == "Dieser Chat ist nicht abonniert."


def test_a_refusal_with_values_is_answered_in_the_language() -> None:
    refusal = NotFound(N_("There is no article %(id)s."), id=9)
    assert str(refusal) == "There is no article 9."  # English for logs, the CLI and tests
    assert answer_to(refusal).text == "There is no article 9."
    assert answer_to(refusal, translations("de")).text == "Es gibt keinen Artikel 9."
    assert answer_to(refusal, translations("uk")).text == "Статті 9 не існує."


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (1, "Щонайбільше 1 тег."),
        (3, "Щонайбільше 3 теги."),
        (10, "Щонайбільше 10 тегів."),
        (21, "Щонайбільше 21 тег."),
    ],
)
def test_a_counting_refusal_has_each_plural_form(count: int, text: str) -> None:
    refusal = InvalidInput(
        Message.ngettext("At most %(count)s tag.", "At most %(count)s tags.", count), field="tags"
    )
    assert refusal.translated(translations("uk")) == text
    assert str(refusal) == ("At most 1 tag." if count == 1 else f"At most {count} tags.")


async def test_core_refusals_carry_their_message_and_values(service: NewsService) -> None:
    """The refusals the core raises reach an adapter as a message id and values: a stranger
    asking to retract hears why in German, the action named in German too."""
    stranger = Actor(Platform.TELEGRAM, "77", "Stranger")
    with pytest.raises(PermissionDenied) as refused:
        await service.retract(stranger, ArticleId(1))
    german = refused.value.translated(translations("de"))
    assert german == (
        "Nur newsbot-Admins dürfen Artikel zurückziehen. Ein Betreiber kann deine Benutzer-ID "
        "77 zu NEWSBOT_TELEGRAM_ADMINS hinzufügen."
    )
    assert str(refused.value).startswith("Only newsbot admins can retract articles.")
    with pytest.raises(NotFound) as missing:
        await service.article(ArticleId(424242))
    assert missing.value.message.values == {"id": 424242}
    assert missing.value.translated(translations("uk")) == "Статті 424242 не існує."


def test_a_refusal_crosses_a_process_boundary_with_its_message() -> None:
    refusal = InvalidInput(N_("Comment %(id)s was deleted."), id=5, field="text")
    again = pickle.loads(pickle.dumps(refusal))
    assert (again.field, str(again)) == ("text", "Comment 5 was deleted.")
    assert again.translated(translations("de")) == "Kommentar 5 wurde gelöscht."


def test_a_broken_translation_falls_back_to_english() -> None:
    class Broken:
        def gettext(self, message: str) -> str:
            return "Kein %(nope)s"

        def ngettext(self, singular: str, plural: str, n: int) -> str:
            return "Kein %(nope)s"

    assert Message("Comment %(id)s was deleted.", values={"id": 3}).render(Broken()) == (
        "Comment 3 was deleted."
    )


def test_accept_language_picks_the_shipped_language_preferred_most() -> None:
    site_speech = Speech.of("de", "Europe/Berlin")
    assert accepted_speech("fr-CH, uk;q=0.9, de;q=0.8", site_speech).language == "uk"
    assert accepted_speech("de;q=0.2, uk;q=0.7", Speech()).language == "uk"
    assert accepted_speech("en-GB,en;q=0.9", site_speech).language == "en"
    assert accepted_speech("fr, *;q=0.5", site_speech) == site_speech
    assert accepted_speech("uk;q=0, en;q=bad", site_speech) == site_speech
    assert accepted_speech(None, site_speech) == site_speech
    assert accepted_speech("uk", site_speech).zone == site_speech.zone


async def test_api_errors_are_translated_beside_a_stable_code(service: NewsService) -> None:
    async with web_client(service) as client:
        response = await client.get("/api/articles/999", headers={"Accept-Language": "uk"})
        assert response.status == 404
        assert response.headers["Vary"] == "Accept-Language"
        assert await response.json() == {"error": "Статті 999 не існує.", "code": "not_found"}
        response = await client.get(
            "/api/articles?limit=ten", headers={"Accept-Language": "de-DE,de;q=0.9"}
        )
        assert await response.json() == {
            "error": "Das Limit muss eine ganze Zahl zwischen 1 und 100 sein.",
            "code": "invalid_input",
            "field": "limit",
        }
        english = await (await client.get("/api/articles/999")).json()
        assert english == {"error": "There is no article 999.", "code": "not_found"}
    # Without a language the client speaks, the site's own is used.
    async with web_client(service, speech=Speech.of("de")) as client:
        response = await client.get("/api/nothing", headers={"Accept-Language": "fr"})
        assert await response.json() == {
            "error": "Diese Seite gibt es nicht.",
            "code": "not_found",
        }


# -- each surface through the fakes ----------------------------------------------------------


async def test_telegram_answers_in_the_senders_and_the_chats_language(world: TgWorld) -> None:
    """A private chat follows the sender's Telegram language; a group its own language."""
    await world.start()
    await subscribe_all(world)
    world.tg.add_user(ADMIN, "Ada", "ada", last_name="Admin", language_code="de")
    said = await world.say(ADMIN, ADMIN, "/publish")
    assert said["text"] == "Sende mir den Titel des Artikels (oder /cancel)."
    said = await world.say(ADMIN, ADMIN, "Schlagzeile")
    assert said["text"] == "Sende jetzt den Text in Markdown (oder /cancel)."
    said = await world.say(ADMIN, ADMIN, "/cancel")
    assert said["text"] == "Abgebrochen; nichts wurde veröffentlicht."
    said = await world.say(ADMIN, ADMIN, "/retract 999")  # a core refusal with a value
    assert said["text"] == "Es gibt keinen Artikel 999."
    said = await world.say(ADMIN, ADMIN, "/scheduled")
    assert said["text"] == "Nichts ist geplant."
    said = await world.say(ADMIN, ADMIN, "/publish Headline\nBody")
    assert said["text"] == (
        "Artikel 1 veröffentlicht: Headline\n"
        "Für 3 Ziele eingereiht. Seite: https://news.example/articles/1"
    )
    said = await world.say(ADMIN, ADMIN, "/retract 1")
    assert said["text"].startswith("Artikel 1 zurückgezogen; ")
    assert said["text"].endswith(" Nachrichten werden gelöscht.")
    await world.drain()  # the group's post is deleted before the group's answer is counted
    operator = Actor.operator()
    await world.service.set_chat_language(operator, Platform.TELEGRAM, str(GROUP), "uk")
    said = await world.say(GROUP, ADMIN, "/delete")  # the group's language, not the sender's
    assert said["text"] == "Надішліть /delete як відповідь на коментар."


async def test_discord_answers_follow_channel_member_then_server(make_world: Any) -> None:
    dc = await make_world()
    dc.fake.users[dc.owner]["locale"] = "uk"
    answer = await dc.slash("scheduled", dc.owner, dc.text)
    assert content(answer) == "Нічого не заплановано."
    answer = await dc.slash("retract", dc.owner, dc.text, article=999)
    assert content(answer) == "Статті 999 не існує."
    refused = content(await dc.slash("scheduled", dc.reader, dc.text))
    assert refused.startswith("Only newsbot admins can see scheduled articles.")  # en-US
    # The channel's own language comes first: everyone there is answered in German.
    await dc.slash("subscribe", dc.moderator, dc.text)
    operator = Actor.operator()
    assert await dc.service.set_chat_language(operator, Platform.DISCORD, str(dc.text), "de")
    answer = await dc.slash("scheduled", dc.owner, dc.text)
    assert content(answer) == "Nichts ist geplant."
    refused = content(await dc.slash("scheduled", dc.reader, dc.text))
    assert refused.startswith("Nur newsbot-Admins dürfen geplante Artikel sehen.")
    assert refused.endswith("Mitglieder mit der Berechtigung „Server verwalten“ auf diesem Server "
                            "dürfen das auch.")  # fmt: skip
    # Elsewhere, a member whose language newsbot lacks gets the server's preferred one.
    dc.fake.users[dc.owner]["locale"] = "fr"
    dc.fake.guilds[dc.guild].preferred_locale = "uk"
    answer = await dc.slash("scheduled", dc.owner, dc.news)
    assert content(answer) == "Нічого не заплановано."


async def test_discord_answers_fall_back_to_newsbot_language(make_world: Any) -> None:
    dc = await make_world(speech=Speech.of("de"))
    dc.fake.users[dc.owner]["locale"] = "fr"
    answer = await dc.slash("retract", dc.owner, dc.text, article=7)
    assert content(answer) == "Es gibt keinen Artikel 7."


def test_the_staff_chat_speaks_newsbot_language() -> None:
    from newsbot.review import Action
    from newsbot.staffchat import Kind, acted_text, more_text

    uk, de = translations("uk"), translations("de")
    assert more_text({Kind.HELD: 23, Kind.REPORTED: 1}) == "23 more held, 1 more reported"
    assert more_text({Kind.HELD: 3, Kind.REPORTED: 5}, uk) == (
        "ще 3 затримані, ще 5, на які поскаржилися"
    )
    assert acted_text(Action.APPROVE, "Ada", tr=de) == "Freigegeben von Ada"
    assert acted_text(Action.HIDE, "", changed=False, tr=uk) == (
        "Приховано: модератор (нічого не змінено)"
    )


def test_reply_notices_are_written_in_the_language() -> None:
    from adapters.discord.render import notice_content
    from adapters.telegram.render.notices import render_notice
    from newsbot.notifications import Notice, NoticeJob

    notice = Notice(
        CommentId(2), ArticleId(1), "Заголовок", "Rita", "Дякую!", "https://n.example/c/2"
    )
    job = NoticeJob(1, Platform.TELEGRAM, "7", (notice,) * 3, count=9, attempts=1)
    text = render_notice(job, tr=translations("uk")).text
    assert text.startswith("Нові відповіді на ваш коментар\n\nЗаголовок\nRita: Дякую!")
    assert "Відкрити коментар" in text and text.endswith("і ще 6")
    assert render_notice(job).text.startswith("New replies to your comment")
    one = NoticeJob(1, Platform.DISCORD, "7", (notice,), count=1, attempts=1)
    assert notice_content(one, tr=translations("de")).startswith("**Neue Antwort auf deinen")


def test_staff_notices_and_their_buttons_in_the_staff_chats_language() -> None:
    from adapters.discord.staffchat import notice_content
    from adapters.telegram.staffchat import keyboard, notice_html
    from newsbot.staffchat import NoticeText

    de = translations("de")
    text = NoticeText(
        heading="Zurückgehaltener Kommentar",
        article="Titel <b>",
        platform="web",
        author="Rita",
        reasons="first comment",
        text="Hallo",
        more="2 weitere zurückgehalten",
        tr=de,
    )
    html = notice_html(text)
    assert "Artikel: Titel &lt;b&gt;" in html and "Auf web von Rita" in html
    assert "Grund: first comment" in html and "<i>…und 2 weitere zurückgehalten</i>" in html
    labels = [b.text for b in keyboard(CommentId(5), de).inline_keyboard[0]]
    assert labels == ["Freigeben", "Ausblenden", "Löschen", "Sperren"]
    assert notice_content(text).startswith(
        "**Zurückgehaltener Kommentar**\nArtikel: Titel \\<b\\>"
    )
