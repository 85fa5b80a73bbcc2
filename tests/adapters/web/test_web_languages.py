"""The thread page and the report form in German and Ukrainian, served by the real app:
the words merged in with sign-in, reactions and the moderation desk are translated too."""

from __future__ import annotations

import json
import re

from adapters.i18n import Speech
from newsbot import NewsService
from tests.adapters.web.test_web_helpers import publish, web_client


async def _thread(service: NewsService, language: str) -> tuple[str, str]:
    article = await publish(service, title="Brücke")
    root = await service.add_web_comment(article.id, "Nina", "Erster", client_key="a")
    for n in range(7):  # deeper than the page nests
        root = await service.add_web_comment(
            article.id, "Olha", f"r{n}", parent_id=root.id, client_key=f"k{n}"
        )
    async with web_client(service, speech=Speech.of(language)) as client:
        page = await (await client.get(f"/articles/{article.id}")).text()
        report = await (await client.get(f"/comments/{root.id}/report")).text()
    return page, report


async def test_a_german_thread(service: NewsService) -> None:
    page, report = await _thread(service, "de")
    assert '<p class="sort">Sortieren: ' in page and ">Älteste zuerst</a>" in page
    assert '>Antworten<span class="vh"> an <bdi>Nina</bdi></span></a>' in page
    assert '>Melden<span class="vh"> den Kommentar von Nina</span></a>' in page
    assert '<a class="react" href="' in page and ">Reagieren</a>" in page
    words = json.loads(re.search(r"data-words='([^']*)'", page)[1])  # type: ignore[index]
    assert words["hide"] == "Antworten ausblenden (%(num)d)" and words["to"] == "an"
    assert "<h1>Kommentar melden</h1>" in report and ">Melden</button>" in report
    assert "Atom-Feed" in page and "Sort:" not in page and "React<" not in page


async def test_a_ukrainian_thread(service: NewsService) -> None:
    page, report = await _thread(service, "uk")
    assert ">Спершу нові</a>" in page and ">Відреагувати</a>" in page
    assert "<h1>Поскаржитися на коментар</h1>" in report
    assert "Чому модераторові варто це переглянути?" in report


def test_ukrainian_counts_of_reports_have_three_forms() -> None:
    uk = Speech.of("uk")
    forms = [
        uk.ngettext("%(num)d report(s)", "%(num)d report(s)", n) % {"num": n} for n in (1, 3, 5)
    ]
    assert forms == ["1 скарга", "3 скарги", "5 скарг"]


def test_ukrainian_continued_threads_have_three_forms() -> None:
    uk = Speech.of("uk")
    one, many = (
        "Continue this thread (%(num)d more reply)",
        "Continue this thread (%(num)d more replies)",
    )
    forms = [uk.ngettext(one, many, n) % {"num": n} for n in (1, 2, 11)]
    assert forms == [
        "Продовжити гілку (ще 1 відповідь)",
        "Продовжити гілку (ще 2 відповіді)",
        "Продовжити гілку (ще 11 відповідей)",
    ]
