"""POST /v1/ask: validate the question, record it as queued, then enqueue the job (confirmed) → 202."""

from __future__ import annotations

from dataclasses import replace
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
from guichet.answer.store import valid_answer_id
from guichet.answer.submission import QUEUE_DOWN, enqueue
from guichet.answer.thread import NOT_DONE, OTHER_SITE, FollowUpRefused, check_followable, thread_after
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


def _answer_id(value: str) -> str:
    if not valid_answer_id(value):
        raise ValueError("identifiant de réponse attendu (32 caractères hexadécimaux)")
    return value


AnswerId = Annotated[str, AfterValidator(_answer_id)]


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
    follow_up_of: AnswerId | None = Field(
        default=None,
        description="Question complémentaire : l'identifiant de la réponse qu'elle suit (même site, "
        "réponse terminée). Le public et la situation de cette réponse valent par défaut.",
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
        403: {"model": ErrorBody, "description": "follow_up_of : réponse d'un autre site"},
        404: {"model": ErrorBody, "description": "follow_up_of : réponse inconnue"},
        409: {"model": ErrorBody, "description": "follow_up_of : réponse précédente non terminée"},
        422: {"model": ErrorBody, "description": "Champ invalide (le message le nomme)"},
        503: {"model": ErrorBody, "description": "File ou stockage des réponses injoignable"},
    },
)
def ask(request: Request, body: AskRequest, response: Response) -> AskAccepted:
    """Accepts a question once its job is durably enqueued; the answer follows at links.self/stream."""
    stack: Stack = request.app.state.stack
    job = AskJob(
        new_answer_id(), body.question, body.audience or "particuliers", body.situation or "",
        site=site_of(request),
    )  # fmt: skip
    if body.follow_up_of:
        job = follow_up(stack, job, body.follow_up_of, audience_given=body.audience is not None)
    submit(stack, job)
    links = answer_links(job.id)
    response.headers["Location"] = links.self_
    return AskAccepted(id=job.id, status="queued", links=links)


REFUSAL_STATUS = {OTHER_SITE: 403, NOT_DONE: 409}


def follow_up(stack: Stack, job: AskJob, previous_id: str, *, audience_given: bool) -> AskJob:
    """job as a follow-up of previous_id (same site, done): its thread, and the audience if not given."""
    try:
        previous = check_followable(stack.answers.get(previous_id), previous_id, job.site)
    except StoreError as exc:
        raise ApiError(503, "stockage_indisponible", "Le stockage des réponses est injoignable.") from exc
    except FollowUpRefused as exc:
        raise ApiError(REFUSAL_STATUS.get(exc.code, 404), exc.code, exc.message) from exc
    audience = job.audience if audience_given else previous.audience
    return replace(job, audience=audience, follow_up_of=previous.id, thread=thread_after(previous))


def submit(stack: Stack, job: AskJob) -> None:
    """Record, then enqueue (submission.py), with the API's errors and metrics."""
    try:
        enqueue(stack.answers, stack.broker, stack.settings.ask_queue, job)
    except StoreError as exc:
        metrics.ASKS.labels(outcome="unavailable").inc()
        raise ApiError(503, "stockage_indisponible", "Le stockage des réponses est injoignable.") from exc
    except BrokerError as exc:
        metrics.ASKS.labels(outcome="unavailable").inc()
        raise ApiError(503, "file_indisponible", QUEUE_DOWN) from exc
    metrics.ASKS.labels(outcome="queued").inc()
