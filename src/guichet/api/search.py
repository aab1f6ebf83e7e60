"""Retrieval only, for operators and tools (the same as `guichet search --json`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from guichet.api.errors import ApiError
from guichet.corpus.model import Audience

router = APIRouter(tags=["recherche"])


@router.get("/v1/search")
def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="Requête en français")],
    audience: Audience | None = None,
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    mode: Literal["hybrid", "lexical", "vector"] = "hybrid",
) -> list[dict[str, object]]:
    if not q.strip():
        raise ApiError(422, "requete_vide", "La requête est vide.")
    retriever = request.app.state.stack.retriever
    return [p.to_json() for p in retriever.passages(q, audience=audience, k=k, mode=mode)]
