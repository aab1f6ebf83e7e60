"""Operator upload and removal of documents. Indexing follows from the store's own event."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, FastAPI, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guichet.api.errors import ApiError, error_response
from guichet.indexing.handler import is_supported
from guichet.ports.broker import BrokerError
from guichet.ports.store import InvalidKey, KeyConflict, StoreError, check_key
from guichet.wiring import Stack

router = APIRouter(tags=["documents"])
log = logging.getLogger(__name__)

# The multipart envelope around the file (boundaries, part headers, the key field) on top of the limit.
MULTIPART_OVERHEAD = 64 * 1024


def limit_upload_bodies(app: FastAPI, max_document_bytes: int) -> None:
    """Bound /v1/documents bodies while they are read, before the multipart parser spools them: a
    declared Content-Length over the bound is refused unread, a chunked body as soon as it passes it.
    Add it after the middlewares that read bodies (BaseHTTPMiddleware drains what is left of a body
    while it listens for a disconnect): outside them, nothing reads past the bound."""
    app.add_middleware(_UploadLimit, max_body_size=max_document_bytes + MULTIPART_OVERHEAD)


class _BodyTooLarge(Exception):
    pass


class _UploadLimit:
    """Pure ASGI. Past the bound every further read raises; whatever the layers inside make of that (the
    parser's 400, an exception), the answer is this 413, in the error shape."""

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self._app = app
        self._limit = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/v1/documents"):
            await self._app(scope, receive, send)
            return
        refusal = error_response(
            413,
            "trop_volumineux",
            f"Document trop volumineux (limite : {self._limit - MULTIPART_OVERHEAD} octets).",
        )
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            await refusal(scope, receive, send)
            return
        received = 0
        exceeded = False

        async def bounded() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge
            message = await receive()
            received += len(message.get("body", b""))
            if received > self._limit:
                exceeded = True
                raise _BodyTooLarge
            return message

        async def answer(message: Message) -> None:
            if not exceeded:
                await send(message)
            elif message["type"] == "http.response.start":  # the app's own answer to the cut: replaced
                await refusal(scope, receive, send)

        try:
            await self._app(scope, bounded, answer)
        except _BodyTooLarge:
            await refusal(scope, receive, send)


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
