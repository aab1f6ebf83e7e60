"""POST /v1/answers/{id}/feedback: an advisor's rating of a final answer, kept beside the record."""

from __future__ import annotations

import logging
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from guichet import metrics
from guichet.access import personal_data
from guichet.answer.record import clean_text
from guichet.answer.store import Feedback
from guichet.api.answers import find_record
from guichet.api.ask import MAX_BODY_BYTES, site_of
from guichet.api.errors import ApiError, ErrorBody
from guichet.ports.broker import BrokerError
from guichet.wiring import Stack

log = logging.getLogger(__name__)

router = APIRouter(tags=["réponses"])

MAX_REASONS = 10
MAX_REASON_CHARS = 200
MAX_COMMENT_CHARS = 2000

Reason = Annotated[str, AfterValidator(partial(clean_text, limit=MAX_REASON_CHARS, required=True))]
Comment = Annotated[str, AfterValidator(partial(clean_text, limit=MAX_COMMENT_CHARS, required=False))]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Literal["up", "down"]
    reasons: list[Reason] | None = Field(
        default=None, max_length=MAX_REASONS, description=f"Motifs ({MAX_REASON_CHARS} caractères au plus)"
    )
    comment: Comment | None = Field(default=None, description=f"{MAX_COMMENT_CHARS} caractères au plus")


class FeedbackCreated(BaseModel):
    id: str


@router.post(
    "/v1/answers/{answer_id}/feedback",
    status_code=201,
    response_model=FeedbackCreated,
    max_body_size=MAX_BODY_BYTES,
    responses={
        404: {"model": ErrorBody, "description": "Identifiant inconnu"},
        409: {"model": ErrorBody, "description": "La réponse n'est pas encore terminée"},
        422: {"model": ErrorBody, "description": "Champ invalide (le message le nomme)"},
    },
)
def add_feedback(request: Request, answer_id: str, body: FeedbackRequest) -> FeedbackCreated:
    record = find_record(request, answer_id)
    if not record.final:
        raise ApiError(409, "reponse_en_cours", "La réponse n'est pas encore terminée : évaluez-la ensuite.")
    stack: Stack = request.app.state.stack
    publisher = stack.analytics_publisher
    stored = stack.answers.add_feedback(
        Feedback(  # masked: kept for a year to improve answers, identifiers are no use to that (ADR 0014)
            record.id,
            body.rating,
            tuple(personal_data.mask(r) for r in body.reasons or ()),
            personal_data.mask(body.comment or ""),
            site=record.site or site_of(request),
            answer_created_at=record.created_at,
            theme=publisher.themes.of_record(record),
        )
    )
    metrics.count_feedback(body.rating, body.reasons or ())
    try:
        publisher.rating(stored)  # pilotage; the rating itself is stored whatever happens here
    except BrokerError:
        metrics.ANALYTICS_PUBLISH_ERRORS.inc()
        log.warning("feedback %s: analytics event not published (guichet stats rebuild)", stored.id)
    return FeedbackCreated(id=stored.id)
