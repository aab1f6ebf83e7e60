"""The HTTP client of `guichet ask --url`, against scripted API answers (httpx.MockTransport)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from guichet.cli import ask_api
from guichet.cli.ask_api import AskError, ask_remote

ANSWER_ID = "c" * 32
RECORD = {"id": ANSWER_ID, "status": "done", "answer": "Allez en mairie [1].", "sources": []}
ACCEPTED = {
    "id": ANSWER_ID,
    "status": "queued",
    "links": {"self": f"/v1/answers/{ANSWER_ID}", "stream": f"/v1/answers/{ANSWER_ID}/stream"},
}


def sse(*events: tuple[str, dict[str, Any]]) -> bytes:
    return "".join(f"event: {kind}\ndata: {json.dumps(data)}\n\n" for kind, data in events).encode()


class Api:
    """Answers POST /v1/ask, the stream (a scripted body) and GET /v1/answers/{id} (a list of replies)."""

    def __init__(self, stream: bytes, polls: list[httpx.Response] | None = None) -> None:
        self.stream, self.polls = stream, list(polls or [])
        self.requests: list[tuple[str, str]] = []
        self.authorizations: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        self.authorizations.append(request.headers.get("authorization"))
        if request.method == "POST":
            return httpx.Response(202, json=ACCEPTED)
        if request.url.path.endswith("/stream"):
            return httpx.Response(200, content=self.stream, headers={"content-type": "text/event-stream"})
        return self.polls.pop(0)


def run(api: Api, **kw: Any) -> tuple[dict[str, Any], list[str]]:
    shown: list[str] = []
    record = ask_remote(
        "http://api.test",
        "Question ?",
        "particuliers",
        "",
        on_token=shown.append,
        transport=httpx.MockTransport(api),
        **kw,
    )
    return record, shown


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ask_api, "POLL_INTERVAL_S", 0.0)


def test_tokens_are_shown_once_and_done_is_the_record() -> None:
    stream = sse(
        ("status", {"status": "queued", "attempt": 0}),
        ("token", {"text": "Allez ", "offset": 0}),
        ("token", {"text": "Allez ", "offset": 0}),  # replayed: nothing new
        ("token", {"text": "en mairie", "offset": 6}),
        ("token", {"text": "Allez en mairie [1].", "offset": 0}),  # the final replay: only the rest is new
        ("done", RECORD),
    )
    record, shown = run(Api(b": keep-alive\n\n" + stream))
    assert record == RECORD
    assert shown == ["Allez ", "en mairie", " [1]."]


def test_a_reset_starts_the_draft_over() -> None:
    resets: list[bool] = []
    stream = sse(
        ("token", {"text": "Ancien", "offset": 0}),
        ("status", {"status": "restarted", "attempt": 2, "reset": True}),
        ("token", {"text": "Nouveau", "offset": 0}),
        ("done", RECORD),
    )
    _, shown = run(Api(stream), on_reset=lambda: resets.append(True))
    assert shown == ["Ancien", "Nouveau"] and resets == [True]


def test_a_broken_stream_falls_back_to_polling_without_asking_again() -> None:
    api = Api(
        sse(("token", {"text": "Allez", "offset": 0})),  # the connection ends before "done"
        polls=[
            httpx.Response(202, json={"id": ANSWER_ID, "status": "running"}),
            httpx.Response(200, json=RECORD),
        ],
    )
    record, shown = run(api)
    assert record == RECORD and shown == ["Allez"]
    assert [m for m, _ in api.requests].count("POST") == 1
    assert api.requests[-1] == ("GET", f"/v1/answers/{ANSWER_ID}")


def test_an_error_event_returns_the_failed_record() -> None:
    failed = {"id": ANSWER_ID, "status": "failed", "error": {"code": "x", "message": "Échec."}}
    api = Api(sse(("error", {"code": "x", "message": "Échec."})), polls=[httpx.Response(200, json=failed)])
    assert run(api)[0] == failed


def test_garbage_on_the_stream_falls_back_to_polling() -> None:
    api = Api(b"event: token\ndata: {pas du json\n\n", polls=[httpx.Response(200, json=RECORD)])
    assert run(api)[0] == RECORD


def test_the_api_error_message_is_raised() -> None:
    def refuse(_request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "file_indisponible", "message": "La file des questions est injoignable."}}
        return httpx.Response(503, json=body)

    with pytest.raises(AskError, match=r"La file des questions est injoignable\. \(HTTP 503\)"):
        ask_remote("http://api.test", "Q ?", on_token=print, transport=httpx.MockTransport(refuse))


def test_a_non_json_error_still_says_what_happened() -> None:
    transport = httpx.MockTransport(lambda _r: httpx.Response(502, text="Bad Gateway"))
    with pytest.raises(AskError, match=r"réponse inattendue de l'API \(HTTP 502\)"):
        ask_remote("http://api.test", "Q ?", on_token=print, transport=transport)


def test_polling_gives_up_at_the_deadline() -> None:
    pending = [httpx.Response(202, json={"id": ANSWER_ID, "status": "queued"}) for _ in range(3)]
    api = Api(b"", polls=pending)
    with pytest.raises(AskError, match="pas arrivée à temps"):
        run(api, timeout=0.0)


def test_an_unreachable_api_is_a_clear_error() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(AskError, match=r"API injoignable à http://api\.test"):
        ask_remote("http://api.test", "Q ?", on_token=print, transport=httpx.MockTransport(down))


def test_the_site_key_goes_with_every_request_when_given() -> None:
    keyed = Api(sse(("status", {"status": "running"})), polls=[httpx.Response(200, json=RECORD)])
    run(keyed, api_key="gk_site_secret")
    assert len(keyed.authorizations) == 3  # ask, stream, poll
    assert set(keyed.authorizations) == {"Bearer gk_site_secret"}

    anonymous = Api(sse(("done", RECORD)))
    run(anonymous)
    assert anonymous.authorizations == [None, None]
