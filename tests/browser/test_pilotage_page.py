"""The pilotage page in Chromium: an operator's key, filters, tables per région/département/thème/site,
the month chart and its table, CSV export, keyboard only; nothing outside the origin, no CSP violation."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.pilotage_data import seed_pilotage, this_month
from tests.browser.stack import Served
from tests.browser.test_advisor_page import Watched, tab_to

pytestmark = pytest.mark.browser

FRENCH_MONTHS = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)
README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "pilotage-page.png"


@pytest.fixture(scope="module")
def operator_key(served: Served) -> str:
    return seed_pilotage(served.stack)


@pytest.fixture
def tab(browser: Any, served: Served) -> Iterator[Watched]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="fr-FR", accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Watched(page, served.url)
    context.close()


def open_pilotage(tab: Watched, key: str | None) -> Any:
    page = tab.page
    if key is not None:
        page.add_init_script(f"sessionStorage.setItem('guichet.siteKey', {json.dumps(key)})")
    page.goto(tab.origin + "/pilotage")
    page.wait_for_selector("html[data-guichet-ready]")
    return page


def loaded(page: Any) -> None:
    page.wait_for_selector("html[data-guichet-loaded]")


def column(page: Any, table: str, index: int) -> list[str]:
    return [
        c.strip() for c in page.locator(f"#data-{table} tbody tr > :nth-child({index})").all_inner_texts()
    ]


def test_tables_chart_and_filters(tab: Watched, operator_key: str, screenshots: Path) -> None:
    page = open_pilotage(tab, operator_key)
    loaded(page)
    assert page.inner_text("h1") == "Pilotage de guichet"
    regions = column(page, "region", 1)
    assert (
        regions[:4] == ["Île-de-France", "Auvergne-Rhône-Alpes", "Corse", "La Réunion"]
        and regions[-1] == "Ensemble"
    )
    réunion = page.locator("#data-region tbody tr", has_text="La Réunion").inner_text()
    assert "moins de 5 avis" in réunion  # that site never rates: no rate shown
    assert page.locator("#data-month tbody tr").count() == 13  # 12 months and the total
    year, month = this_month()
    first = year * 12 + month - 12  # eleven months before this one
    assert column(page, "month", 1)[0] == f"{FRENCH_MONTHS[first % 12]} {first // 12}"
    bars = page.locator("#chart svg rect.chart__bar")
    assert bars.count() == 12 and page.get_attribute("#chart svg", "aria-hidden") == "true"
    assert page.locator("#data-theme caption").inner_text().startswith("Usage et satisfaction par thème")
    assert "Incomplète" in page.inner_text("#data-region") or "Inexacte" in page.inner_text("#data-region")
    summary = page.inner_text("#summary")
    assert "Satisfaction" in summary and "%" in summary
    page.screenshot(path=str(screenshots / "pilotage.png"), full_page=True)
    if os.environ.get("GUICHET_README_SCREENSHOT"):  # opt-in: the committed image changes only on purpose
        page.screenshot(
            path=str(README_SCREENSHOT), clip={"x": 0, "y": 0, "width": 1280, "height": 1700}, full_page=True
        )

    # Keyboard only: choose a département, submit; every table follows the filter.
    tab_to(page, "departement", limit=30)
    page.keyboard.type("69")  # a closed select takes typed characters as its choice
    assert page.input_value("#departement") == "69"
    tab_to(page, "show-button", limit=5)
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#data-site tbody tr').length === 2")
    assert column(page, "site", 1) == ["France services Lyon 8e (Lyon)", "Ensemble"]
    assert "Statistiques à jour" in page.inner_text("#status")
    tab.check_contained()


def test_csv_export_downloads_the_sites(tab: Watched, operator_key: str) -> None:
    page = open_pilotage(tab, operator_key)
    loaded(page)
    with page.expect_download() as download:
        page.click("#csv-button")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "groupe" and {r[0] for r in rows[1:]} >= {"fs-paris-15", "fs-ajaccio", "total"}
    tab.check_contained()


def test_an_advisor_key_is_refused_then_the_operator_key_works(
    tab: Watched, served: Served, operator_key: str
) -> None:
    page = open_pilotage(tab, served.key)  # the advisor's key of the browser stack
    page.wait_for_selector("#key-panel:not([hidden])")
    assert "rôle opérateur requis" in page.inner_text("#key-message")
    assert page.evaluate("document.activeElement.id") == "site-key"
    page.fill("#site-key", operator_key)
    page.press("#site-key", "Enter")
    loaded(page)
    assert page.is_hidden("#key-panel")
    tab.check_contained()
