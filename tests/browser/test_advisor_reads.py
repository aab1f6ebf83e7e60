"""What the advisor reads on the page (issue 18), in Chromium at 1366×768: the answer comes into view,
lists, tables and links render as such, sources are dated and samples said to be examples, a refusal
stays bare, long strings never widen the page, a long paste is announced, the mode is said once,
/docs works offline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.stack import Served
from tests.browser.test_advisor_page import Watched

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def laptop(browser: Any, served: Served) -> Iterator[Watched]:
    """A 1366×768 tab holding the site key."""
    context = browser.new_context(viewport=LAPTOP, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.add_init_script(f"sessionStorage.setItem('guichet.siteKey', {json.dumps(served.key)})")
    watch = Watched(page, served.url)
    yield watch
    context.close()


def ask(watched: Watched, question: str) -> Any:
    page = watched.page
    watched.open()
    page.fill("#question", question)
    page.click("#ask-button")
    watched.wait_done()
    page.wait_for_timeout(600)  # the smooth scroll ends
    return page


def test_after_asking_the_answer_is_in_view_and_focused(laptop: Watched) -> None:
    page = ask(laptop, "Comment renouveler une carte d'identité périmée ?")
    assert page.evaluate("document.activeElement.id") == "answer-title"
    top = page.evaluate("document.getElementById('answer-title').getBoundingClientRect().top")
    assert 0 <= top < LAPTOP["height"] / 2, f"the answer starts at {top}px"
    laptop.check_contained()


def test_lists_tables_and_links_render_as_such(laptop: Watched) -> None:
    page = ask(laptop, "Carte d'identité périmée : le tableau des durées ?")
    text = page.locator("#answer-text")
    assert text.locator("ul li").count() == 2
    assert text.locator("table th").all_inner_texts() == ["Titulaire", "Durée de validité"]
    assert text.locator("table td").first.inner_text() == "Majeur"
    link = text.locator("a[href='https://timbres.impots.gouv.fr/']")
    assert link.inner_text() == "le site des timbres fiscaux"
    assert "https://" not in text.inner_text() and "- une photo" not in text.inner_text()
    laptop.check_contained()


def test_sources_show_their_date_and_that_samples_are_not_official(laptop: Watched) -> None:
    page = ask(laptop, "Comment renouveler une carte d'identité périmée ?")
    source = page.locator("#sources-list li").first
    assert "mise à jour le " in source.inner_text()
    assert "fiche d'exemple, non officielle" in (source.text_content() or "")
    assert "fiches d'exemple, non officielles" in page.inner_text("#answer-notice")
    footer = page.inner_text("footer")
    assert "fiche d'exemple, non officielle" in footer and "DILA" in footer


def test_a_refusal_has_no_badge_copy_button_or_related_questions(laptop: Watched) -> None:
    page = ask(laptop, "Quel est le prix d'un billet d'avion pour Tokyo ?")
    assert "ne permettent pas de répondre" in page.inner_text("#answer-text")
    assert page.inner_text("#answer-mode").strip() == ""
    assert not page.is_visible("#copy-button")
    assert not page.is_visible("#related-section") and not page.is_visible("#sources-section")


def test_the_mode_is_said_once_in_advisor_words(laptop: Watched) -> None:
    page = ask(laptop, "Comment renouveler une carte d'identité périmée ?")
    body = page.inner_text("body")
    assert "GUICHET_LLM_URL" not in body
    assert body.count("Réponse rédigée par un modèle de langage") == 1


def test_a_long_unbroken_string_never_widens_the_page(laptop: Watched) -> None:
    page = ask(laptop, "carte " + "x" * 600 + " périmée ?")
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    page.reload()
    page.wait_for_selector("html[data-guichet-ready]")
    assert page.locator("#history-list li").count() >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]


def test_pasting_more_than_2000_characters_says_so(laptop: Watched) -> None:
    page = laptop.page
    laptop.open()
    page.focus("#question")
    page.evaluate(
        """() => {
            const data = new DataTransfer();
            data.setData('text/plain', 'a'.repeat(2500));
            const field = document.getElementById('question');
            field.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true}));
        }"""
    )
    assert page.is_visible("#question-paste")
    assert "2\u202f000 caractères" in page.inner_text("#question-paste")
    page.evaluate(
        """() => {
            const data = new DataTransfer();
            data.setData('text/plain', 'court');
            const field = document.getElementById('question');
            field.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true}));
        }"""
    )
    assert not page.is_visible("#question-paste")


def test_api_docs_load_from_guichet_itself(laptop: Watched, served: Served) -> None:
    page = laptop.page
    response = page.goto(served.url + "/docs")
    assert response is not None
    if response.status == 404:
        pytest.skip("Swagger UI absent : lancez « make web »")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)
    assert "guichet" in page.inner_text(".swagger-ui .info")
    laptop.check_contained()
