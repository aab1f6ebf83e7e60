"""Security headers on every response: a strict CSP for the advisor page, a relaxed one for /docs only.

The page holds model output and document text: even if one were ever inserted as HTML by mistake, the
CSP forbids inline script, inline style attributes and any origin but ours. /docs serves Swagger UI
from our own /static (the packaged swagger-ui-dist, no CDN) with FastAPI's inline bootstrap script; it
is an operator's tool that shows no model output as HTML, so it alone allows inline script and style
(docs/decisions/0010, 0027).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
# /docs: FastAPI's inline bootstrap script and Swagger UI's inline styles; every file from our origin.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
DOCS_PATHS = frozenset({"/docs"})

COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Links to the fiches and téléservices leave the page: they need not learn which answer was open.
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def csp_for(path: str) -> str:
    return DOCS_CSP if path in DOCS_PATHS else STRICT_CSP


class SecurityHeaders:
    """Pure ASGI middleware (not BaseHTTPMiddleware): streamed responses (SSE) pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = [*COMMON_HEADERS, (b"content-security-policy", csp_for(scope["path"]).encode())]
        names = {name for name, _ in added}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
