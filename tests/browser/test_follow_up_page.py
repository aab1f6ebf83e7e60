"""Follow-up questions on the advisor's page, in Chromium: "question complémentaire" under an answer,
the thread above the next one, the link kept in the answer record (read back from the answer store)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.stack import Served
from tests.browser.test_advisor_page import Watched, current_answer_id

pytestmark = pytest.mark.browser

QUESTION = "Comment renouveler une carte d'identité périmée ?"
FOLLOW_UP = "Et s'il est mineur ?"
SECOND_FOLLOW_UP = "Et s'il vit à l'étranger ?"


@pytest.fixture
def watched(browser: Any, served: Served) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.add_init_script(f"sessionStorage.setItem('guichet.siteKey', {json.dumps(served.key)})")
    yield Watched(page, served.url)
    context.close()


def record(served: Served, answer_id: str) -> dict[str, Any]:
    stored = served.stack.answers.get(answer_id)
    assert stored is not None
    return stored.to_dict()


def wait_question(page: Any, question: str) -> None:
    page.wait_for_function("q => document.getElementById('answer-question').textContent === q", arg=question)


def test_a_follow_up_question_is_asked_under_the_answer_and_shows_its_thread(
    watched: Watched, served: Served, screenshots: Path
) -> None:
    page = watched.page
    watched.open()
    assert page.locator("#follow-up-section").is_hidden()
    page.fill("#question", QUESTION)
    page.fill("#situation", "Il est né en France")
    page.click("#ask-button")
    watched.wait_done()
    first_id = current_answer_id(page)
    assert page.locator("#follow-up-section").is_visible() and page.locator("#answer-thread").is_hidden()

    # Empty: refused on the page, nothing sent.
    page.click("#follow-up-button")
    assert "Saisissez la question complémentaire" in page.inner_text("#follow-up-error")
    assert page.get_attribute("#follow-up-question", "aria-invalid") == "true"
    assert current_answer_id(page) == first_id

    # Keyboard: type in the follow-up field, Enter asks it.
    page.fill("#follow-up-question", FOLLOW_UP)
    page.press("#follow-up-question", "Enter")
    wait_question(page, FOLLOW_UP)
    assert page.locator("#follow-up-section").is_hidden()  # until this answer is done
    watched.wait_done()
    second_id = current_answer_id(page)
    assert second_id != first_id
    assert page.locator("#answer-thread-list li").all_inner_texts() == [QUESTION]
    second = record(served, second_id)
    assert second["follow_up_of"] == first_id and second["thread"][0]["situation"] == "Il est né en France"

    page.fill("#follow-up-question", SECOND_FOLLOW_UP)
    page.click("#follow-up-button")
    wait_question(page, SECOND_FOLLOW_UP)
    watched.wait_done()
    assert page.locator("#answer-thread-list li").all_inner_texts() == [QUESTION, FOLLOW_UP]
    third_id = current_answer_id(page)
    assert record(served, third_id)["follow_up_of"] == second_id
    page.screenshot(path=str(screenshots / "advisor-follow-up.png"), full_page=True)

    # Opened again from the history, the answer shows its thread from its record.
    page.locator("#history-list button").nth(1).click()
    wait_question(page, FOLLOW_UP)
    watched.wait_done()
    assert page.locator("#answer-thread-list li").all_inner_texts() == [QUESTION]
    watched.check_contained()
