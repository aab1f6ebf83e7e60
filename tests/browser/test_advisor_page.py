"""The advisor's page in Chromium: ask, watch the answer stream in, follow a related question, rate it.

Every test also checks what the page must never do: reach another origin, trip the CSP, open a dialog.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from guichet.wiring import build_answer_store
from tests.browser.stack import HOSTILE_MARKUP, INVENTED_PHONE, TRAP_WORD, Served

pytestmark = pytest.mark.browser

QUESTION = "Comment renouveler une carte d'identité périmée ?"
# The README's image is what `make demo` shows (an extractive answer): benchmarks/advisor_screenshots.py
# --readme takes it, not this test, whose scripted model drafts answers the demo cannot give.


class Watched:
    """A page with everything it requested, logged or opened recorded."""

    def __init__(self, page: Any, origin: str) -> None:
        self.page, self.origin = page, origin
        self.requests: list[str] = []
        self.console: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", lambda message: self.console.append(message.text))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self) -> None:
        self.page.goto(self.origin + "/")
        self.page.wait_for_selector("html[data-guichet-ready]")

    def check_contained(self) -> None:
        foreign = [u for u in self.requests if not u.startswith((self.origin + "/", "data:", "blob:"))]
        assert foreign == [], f"requests outside {self.origin}: {foreign}"
        violations = [m for m in self.console if "Content Security Policy" in m or "pageerror" in m]
        assert violations == []
        assert self.dialogs == []

    def wait_done(self) -> None:
        self.page.wait_for_function(
            "() => document.getElementById('answer-status').textContent === 'Réponse terminée.'",
            timeout=30_000,
        )


@pytest.fixture
def anonymous(browser: Any, served: Served) -> Iterator[Watched]:
    """A fresh tab that holds no site key yet."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = Watched(page, served.url)
    yield watch
    context.close()


@pytest.fixture
def watched(anonymous: Watched, served: Served) -> Watched:
    """A tab where the site key was entered earlier (kept in sessionStorage, as the page does)."""
    anonymous.page.add_init_script(f"sessionStorage.setItem('guichet.siteKey', {json.dumps(served.key)})")
    return anonymous


def tab_to(page: Any, element_id: str, limit: int = 20) -> int:
    """Presses Tab until element_id has the focus; returns how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return presses
    raise AssertionError(f"#{element_id} never reached with Tab")


def growth_while_streaming(page: Any) -> list[int]:
    """The answer's text length at each change until the stream is done (polled in the page)."""
    lengths: list[int] = page.evaluate(
        """() => new Promise((resolve) => {
            const text = document.getElementById('answer-text');
            const seen = [];
            const timer = setInterval(() => {
                const length = text.textContent.length;
                if (length && length !== seen[seen.length - 1]) seen.push(length);
                if (text.getAttribute('aria-busy') === 'false') { clearInterval(timer); resolve(seen); }
            }, 20);
        })"""
    )
    return lengths


def feedback_stored(served: Served, answer_id: str) -> list[dict[str, Any]]:
    store = build_answer_store(served.stack.settings)
    return [json.loads(store.get(o.key)) for o in store.list(f"feedback/{answer_id}/")]


def current_answer_id(page: Any) -> str:
    history = page.evaluate("JSON.parse(sessionStorage.getItem('guichet.history'))")
    return str(history[0]["id"])


def test_ask_stream_follow_a_related_question_rate_and_find_it_again(
    watched: Watched, served: Served, screenshots: Path
) -> None:
    page = watched.page
    watched.open()
    header = page.text_content("header") or ""
    assert "République" in header and "guichet" in header

    # Keyboard only: Tab to the question, type, Tab on to the button, Enter.
    tab_to(page, "question")
    page.keyboard.type(QUESTION)
    tab_to(page, "ask-button", limit=5)
    page.keyboard.press("Enter")
    lengths = growth_while_streaming(page)
    assert len(lengths) >= 3 and lengths == sorted(lengths), f"the answer did not grow in steps: {lengths}"
    watched.wait_done()

    assert "demande en mairie" in page.inner_text("#answer-text")
    citation = page.locator("#answer-text a.citation").first
    assert citation.get_attribute("href") == "#source-1"
    assert "Renouvellement de la carte d'identité" in page.inner_text("#source-1")
    assert page.locator("#source-1 blockquote").count() == 1  # the excerpt
    tiles = page.locator("#links-list .fr-tile")
    assert tiles.count() >= 1 and "Téléservice" in (tiles.first.text_content() or "")
    assert tiles.first.locator("a").get_attribute("href", timeout=1000).startswith("https://")
    assert "Mairie" in page.inner_text("#helpers-list")
    assert "Réponse rédigée" in page.inner_text("#answer-mode")
    page.screenshot(path=str(screenshots / "advisor-answer.png"), full_page=True)

    # Copied as plain text, with its sources.
    page.click("#copy-button")
    page.wait_for_function("() => document.getElementById('copy-status').textContent.includes('copiée')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(f"Question : {QUESTION}") and "Sources :\n[1] Renouvellement" in copied

    # A related question asks itself.
    first_id = current_answer_id(page)
    related = page.locator("#related-list button").first
    related_question = related.inner_text()
    related.click()
    page.wait_for_function(
        "q => document.getElementById('answer-question').textContent === q", arg=related_question
    )
    watched.wait_done()
    second_id = current_answer_id(page)
    assert second_id != first_id
    assert page.input_value("#question") == related_question

    # Feedback through the form, read back from the answer store.
    page.check("#rating-down", force=True)
    page.check("#reason-incomplet", force=True)
    page.check("#reason-lien_errone", force=True)
    page.fill("#feedback-comment", "Il manque le délai.")
    page.click("#feedback-button")
    page.wait_for_function("() => document.getElementById('feedback-status').textContent.startsWith('Merci')")
    [stored] = feedback_stored(served, second_id)
    assert (stored["rating"], stored["reasons"], stored["comment"]) == (
        "down", ["incomplet", "lien_errone"], "Il manque le délai."
    )  # fmt: skip
    page.screenshot(path=str(screenshots / "advisor-feedback.png"), full_page=True)

    # Both questions are listed; the first one opens again.
    history = page.locator("#history-list button")
    assert history.count() == 2
    assert related_question in history.nth(0).inner_text() and QUESTION in history.nth(1).inner_text()
    history.nth(1).click()
    watched.wait_done()
    assert page.inner_text("#answer-question") == QUESTION
    assert "demande en mairie" in page.inner_text("#answer-text")
    watched.check_contained()


def test_hostile_model_output_and_document_text_stay_text(watched: Watched, screenshots: Path) -> None:
    page = watched.page
    watched.open()
    page.fill("#question", f"Comment obtenir la {TRAP_WORD} ?")
    page.press("#question", "Enter")  # Enter in the question submits it
    watched.wait_done()
    assert HOSTILE_MARKUP in page.inner_text("#answer-text")
    assert '<img src=x onerror="window.__xss=2">' in page.inner_text("#source-1")
    assert "<script>window.__xss=3</script>" in page.inner_text("#source-1 blockquote")
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=str(screenshots / "advisor-hostile.png"), full_page=True)
    watched.check_contained()


