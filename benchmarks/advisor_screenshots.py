"""Screenshots of issue 18's six questions on the advisor page, in Chromium at 1366×768.

Serves `guichet serve` (access control off, extractive unless GUICHET_LLM_URL is set) on an index built
by benchmarks/advisor_corpus.py --samples (the demo's samples, then real fiches: what `make demo` and the
README's ingest step give), asks each question on the page, waits for the answer and saves:
  <out>/<prefix>-<name>.png       the viewport right after the answer is done (what the advisor sees)
  <out>/<prefix>-<name>-full.png  the whole page
and prints, per question, the answer's first line, whether its start is in the viewport, and the page's
width. Usage: python benchmarks/advisor_screenshots.py --prefix before|after [--data-dir .data/advisor-page]
[--out docs/screenshots/issue-18]. Chromium: /usr/bin/chromium (GUICHET_TEST_CHROMIUM).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _common import REPO
from advisor_corpus import SIX_QUESTIONS

CHROMIUM = os.environ.get("GUICHET_TEST_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1366, "height": 768}
README_QUESTION = "Comment renouveler une carte d'identité périmée ?"  # the demo's example question
README_IMAGE = REPO / "docs" / "screenshots" / "advisor-page.png"
README_CLIP = {"x": 0, "y": 0, "width": 1366, "height": 1600}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("guichet serve exited")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(url)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--data-dir", type=Path, default=REPO / ".data" / "advisor-page")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots" / "issue-18")
    parser.add_argument(
        "--readme",
        action="store_true",
        help="the README's image: the demo's example question, on a samples-only index",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {
        **os.environ,
        "GUICHET_DATA_DIR": str(args.data_dir),
        "GUICHET_AUTH": "off",
        "GUICHET_PORT": str(port),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "guichet", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(f"{base}/readyz", server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox"]
            )
            page = browser.new_page(viewport=VIEWPORT, locale="fr-FR")
            questions = [("readme", README_QUESTION)] if args.readme else list(SIX_QUESTIONS)
            for name, question in questions:
                page.goto(base + "/")
                page.wait_for_selector("html[data-guichet-ready='true']")
                page.fill("#question", question)
                page.click("#ask-button")
                page.wait_for_function(
                    "() => document.querySelector('#answer-status').textContent.includes('Réponse terminée')"
                    " || !document.querySelector('#answer-error').hidden",
                    timeout=120_000,
                )
                page.wait_for_timeout(800)  # a scroll, if the page makes one, has ended
                if args.readme:
                    page.evaluate("window.scrollTo(0, 0)")
                    page.screenshot(path=str(README_IMAGE), full_page=True, clip=README_CLIP)
                    continue
                page.screenshot(path=str(args.out / f"{args.prefix}-{name}.png"))
                page.screenshot(path=str(args.out / f"{args.prefix}-{name}-full.png"), full_page=True)
                top = page.evaluate("document.querySelector('#answer-text').getBoundingClientRect().top")
                width = page.evaluate("document.documentElement.scrollWidth")
                first = page.inner_text("#answer-text").strip().splitlines()[:1]
                print(
                    f"{name}: answer top {top:.0f} px ({'visible' if 0 <= top < 768 else 'below the fold'}),"
                    f" page width {width} px, first line: {first[0][:100] if first else '(none)'}"
                )
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
