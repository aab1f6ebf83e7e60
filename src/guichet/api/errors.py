"""One error shape for every route: {"error": {"code", "message"}}, the message in French."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from guichet.ports.broker import BrokerError
from guichet.ports.embedder import EmbedderError
from guichet.ports.index import IndexBackendError
from guichet.ports.store import StoreError

log = logging.getLogger(__name__)


# Dependencies being down is not a bug: 503, so that clients and load balancers retry elsewhere.
UNAVAILABLE: tuple[type[Exception], ...] = (BrokerError, StoreError, IndexBackendError, EmbedderError)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _describe(errors: list[dict[str, object]]) -> str:
    parts = []
    for err in errors[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")  # type: ignore[attr-defined]
        parts.append(f"{loc or 'requête'} : {err.get('msg', 'valeur invalide')}")
    return "Requête invalide — " + " ; ".join(parts)


STATUS_CODES = {404: "introuvable", 405: "methode_non_autorisee", 413: "trop_volumineux"}
STATUS_MESSAGES = {
    404: "Ressource introuvable.",
    405: "Méthode non autorisée pour cette adresse.",
    413: "Requête trop volumineuse.",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "requete_invalide", _describe(list(exc.errors())))

    @app.exception_handler(Exception)
    async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, UNAVAILABLE):
            log.warning("dependency unavailable: %s", exc)
            message = "Un service nécessaire est injoignable ; réessayez dans un instant."
            return error_response(503, "service_indisponible", message)
        log.exception("unexpected error")
        return error_response(500, "erreur_interne", "Erreur interne : l'équipe d'exploitation est prévenue.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "erreur")
        message = STATUS_MESSAGES.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, code, message)
