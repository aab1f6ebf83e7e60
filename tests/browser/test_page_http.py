"""GET / and /static without a browser: the page, its assets, the security headers, a missing DSFR."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from guichet.api import page
from guichet.api.app import create_app
from guichet.wiring import Stack


@pytest.fixture
def client(embedded_stack: Stack) -> TestClient:
    return TestClient(create_app(embedded_stack))


def test_the_page_is_served_in_french_with_a_strict_csp(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in response.text and "République<br>française" in response.text
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'self'" and directives["base-uri"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in response.headers["permissions-policy"]


def test_the_page_holds_no_inline_script_or_style(client: TestClient) -> None:
    html = client.get("/").text
    assert "<script>" not in html and "<style" not in html and " style=" not in html
    for handler in ("onclick=", "onload=", "onerror=", "onsubmit="):
        assert handler not in html


def test_api_errors_and_the_modules_carry_the_headers_too(client: TestClient) -> None:
    missing = client.get("/v1/answers/0123456789abcdef0123456789abcdef")
    assert missing.status_code == 404 and missing.headers["x-frame-options"] == "DENY"
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "innerHTML" not in script.text and "insertAdjacentHTML" not in script.text


def test_the_api_docs_load_nothing_from_a_cdn(client: TestClient) -> None:
    docs = client.get("/docs")
    if docs.status_code == 404:  # `make web` not run: says how to get Swagger UI, in French
        assert "make web" in docs.json()["message"]
        return
    assert docs.status_code == 200 and "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text and "http" not in docs.headers["content-security-policy"]
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert "unsafe-inline" not in client.get("/openapi.json").headers["content-security-policy"]
    assert client.get("/redoc").status_code == 404, "ReDoc loads from a CDN: not served"


def test_head_of_the_page_answers_200(client: TestClient) -> None:
    head = client.head("/")
    assert head.status_code == 200 and head.headers["content-type"].startswith("text/html")


def test_no_module_builds_html_from_strings() -> None:
    static = Path(page.web_dir()) / "static"
    for module in static.glob("*.js"):
        text = module.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function("):
            assert sink not in text, f"{module.name} uses {sink}"


def test_without_the_dsfr_the_page_works_and_one_warning_says_why(
    embedded_stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bare = tmp_path / "web"
    (bare / "static").mkdir(parents=True)
    (bare / "index.html").write_text((page.web_dir() / "index.html").read_text(encoding="utf-8"))
    (bare / "static" / "app.js").write_text("export {};\n")
    monkeypatch.setattr(page, "web_dir", lambda: bare)
    with caplog.at_level(logging.WARNING, logger="guichet.api.page"):
        client = TestClient(create_app(embedded_stack))
    assert [r.getMessage() for r in caplog.records if "DSFR missing" in r.getMessage()] != []
    assert len([r for r in caplog.records if r.name == "guichet.api.page"]) == 1
    assert client.get("/").status_code == 200
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/dsfr/dsfr.min.css").status_code == 404
