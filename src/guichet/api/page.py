"""GET /: the advisor's page (static HTML + ES modules), and /static: its scripts, styles and the DSFR.

The DSFR files are copied into guichet/web/static/dsfr by `make web` (npm, not committed). Without them
(guichet installed without that build step) the page still works, unstyled, and one warning says why.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)

router = APIRouter()
DSFR_MISSING = (
    "DSFR missing from %s: the advisor page will work unstyled. Run `make web` "
    "(npm ci in web/, then the DSFR files copied next to the page)."
)
# The page changes with each release: revalidated every time (the ETag makes that cheap).
PAGE_HEADERS = {"Cache-Control": "no-cache"}


def web_dir() -> Path:
    return Path(str(resources.files("guichet") / "web"))


@router.get("/", include_in_schema=False)
def advisor_page() -> FileResponse:
    return FileResponse(web_dir() / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def install_page(app: FastAPI) -> None:
    static = web_dir() / "static"
    dsfr = static / "dsfr"
    if not (dsfr / "dsfr.min.css").is_file():
        log.warning(DSFR_MISSING, dsfr)
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.include_router(router)
