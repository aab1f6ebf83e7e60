"""axe-core in Chromium on both pages: no serious or critical violation (docs/accessibility.md lists the
RGAA criteria axe cannot check and how they were checked by hand).

axe-core comes from npm (web/package.json devDependencies, installed by `make web`); it is injected into
the test's browser context only (an init script, outside the page's CSP), never served by guichet.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.pilotage_data import seed_pilotage
from tests.browser.stack import Served
from tests.browser.test_advisor_page import QUESTION, Watched

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
  }));
}"""


@pytest.fixture(scope="module")
def axe_path() -> Path:
    if not AXE.is_file():
        message = f"axe-core absent ({AXE}) : lancez « make web » (npm ci dans web/)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE


@pytest.fixture
def audited(browser: Any, served: Served, axe_path: Path) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    context.add_init_script(path=str(axe_path))
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Watched(page, served.url)
    context.close()


def blocking(page: Any) -> list[dict[str, Any]]:
    violations: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return [v for v in violations if v["impact"] in BLOCKING]


def with_key(page: Any, key: str) -> None:
    page.add_init_script(f"sessionStorage.setItem('guichet.siteKey', {json.dumps(key)})")


def test_advisor_page_empty_and_with_an_answer(audited: Watched, served: Served) -> None:
    page = audited.page
    with_key(page, served.key)
    audited.open()
    assert page.evaluate("typeof axe") == "object"  # the audit really runs
    assert blocking(page) == []
    page.fill("#question", QUESTION)
    page.press("#question", "Enter")
    audited.wait_done()
    page.wait_for_selector("#feedback-section:not([hidden])")
    assert blocking(page) == []
    audited.check_contained()


def test_advisor_page_asking_for_a_key(audited: Watched) -> None:
    page = audited.page
    audited.open()
    page.fill("#question", QUESTION)
    page.click("#ask-button")
    page.wait_for_selector("#key-panel:not([hidden])")
    assert blocking(page) == []


def test_pilotage_page(audited: Watched, served: Served) -> None:
    page = audited.page
    with_key(page, seed_pilotage(served.stack, months=3))
    page.goto(served.url + "/pilotage")
    page.wait_for_selector("html[data-guichet-loaded]")
    assert page.locator("#data-site tbody tr").count() >= 2
    assert blocking(page) == []
    audited.check_contained()


def test_the_audit_can_fail(audited: Watched, served: Served) -> None:
    """The same audit on a page with a known critical violation: a form field without a label."""
    page = audited.page
    page.goto(served.url + "/pilotage")
    page.wait_for_selector("html[data-guichet-ready]")
    page.evaluate("document.querySelector('main').append(document.createElement('input'))")
    assert {v["id"] for v in blocking(page)} >= {"label"}
