"""GET /v1/answers/{id}: 202 while the answer is queued or running, 200 with the record once final."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from guichet.answer.record import AnswerRecord
from guichet.api.errors import ApiError, ErrorBody
from guichet.wiring import Stack

router = APIRouter(tags=["réponses"])
RETRY = {"Retry-After": "1"}  # seconds: polling clients need no faster pace


class AnswerPending(BaseModel):
    id: str
    status: Literal["queued", "running"]


def answer_not_found(answer_id: str) -> ApiError:
    return ApiError(404, "reponse_introuvable", f"Aucune réponse avec l'identifiant {answer_id!r}.")


def find_record(request: Request, answer_id: str) -> AnswerRecord:
    """The stored record, or 404 (a malformed id is unknown too)."""
    stack: Stack = request.app.state.stack
    record = stack.answers.get(answer_id)
    if record is None:
        raise answer_not_found(answer_id)
    return record


@router.get(
    "/v1/answers/{answer_id}",
    response_model=AnswerRecord,
    responses={
        202: {"model": AnswerPending, "description": "En attente ou en cours de rédaction"},
        404: {"model": ErrorBody, "description": "Identifiant inconnu"},
    },
)
def get_answer(request: Request, answer_id: str) -> JSONResponse:
    """The answer record once done or failed; until then its status only (poll, or follow the stream)."""
    record = find_record(request, answer_id)
    if not record.final:
        return JSONResponse({"id": record.id, "status": record.status}, status_code=202, headers=RETRY)
    return JSONResponse(record.to_dict())
