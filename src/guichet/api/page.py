"""GET /: the advisor's page (static HTML + ES modules), /static: its scripts, styles and the DSFR, and
/docs: Swagger UI for operators.

The DSFR and Swagger UI files are copied into guichet/web/static/dsfr and static/swagger by `make web`
(npm packages pinned in web/package-lock.json, not committed): nothing is loaded from a CDN, so both
work offline. Without the DSFR the page still works, unstyled, and one warning says why; without
Swagger UI, /docs says how to get it (the API description stays at /openapi.json).
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)

router = APIRouter()
DSFR_MISSING = (
    "DSFR missing from %s: the advisor page will work unstyled. Run `make web` "
    "(npm ci in web/, then the DSFR files copied next to the page)."
)
SWAGGER_MISSING = (
    "Documentation interactive absente : lancez « make web » pour installer Swagger UI. "
    "La description de l'API reste disponible sur /openapi.json."
)
# The page changes with each release: revalidated every time (the ETag makes that cheap).
PAGE_HEADERS = {"Cache-Control": "no-cache"}


def web_dir() -> Path:
    return Path(str(resources.files("guichet") / "web"))


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def advisor_page() -> FileResponse:
    return FileResponse(web_dir() / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/docs", include_in_schema=False)
def api_docs() -> Response:
    swagger = web_dir() / "static" / "swagger"
    if not (swagger / "swagger-ui-bundle.js").is_file():
        return JSONResponse(
            {"error": "indisponible", "message": SWAGGER_MISSING},
            status_code=404,
            headers={"content-language": "fr"},
        )
    html: HTMLResponse = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="guichet — API",
        swagger_js_url="/static/swagger/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger/swagger-ui.css",
        swagger_favicon_url="/static/dsfr/favicon/favicon.svg",
    )
    return html


def install_page(app: FastAPI) -> None:
    static = web_dir() / "static"
    dsfr = static / "dsfr"
    if not (dsfr / "dsfr.min.css").is_file():
        log.warning(DSFR_MISSING, dsfr)
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.include_router(router)
