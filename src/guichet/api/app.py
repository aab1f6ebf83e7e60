"""Application factory: the functions of SPEC.md that exist so far, over one Stack of clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from guichet import __version__, metrics
from guichet.api import documents, search
from guichet.api.errors import error_response, install_error_handlers
from guichet.runner import Consumer
from guichet.wiring import Stack


def create_app(stack: Stack, *, workers: Sequence[Consumer] = ()) -> FastAPI:
    """workers: the consumer threads running in this process (guichet serve), part of readiness."""
    app = FastAPI(
        title="guichet",
        version=__version__,
        description="Réponses sourcées pour les conseillers France services.",
    )
    app.state.stack = stack
    install_error_handlers(app)
    count_requests(app)
    app.include_router(documents.router)
    app.include_router(search.router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        # The advisor page is not built yet: send people to the API documentation meanwhile.
        return RedirectResponse("/docs", status_code=307)

    @app.get("/healthz", tags=["exploitation"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["exploitation"], response_model=None)
    def readyz() -> dict[str, object] | Response:
        checks = readiness(stack)
        if workers:
            checks["worker"] = all(w.alive for w in workers)
        if all(checks.values()):
            return {"status": "ready", "checks": checks}
        failing = ", ".join(name for name, ok in checks.items() if not ok)
        return error_response(503, "indisponible", f"Dépendances injoignables : {failing}.")

    @app.get("/metrics", tags=["exploitation"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def readiness(stack: Stack) -> dict[str, bool]:
    """Only the dependencies this process uses: the production functions of today need no broker."""
    checks = {"store": _safe(stack.store.ping), "index": _safe(stack.index.ping)}
    if stack.needs_broker:
        checks["broker"] = _safe(lambda: stack.broker.depth(stack.settings.index_queue) >= 0)
    return checks


def _safe(check: object) -> bool:
    try:
        return bool(check())  # type: ignore[operator]
    except Exception:
        return False


def count_requests(app: FastAPI) -> None:
    """guichet_http_requests_total by route template (never the raw path: keys would explode labels)."""

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics.HTTP_REQUESTS.labels(route=template, status=str(response.status_code)).inc()
        return response
