"""Operator upload and removal of documents. Indexing follows from the store's own event."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from guichet.api.errors import ApiError
from guichet.indexing.handler import is_supported
from guichet.ports.broker import BrokerError
from guichet.ports.store import InvalidKey, KeyConflict, StoreError, check_key
from guichet.wiring import Stack

router = APIRouter(tags=["documents"])
log = logging.getLogger(__name__)


def _stack(request: Request) -> Stack:
    stack: Stack = request.app.state.stack
    return stack


@router.post("/v1/documents", status_code=201)
def upload_document(
    request: Request,
    file: Annotated[UploadFile, File(description="Fiche XML service-public ou document partenaire")],
    key: Annotated[str, Form(description="Clé dans le stockage (par défaut : le nom du fichier)")] = "",
) -> dict[str, object]:
    stack = _stack(request)
    key = key or (file.filename or "")
    try:
        check_key(key)
    except InvalidKey as exc:
        raise ApiError(422, "cle_invalide", f"Clé de document invalide : {key!r}.") from exc
    if not is_supported(key):
        raise ApiError(
            415, "format_non_pris_en_charge", "Format non pris en charge (XML, Markdown, HTML, PDF, texte)."
        )
    limit = stack.settings.max_document_bytes
    data = file.file.read(limit + 1)  # a plain def: FastAPI runs it in its thread pool, off the loop
    if len(data) > limit:
        raise ApiError(413, "trop_volumineux", f"Document trop volumineux (limite : {limit} octets).")
    if not data:
        raise ApiError(422, "document_vide", "Le document est vide.")
    try:
        stored = stack.store.put(key, data, file.content_type or "application/octet-stream")
    except BrokerError:
        # Embedded stack only: the document is stored (the truth) but its event was not queued.
        log.warning("document %s stored but its indexing event was lost: reconcile will index it", key)
        return _delayed(stack, key)
    except InvalidKey as exc:
        raise ApiError(422, "cle_invalide", f"Clé de document invalide : {key!r}.") from exc
    except KeyConflict as exc:
        raise ApiError(
            409, "conflit_de_cle", f"La clé {key!r} entre en conflit avec un document existant."
        ) from exc
    except StoreError as exc:
        raise ApiError(503, "stockage_indisponible", "Le stockage des documents est injoignable.") from exc
    return {"key": stored.key, "etag": stored.etag, "size": stored.size, "indexing": "pending"}


def _delayed(stack: Stack, key: str) -> dict[str, object]:
    stored = stack.store.head(key)
    if stored is None:
        raise ApiError(503, "stockage_indisponible", "Le document n'a pas pu être enregistré.")
    return {"key": stored.key, "etag": stored.etag, "size": stored.size, "indexing": "delayed"}


@router.delete("/v1/documents/{key:path}", status_code=204, response_model=None)
def delete_document(request: Request, key: str) -> Response | JSONResponse:
    stack = _stack(request)
    try:
        check_key(key)
        if stack.store.head(key) is None:
            raise ApiError(404, "document_introuvable", f"Aucun document avec la clé {key!r}.")
        stack.store.delete(key)
    except BrokerError:
        # Embedded stack only: deleted from the store (the truth), but the removal event was not queued.
        log.warning("document %s deleted but its removal event was lost: reconcile will unindex it", key)
        return JSONResponse({"key": key, "indexing": "delayed"}, status_code=202)
    except InvalidKey as exc:
        raise ApiError(422, "cle_invalide", f"Clé de document invalide : {key!r}.") from exc
    except StoreError as exc:
        raise ApiError(503, "stockage_indisponible", "Le stockage des documents est injoignable.") from exc
    return Response(status_code=204)
