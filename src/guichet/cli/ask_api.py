"""`guichet ask --url`: asks a running API, shows the draft as it streams, returns the final record.

The stream (SSE) carries the draft; the record of its `done` event (or GET /v1/answers/{id}) is the
answer. If the stream breaks, the record is polled instead: the question is never asked twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

DEFAULT_TIMEOUT_S = 600.0  # a question may wait in the queue behind others before it is answered
# The server sends a keep-alive at least every stream heartbeat (10 s by default).
STREAM_READ_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 1.0


class AskError(Exception):
    """The API refused the question or could not be reached; the message is French, for the advisor."""


class _StreamBroken(Exception):
    pass


def ask_remote(
    base_url: str,
    question: str,
    audience: str = "particuliers",
    situation: str = "",
    *,
    on_token: Callable[[str], None],
    on_reset: Callable[[], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    api_key: str = "",
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """on_token(text): each new piece of the draft; on_reset(): the draft starts over (a new attempt).
    api_key: the site's key, sent as a bearer token on every request (docs/decisions/0014)."""
    deadline = time.monotonic() + timeout
    limits = httpx.Timeout(30.0, read=STREAM_READ_TIMEOUT_S)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(
            base_url=base_url.rstrip("/"), timeout=limits, transport=transport, headers=headers
        ) as http:
            body = {"question": question, "audience": audience, "situation": situation}
            accepted = _checked(http.post("/v1/ask", json=body)).json()
            draft = _Draft(on_token, on_reset)
            try:
                record = _follow(http, accepted["links"]["stream"], draft, deadline)
            except (httpx.TransportError, _StreamBroken, ValueError):
                record = None  # the stream broke, or sent garbage: the record is the truth
            return record if record is not None else _poll(http, accepted["links"]["self"], deadline)
    except httpx.TransportError as exc:
        raise AskError(f"API injoignable à {base_url} : {exc}") from exc


def _follow(http: httpx.Client, path: str, draft: _Draft, deadline: float) -> dict[str, Any] | None:
    """The record from the stream's `done`; None after an `error` (the record says more)."""
    with http.stream("GET", path, headers={"Accept": "text/event-stream"}) as response:
        _checked(response)
        for kind, data in _events(_before(deadline, response.iter_lines())):
            if kind == "token":
                draft.add(str(data.get("text", "")), int(data.get("offset", len(draft.text))))
            elif kind == "status" and data.get("reset"):
                draft.reset()
            elif kind == "done":
                return data
            elif kind == "error":
                return None
    raise _StreamBroken


def _poll(http: httpx.Client, path: str, deadline: float) -> dict[str, Any]:
    while True:
        response = _checked(http.get(path))
        if response.status_code == 200:
            record: dict[str, Any] = response.json()
            return record
        if time.monotonic() >= deadline:
            raise AskError("La réponse n'est pas arrivée à temps : réessayez plus tard avec son identifiant.")
        time.sleep(POLL_INTERVAL_S)


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code < 400:
        return response
    response.read()
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = f"réponse inattendue de l'API (HTTP {response.status_code})"
    raise AskError(f"{message} (HTTP {response.status_code})")


def _before(deadline: float, lines: Iterator[str]) -> Iterator[str]:
    """The stream's lines until the deadline: keep-alives would otherwise keep a stuck answer open forever."""
    for line in lines:
        if time.monotonic() >= deadline:
            raise AskError("pas de réponse dans le temps imparti : réessayez plus tard")
        yield line


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, JSON data) per SSE event; comments (keep-alives) and ids are skipped."""
    kind, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield kind, json.loads("\n".join(data))
            kind, data = "message", []
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)


class _Draft:
    """The draft so far: a token {"text", "offset"} rewrites it from offset: a replayed one adds nothing."""

    def __init__(self, on_token: Callable[[str], None], on_reset: Callable[[], None] | None) -> None:
        self.text = ""
        self._on_token, self._on_reset = on_token, on_reset

    def add(self, delta: str, offset: int) -> None:
        candidate = self.text[: min(offset, len(self.text))] + delta
        if self.text.startswith(candidate):
            return  # already shown
        if not candidate.startswith(self.text):
            self.reset()  # the text changed under us: show it again from the start
        new, self.text = candidate[len(self.text) :], candidate
        self._on_token(new)

    def reset(self) -> None:
        self.text = ""
        if self._on_reset is not None:
            self._on_reset()
