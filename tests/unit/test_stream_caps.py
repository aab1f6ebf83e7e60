"""Open SSE streams (api/stream.py) under pressure: caps per replica (503) and per site (429), with
Retry-After and the API's error shape; a refused or ended stream gives its place back; a client that
stops reading is cut, never the relay. Real HTTP (uvicorn), keys on."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client import REGISTRY

from guichet.access.keys import KeyRepository
from guichet.api.app import create_app
from guichet.ports.answer_stream import AnswerEvent
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
    with serve(stack) as url:
        yield url


def hold(url: str, answer_id: str, key: str, receive_buffer: int | None = None) -> socket.socket:
    """An SSE stream that has received its first frame and stays open."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect((host, int(port)))
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


def test_a_client_that_stops_reading_is_cut_and_the_others_get_everything(
    stack: Stack, tmp_path: Any
) -> None:
    """The relay never waits for a reader: a client whose socket is full loses its stream (and resumes
    with Last-Event-ID), another reader of the same answer gets every event meanwhile."""
    slow_settings = stack.settings.model_copy(update={"stream_queue_events": QUEUE, "streams_per_site": 10})
    slow_stack = Stack(slow_settings, broker=stack.broker, embedder=stack.embedder, index=stack.index)
    with serve(slow_stack) as url:
        key = KeyRepository(slow_stack.answers.store).create("site-d", "advisor")[1]
        headers = {"Authorization": f"Bearer {key}"}
        answer_id = httpx.post(f"{url}/v1/ask", json={"question": "Une question ?"}, headers=headers).json()[
            "id"
        ]
        cut_before = REGISTRY.get_sample_value("guichet_sse_streams_cut_total", {"reason": "slow"}) or 0.0
        slow = hold(url, answer_id, key, receive_buffer=4096)  # then never reads
        received: list[str] = []
        reader = threading.Thread(target=read_all, args=(url, answer_id, headers, received), daemon=True)
        reader.start()
        wait_for(lambda: "status" in received, timeout=20)
        text = "x" * 65_536
        for round_ in range(ROUNDS):
            for n in range(PER_ROUND):
                seq = round_ * PER_ROUND + n
                data = {"text": text, "offset": seq * len(text)}
                slow_stack.answer_stream.publish(AnswerEvent(answer_id, 1, seq, "token", data, time.time()))
            wait_for(lambda r=round_: received.count("token") >= (r + 1) * PER_ROUND, timeout=20)
        done = {"status": "done"}
        slow_stack.answer_stream.publish(
            AnswerEvent(answer_id, 1, ROUNDS * PER_ROUND, "done", done, time.time())
        )
        reader.join(timeout=20)
        assert received.count("token") == ROUNDS * PER_ROUND and received[-1] == "done"
        cut = REGISTRY.get_sample_value("guichet_sse_streams_cut_total", {"reason": "slow"}) or 0.0
        assert cut == cut_before + 1
        rest = drain_socket(slow)
        assert b"event: done" not in rest  # cut before the end: its client resumes with Last-Event-ID


QUEUE = 16
ROUNDS, PER_ROUND = 20, 8


@contextmanager
def serve(stack: Stack) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(create_app(stack), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def read_all(url: str, answer_id: str, headers: dict[str, str], kinds: list[str]) -> None:
    with httpx.stream("GET", f"{url}/v1/answers/{answer_id}/stream", headers=headers, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("event: "):
                kinds.append(line.removeprefix("event: "))
                if kinds[-1] == "done":
                    return


def drain_socket(sock: socket.socket) -> bytes:
    """Everything the server still sends, until it closes the connection."""
    sock.settimeout(20)
    chunks = []
    while chunk := sock.recv(1 << 20):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)
