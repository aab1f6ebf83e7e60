"""Caps on open SSE streams (api/stream.py): per replica (503) and per site (429), with Retry-After and the
API's error shape; a refused or ended stream gives its place back. Real HTTP (uvicorn), keys on."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from guichet.access.keys import KeyRepository
from guichet.api.app import create_app
from guichet.testing.helpers import wait_for
from guichet.wiring import Stack

PER_REPLICA = 3
PER_SITE = 2


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # not the main thread: no signal handlers


@pytest.fixture
def stack(embedded_stack: Stack) -> Iterator[Stack]:
    base = embedded_stack
    settings = base.settings.model_copy(
        update={
            "auth": "keys",
            "auth_refresh": 0.0,
            "streams_per_replica": PER_REPLICA,
            "streams_per_site": PER_SITE,
            "stream_heartbeat": 30.0,
        }
    )
    stack = Stack(settings, broker=base.broker, embedder=base.embedder, index=base.index)
    yield stack
    stack.close()


@pytest.fixture
def url(stack: Stack) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(create_app(stack), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


def hold(url: str, answer_id: str, key: str) -> socket.socket:
    """An SSE stream that has received its first frame and stays open."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    request = (
        f"GET /v1/answers/{answer_id}/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\r\n"
    )
    sock.sendall(request.encode())
    received = b""
    while b"event: status" not in received:
        chunk = sock.recv(4096)
        assert chunk, f"stream closed early: {received!r}"
        received += chunk
    assert received.startswith(b"HTTP/1.1 200"), received
    return sock


def refused(url: str, answer_id: str, key: str) -> tuple[int, str | None, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key}"}
    response = httpx.get(f"{url}/v1/answers/{answer_id}/stream", headers=headers, timeout=10)
    return response.status_code, response.headers.get("Retry-After"), response.json()


def test_caps_per_site_then_per_replica_and_places_given_back(url: str, stack: Stack) -> None:
    keys = KeyRepository(stack.answers.store)
    site_a, site_b = keys.create("site-a", "advisor")[1], keys.create("site-b", "advisor")[1]
    headers = {"Authorization": f"Bearer {site_a}"}
    answer_id = httpx.post(f"{url}/v1/ask", json={"question": "Une question ?"}, headers=headers).json()["id"]
    held = [hold(url, answer_id, site_a) for _ in range(PER_SITE)]
    try:
        status, retry, body = refused(url, answer_id, site_a)
        assert status == 429 and retry is not None and int(retry) > 0
        assert body["error"]["code"] == "trop_de_flux_site"
        assert "pour ce site" in body["error"]["message"]
        held.append(hold(url, answer_id, site_b))  # another site still gets the replica's last place
        status, retry, body = refused(url, answer_id, site_b)
        assert status == 503 and retry is not None and int(retry) > 0
        assert body["error"]["code"] == "trop_de_flux"
        assert "sur ce serveur" in body["error"]["message"]
    finally:
        for sock in held:
            sock.close()

    # The server notices the disconnects: every place comes back.
    def reopened() -> bool:
        try:
            sock = hold(url, answer_id, site_a)
        except AssertionError:
            return False
        held.append(sock)
        return True

    wait_for(reopened, timeout=20)
    wait_for(reopened, timeout=20)
    for sock in held:
        sock.close()


def test_an_unknown_answer_gives_its_place_back(url: str, stack: Stack) -> None:
    key = KeyRepository(stack.answers.store).create("site-c", "advisor")[1]
    for _ in range(PER_SITE + 1):
        status, _retry, body = refused(url, "0" * 32, key)
        assert status == 404, body
