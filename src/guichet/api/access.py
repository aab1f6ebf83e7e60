"""Who may call /v1: a site's API key (Bearer), its role, its rate; CORS closed unless origins are listed.

Everything outside /v1 stays open: the advisor's page and its assets, /healthz, /readyz, /metrics,
/openapi.json and /docs. With GUICHET_AUTH=off nothing is checked and nothing is limited (a per-client
limit without a site would lump every advisor behind a proxy together). docs/decisions/0014.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from guichet.access.keys import ApiKey, KeyRepository, KeyRing, Role, role_allows
from guichet.api.errors import error_response
from guichet.api.openai_render import error_body, is_openai_path
from guichet.api.rate_limit import Rate, RateLimiter, retry_after
from guichet.ports.store import StoreError
from guichet.settings import Settings
from guichet.wiring import Stack

log = logging.getLogger(__name__)

KEY_REQUIRED = "Clé d'API requise : envoyez l'en-tête « Authorization: Bearer <clé du site> »."
KEY_INVALID = "Clé d'API invalide ou révoquée : demandez une clé à l'administrateur de guichet."
KEYS_UNAVAILABLE = "Les clés d'API sont illisibles pour le moment (stockage injoignable) ; réessayez."
ROLE_NAMES = {"advisor": "conseiller", "operator": "opérateur", "admin": "administrateur"}
# Most specific first: the role a /v1 path needs (its method too, for documents).
OPERATOR_PATHS = ("/v1/documents", "/v1/reconcile", "/v1/stats", "/v1/sites")
ADMIN_PATHS = ("/v1/keys",)


def protected(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def required_role(path: str) -> Role:
    if path.startswith(ADMIN_PATHS):
        return "admin"
    if path.startswith(OPERATOR_PATHS):
        return "operator"
    return "advisor"


def rate_kind(method: str, path: str) -> str:
    return "ask" if method == "POST" and path in ("/v1/ask", "/v1/chat/completions") else "read"


def bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def unauthorized(code: str, message: str) -> JSONResponse:
    response = error_response(401, code, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="guichet"'
    return response


class AccessControl:
    """ASGI middleware: 401 without a valid key, 403 when its role is too low, 429 over the site's rate."""

    def __init__(self, app: ASGIApp, *, ring: KeyRing, limiter: RateLimiter) -> None:
        self.app = app
        self.ring = ring
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        outcome = await self._check(scope)
        if isinstance(outcome, JSONResponse):
            if is_openai_path(scope["path"]):  # OpenAI's clients read their own error shape
                outcome = openai_shaped(outcome)
            await outcome(scope, receive, send)
            return
        scope.setdefault("state", {})["api_key"] = outcome  # request.state.api_key in the routes
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope) -> ApiKey | JSONResponse:
        token = bearer(scope)
        if token is None:
            return unauthorized("cle_requise", KEY_REQUIRED)
        try:
            key = await self._authenticate(token)
        except StoreError:
            return error_response(503, "service_indisponible", KEYS_UNAVAILABLE)
        if key is None:
            return unauthorized("cle_invalide", KEY_INVALID)
        needed = required_role(scope["path"])
        if not role_allows(key.role, needed):
            message = (
                f"Cette clé (rôle {ROLE_NAMES[key.role]}) ne permet pas cette action : "
                f"rôle {ROLE_NAMES[needed]} requis."
            )
            return error_response(403, "role_insuffisant", message)
        wait = self.limiter.take(key.site, rate_kind(scope["method"], scope["path"]))
        if wait > 0:
            seconds = retry_after(wait)
            message = f"Trop de requêtes pour ce site : réessayez dans {seconds} s."
            response = error_response(429, "trop_de_requetes", message)
            response.headers["Retry-After"] = str(seconds)
            return response
        return key

    async def _authenticate(self, token: str) -> ApiKey | None:
        if self.ring.stale():
            await anyio.to_thread.run_sync(self.ring.refresh_if_stale)
        key = self.ring.authenticate(token)
        if key is None and not self.ring.knows(token) and self.ring.may_reload_for_unknown():
            await anyio.to_thread.run_sync(self.ring.reload_for_unknown)  # created elsewhere just now?
            key = self.ring.authenticate(token)
        return key


def openai_shaped(response: JSONResponse) -> JSONResponse:
    """The same refusal (status, headers, French message) in OpenAI's error shape."""
    error = json.loads(bytes(response.body))["error"]
    body = error_body(response.status_code, error["code"], error["message"])
    headers = {
        k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
    }
    return JSONResponse(body, status_code=response.status_code, headers=headers)


def cors_origins(settings: Settings) -> list[str]:
    return [o.strip().rstrip("/") for o in settings.cors_origins.split(",") if o.strip()]


def install_access(app: FastAPI, stack: Stack) -> None:
    """Keys and rates (unless GUICHET_AUTH=off), then CORS around them: a browser's preflight needs no key
    and a 401 still carries the CORS headers. Nothing is added for CORS when no origin is listed."""
    settings = stack.settings
    if settings.auth == "keys":
        ring = KeyRing(KeyRepository(stack.answers.store), refresh_s=settings.auth_refresh)
        rates = {
            "ask": Rate(settings.rate_ask_per_minute, settings.rate_ask_burst),
            "read": Rate(settings.rate_read_per_minute, settings.rate_read_burst),
        }
        app.add_middleware(AccessControl, ring=ring, limiter=RateLimiter(rates))
        document_security(app)
    else:
        log.warning("GUICHET_AUTH=off: /v1 answers without API keys and without rate limits")
    origins = cors_origins(settings)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
            expose_headers=["Location", "Retry-After"],
            max_age=600,
        )


SECURITY_SCHEME = "cleSite"
DOCUMENTED_ERRORS = {
    "401": "Clé d'API absente, invalide ou révoquée (en-tête WWW-Authenticate: Bearer)",
    "403": "Le rôle de la clé ne permet pas cette action",
    "429": "Trop de requêtes pour ce site (en-tête Retry-After)",
}


def document_security(app: FastAPI) -> None:
    """OpenAPI: /v1 operations need the bearer key and may answer 401, 403, 429 (the "Authorize" of /docs)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[SECURITY_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "Clé d'API du site France services (guichet keys create).",
        }
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for path, operations in schema.get("paths", {}).items():
            if not protected(path):
                continue
            for operation in operations.values():
                operation["security"] = [{SECURITY_SCHEME: []}]
                responses = operation.setdefault("responses", {})
                for status, description in DOCUMENTED_ERRORS.items():
                    responses.setdefault(status, {"description": description, "content": error})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def demo_settings(settings: Settings, host: str) -> Settings:
    """`guichet demo` on this machine only answers without a key, unless GUICHET_AUTH says otherwise."""
    if "auth" in settings.model_fields_set or not is_loopback(host):
        if settings.auth == "keys":
            print("Accès par clé d'API : créez-en une avec « guichet keys create --site SITE ».", flush=True)
        return settings
    print(f"Démo locale : l'API sur {host} répond sans clé d'API (GUICHET_AUTH=off).", flush=True)
    return settings.model_copy(update={"auth": "off"})
