"""One error shape for every route: {"error": {"code", "message"}}, the message in French."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from guichet.ports.answer_stream import AnswerStreamError
from guichet.ports.broker import BrokerError
from guichet.ports.embedder import EmbedderError
from guichet.ports.index import IndexBackendError
from guichet.ports.store import StoreError

log = logging.getLogger(__name__)


# Dependencies being down is not a bug: 503, so that clients and load balancers retry elsewhere.
UNAVAILABLE: tuple[type[Exception], ...] = (
    BrokerError,
    StoreError,
    IndexBackendError,
    EmbedderError,
    AnswerStreamError,
)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """The body of every 4xx/5xx answer (documented in OpenAPI)."""

    error: ErrorDetail


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


# Pydantic's error types, in French (its own messages are English); {name} comes from the error's ctx.
VALIDATION_MESSAGES = {
    "missing": "champ obligatoire",
    "extra_forbidden": "champ inconnu",
    "string_type": "doit être une chaîne de caractères",
    "string_too_short": "trop court ({min_length} caractère(s) au moins)",
    "string_too_long": "trop long ({max_length} caractères au plus)",
    "list_type": "doit être une liste",
    "too_long": "trop d'éléments ({max_length} au plus)",
    "literal_error": "valeur non reconnue (attendu : {expected})",
    "enum": "valeur non reconnue (attendu : {expected})",
    "int_type": "doit être un nombre entier",
    "int_parsing": "doit être un nombre entier",
    "bool_type": "doit être un booléen",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "model_attributes_type": "doit être un objet JSON",
    "dict_type": "doit être un objet JSON",
    "value_error": "{error}",  # our validators raise ValueError with a French message
}
_SOURCES = {"body", "query", "path", "header", "cookie"}


def _french(err: dict[str, Any]) -> str:
    template = VALIDATION_MESSAGES.get(str(err.get("type")))
    if template is None:
        return "valeur invalide"
    ctx = {k: str(v).replace(" or ", " ou ") for k, v in (err.get("ctx") or {}).items()}
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return "valeur invalide"


def _describe(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors[:3]:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in _SOURCES:
            loc = loc[1:]
        parts.append(f"{'.'.join(loc) or 'corps de la requête'} : {_french(err)}")
    return "Requête invalide — " + " ; ".join(parts)


def validation_response(errors: list[dict[str, Any]]) -> JSONResponse:
    """422 with every field named; a body that is not JSON at all is the client's syntax error (400/415)."""
    for err in errors:
        if err.get("type") == "json_invalid":
            return error_response(400, "json_invalide", "Le corps de la requête n'est pas du JSON valide.")
        if tuple(err.get("loc", ())) == ("body",) and isinstance(err.get("input"), bytes):
            message = "Corps JSON attendu (en-tête Content-Type: application/json)."
            return error_response(415, "type_de_contenu_non_pris_en_charge", message)
    return error_response(422, "requete_invalide", _describe(errors))


STATUS_CODES = {
    400: "json_invalide",
    404: "introuvable",
    405: "methode_non_autorisee",
    413: "trop_volumineux",
}
STATUS_MESSAGES = {
    # FastAPI's own 400 ("There was an error parsing the body"): not UTF-8, too deeply nested...
    400: "Le corps de la requête n'est pas du JSON valide (UTF-8 attendu).",
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
        return validation_response(list(exc.errors()))

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