@pytest.mark.parametrize(
    ("question", "badge", "notice"),
    [
        ("Quel numéro de téléphone pour la carte d'identité ?", "Réponse rédigée par un", INVENTED_PHONE),
        (
            "Carte d'identité périmée, réponse sans source ?",
            "Réponse composée d'extraits",
            "extraits des fiches",
        ),
    ],
)
def test_guard_removals_and_extractive_mode_are_said(
    watched: Watched, screenshots: Path, question: str, badge: str, notice: str
) -> None:
    page = watched.page
    watched.open()
    page.fill("#question", question)
    page.press("#question", "Enter")
    watched.wait_done()
    assert badge in (page.text_content("#answer-mode") or "")
    assert page.is_visible("#answer-notice") and notice in page.inner_text("#answer-notice")
    assert INVENTED_PHONE not in page.inner_text("#answer-text")
    page.screenshot(path=str(screenshots / f"advisor-notice-{len(notice)}.png"))


def test_site_key_asked_on_401_then_sent_as_bearer(anonymous: Watched, served: Served) -> None:
    """Without a key the API answers 401: the page asks for the site key, keeps it, asks again."""
    page = anonymous.page
    sent: list[str | None] = []
    page.on("request", lambda r: sent.append(r.headers.get("authorization")) if "/v1/" in r.url else None)
    anonymous.open()
    page.fill("#question", QUESTION)
    page.click("#ask-button")
    page.wait_for_selector("#key-panel:not([hidden])")
    assert "Clé d'API requise" in page.inner_text("#key-message")  # the API's own French message
    assert page.evaluate("document.activeElement.id") == "site-key"

    page.fill("#site-key", "gk_000000000000_pas-la-bonne")
    page.press("#site-key", "Enter")
    page.wait_for_function("() => document.getElementById('key-message').textContent.includes('invalide')")
    assert page.is_visible("#key-panel")

    page.fill("#site-key", served.key)
    page.press("#site-key", "Enter")
    anonymous.wait_done()
    assert page.is_hidden("#key-panel")
    assert sent[0] is None and sent[-1] == f"Bearer {served.key}"
    assert all(key == f"Bearer {served.key}" for key in sent[2:])  # the stream too
    anonymous.check_contained()


def test_rate_limited_says_so(watched: Watched) -> None:
    page = watched.page
    body = {"error": {"code": "trop_de_requetes", "message": "Trop de questions : réessayez dans 30 s."}}
    page.route(
        "**/v1/ask",
        lambda route: route.fulfill(status=429, content_type="application/json", body=json.dumps(body)),
    )
    watched.open()
    page.fill("#question", QUESTION)
    page.click("#ask-button")
    page.wait_for_selector("#answer-error:not([hidden])")
    assert "Trop de questions : réessayez dans 30 s." in page.inner_text("#answer-error")
    assert page.is_hidden("#key-panel")


def test_a_dropped_stream_resumes_with_last_event_id(watched: Watched) -> None:
    page = watched.page
    resumed_from: list[str | None] = []

    def drop_first(route: Any) -> None:
        resumed_from.append(route.request.headers.get("last-event-id"))
        if len(resumed_from) == 1:  # one event, then the connection ends without "done"
            frame = 'id: 1-0\nevent: status\ndata: {"status": "running", "attempt": 1}\n\n'
            route.fulfill(status=200, content_type="text/event-stream", body=frame)
        else:
            route.continue_()

    page.route("**/v1/answers/*/stream", drop_first)
    watched.open()
    page.fill("#question", QUESTION)
    page.click("#ask-button")
    watched.wait_done()
    assert resumed_from[:2] == [None, "1-0"]
    assert "demande en mairie" in page.inner_text("#answer-text")


def test_the_page_works_unstyled_without_the_dsfr(watched: Watched, served: Served) -> None:
    """guichet pip-installed without `make web`: no DSFR files, the page still asks and answers."""
    page = watched.page
    page.route("**/static/dsfr/**", lambda route: route.fulfill(status=404, body="introuvable"))
    watched.open()
    page.fill("#question", QUESTION)
    page.press("#question", "Enter")
    watched.wait_done()
    assert "demande en mairie" in page.inner_text("#answer-text")
