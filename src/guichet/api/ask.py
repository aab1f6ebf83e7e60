"""POST /v1/ask: validate the question, record it as queued, then enqueue the job (confirmed) → 202."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from guichet import metrics
from guichet.answer.record import (
    MAX_QUESTION_CHARS,
    MAX_SITUATION_CHARS,
    AskJob,
    clean_text,
    new_answer_id,
)
from guichet.answer.submission import QUEUE_DOWN, enqueue
from guichet.api.errors import ApiError, ErrorBody
from guichet.corpus.model import Audience
from guichet.ports.broker import BrokerError
from guichet.ports.store import StoreError
from guichet.wiring import Stack

router = APIRouter(tags=["réponses"])

# A question and a situation are at most 2,000 characters each, JSON escapes included: far below this.
MAX_BODY_BYTES = 64 * 1024
EXAMPLE_QUESTION = "Comment renouveler une carte d'identité périmée ?"


Question = Annotated[str, AfterValidator(partial(clean_text, limit=MAX_QUESTION_CHARS, required=True))]
Situation = Annotated[str, AfterValidator(partial(clean_text, limit=MAX_SITUATION_CHARS, required=False))]


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": EXAMPLE_QUESTION, "audience": "particuliers"}]},
    )

    question: Question = Field(description=f"La question, en français (1 à {MAX_QUESTION_CHARS} caractères)")
    audience: Audience | None = Field(default=None, description="Public concerné (défaut : particuliers)")
    situation: Situation | None = Field(
        default=None, description=f"Situation de l'usager ({MAX_SITUATION_CHARS} caractères au plus)"
    )


class AnswerLinks(BaseModel):
    self_: str = Field(alias="self", description="GET : l'état puis la réponse")
    stream: str = Field(description="GET : les événements en direct (text/event-stream)")


class AskAccepted(BaseModel):
    id: str
    status: Literal["queued"]
    links: AnswerLinks


def site_of(request: Request) -> str:
    """The site of the API key (access control put it there); "" when GUICHET_AUTH=off."""
    key = getattr(request.state, "api_key", None)
    return str(getattr(key, "site", ""))


def answer_links(answer_id: str) -> AnswerLinks:
    return AnswerLinks.model_validate(
        {"self": f"/v1/answers/{answer_id}", "stream": f"/v1/answers/{answer_id}/stream"}
    )


@router.post(
    "/v1/ask",
    status_code=202,
    response_model=AskAccepted,
    max_body_size=MAX_BODY_BYTES,
    responses={
        400: {"model": ErrorBody, "description": "Corps JSON invalide"},
        422: {"model": ErrorBody, "description": "Champ invalide (le message le nomme)"},
        503: {"model": ErrorBody, "description": "File ou stockage des réponses injoignable"},
    },
)
def ask(request: Request, body: AskRequest, response: Response) -> AskAccepted:
    """Accepts a question once its job is durably enqueued; the answer follows at links.self/stream."""
    stack: Stack = request.app.state.stack
    job = AskJob(
        new_answer_id(),
        body.question,
        body.audience or "particuliers",
        body.situation or "",
        site=site_of(request),
    )
    try:
        enqueue(stack.answers, stack.broker, stack.settings.ask_queue, job)
    except StoreError as exc:
        metrics.ASKS.labels(outcome="unavailable").inc()
        raise ApiError(503, "stockage_indisponible", "Le stockage des réponses est injoignable.") from exc
    except BrokerError as exc:
        metrics.ASKS.labels(outcome="unavailable").inc()
        raise ApiError(503, "file_indisponible", QUEUE_DOWN) from exc
    metrics.ASKS.labels(outcome="queued").inc()
    links = answer_links(job.id)
    response.headers["Location"] = links.self_
    return AskAccepted(id=job.id, status="queued", links=links)
