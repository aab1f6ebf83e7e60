"""Application factory: the HTTP functions of SPEC.md, over one Stack of clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from guichet import __version__, metrics
from guichet.api import answers, ask, documents, feedback, openai_compat, search, stats, stream
from guichet.api.access import install_access
from guichet.api.errors import error_response, install_error_handlers
from guichet.api.page import install_page
from guichet.api.readiness import REQUIRED, Readiness
from guichet.api.security_headers import SecurityHeaders
from guichet.process.consumers import Consumer
from guichet.wiring import Stack


def create_app(stack: Stack, *, workers: Sequence[Consumer] = ()) -> FastAPI:
    """workers: the consumer threads running in this process (guichet serve), part of readiness."""
    app = FastAPI(
        title="guichet",
        version=__version__,
        description="Réponses sourcées pour les conseillers France services.",
        docs_url=None,  # served by api/page.py from the packaged Swagger UI (no CDN)
        redoc_url=None,
    )
    app.state.stack = stack
    app.state.open_streams = stream.OpenStreams()  # close_all() at shutdown: see api/stream.py
    install_error_handlers(app)
    install_access(app, stack)  # keys, rate limits, CORS (ADR 0014); inner: its 401/429 are counted
    limit_json_bodies(app, ask.MAX_BODY_BYTES)
    count_requests(app)
    documents.limit_upload_bodies(app, stack.settings.max_document_bytes)  # outside what reads bodies
    app.add_middleware(SecurityHeaders)  # outermost: error responses get the headers too
    for module in (ask, answers, stream, feedback, documents, search, stats, openai_compat):
        app.include_router(module.router)

    install_page(app)  # GET / and /static: the advisor's page

    @app.get("/healthz", tags=["exploitation"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.state.readiness = Readiness(stack)

    @app.get("/readyz", tags=["exploitation"], response_model=None)
    def readyz() -> dict[str, object] | Response:
        checks = app.state.readiness.check()
        required = [*REQUIRED, "worker"] if workers else list(REQUIRED)
        if workers:
            checks["worker"] = all(w.alive for w in workers)
        failing = [name for name in required if not checks[name]]
        if not failing:
            degraded = [name for name, ok in checks.items() if not ok]
            return {
                "status": "degraded" if degraded else "ready",
                "checks": checks,
                "answers": answer_mode(stack),
            }
        # The broker first: a RabbitMQ alarm or outage is what POST /v1/ask answers with, too.
        code = "file_indisponible" if "broker" in failing else "indisponible"
        return error_response(503, code, f"Dépendances injoignables : {', '.join(failing)}.")

    @app.get("/metrics", tags=["exploitation"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def answer_mode(stack: Stack) -> str:
    """For the operator: how answers are written (the page tells advisors in their own words)."""
    if stack.settings.llm_url:
        return f"generated ({stack.settings.llm_url})"
    return "extractive (GUICHET_LLM_URL is empty: no language model configured)"


def limit_json_bodies(app: FastAPI, limit: int) -> None:
    """A declared body over limit is refused unread, in the error shape (the routes' own max_body_size,
    which answers in plain text, only remains for chunked bodies)."""

    @app.middleware("http")
    async def check(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length", "")
        # Documents have their own, much larger limit (GUICHET_MAX_DOCUMENT_BYTES), checked by their route.
        uploads = request.url.path.startswith("/v1/documents")
        # Chat clients send the whole conversation: that route has its own, larger limit.
        uploads = uploads or request.url.path == "/v1/chat/completions"
        if not uploads and length.isdigit() and len(length) < 20 and int(length) > limit:
            return error_response(
                413, "trop_volumineux", f"Requête trop volumineuse ({limit} octets au plus)."
            )
        return await call_next(request)


def count_requests(app: FastAPI) -> None:
    """guichet_http_requests_total by route template (never the raw path: keys would explode labels)."""

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics.HTTP_REQUESTS.labels(route=template, status=str(response.status_code)).inc()
        return response
