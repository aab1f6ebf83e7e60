"""The ask path over real HTTP (uvicorn in a thread): open streams, disconnects, and `guichet ask --url`."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client import REGISTRY

from guichet.answer.record import AskJob, SourceRef
from guichet.api.app import create_app
from guichet.cli.ask_api import AskError, ask_remote
from guichet.ports.answer_stream import AnswerEvent
from guichet.ports.answer_streams.local import LocalAnswerStream
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.settings import Settings
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.testing.helpers import wait_for
from guichet.wiring import Stack

OPEN_STREAMS = 45  # more than the 40 threads of the shared pool that plain handlers run in


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    # Long heartbeats: a relay blocked in subscribe() holds its thread the whole time, as in production.
    settings = Settings(data_dir=tmp_path, stream_heartbeat=30.0)
    embedder = HashingEmbedder()
    stack = Stack(
        settings,
        broker=MemoryBroker(settings.broker_path),
        embedder=embedder,
        index=EmbeddedIndex(settings.index_path, dimension=embedder.dimension),
        answer_stream=LocalAnswerStream(tmp_path / "events.sqlite3"),
    )
    yield stack
    stack.close()
    stack.answer_stream.close()
    stack.index.close()
    stack.broker.close()


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # not the main thread: no signal handlers


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


def open_streams() -> float:
    return REGISTRY.get_sample_value("guichet_sse_open_streams") or 0.0


def open_stream(url: str, answer_id: str) -> socket.socket:
    """A raw client that reads the stream's first frame, then just holds the connection."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"GET /v1/answers/{answer_id}/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    received = b""
    while b"event: status" not in received:
        chunk = sock.recv(4096)
        assert chunk, "stream closed early"
        received += chunk
    assert received.startswith(b"HTTP/1.1 200")
    return sock


def test_open_streams_do_not_starve_ask_and_end_with_their_clients(url: str) -> None:
    baseline, threads = open_streams(), threading.active_count()
    with httpx.Client(base_url=url, timeout=10) as http:
        waiting = http.post("/v1/ask", json={"question": "Une question sans réponse ?"}).json()["id"]
        sockets = [open_stream(url, waiting) for _ in range(OPEN_STREAMS)]
        try:
            assert open_streams() == baseline + OPEN_STREAMS
            # The relay serves them on the event loop: no thread per open stream (ADR 0019).
            assert threading.active_count() < threads + 10
            # Every stream is waiting on its subscription: a plain handler must still get a thread.
            response = http.post("/v1/ask", json={"question": "Et celle-ci passe-t-elle ?"})
            assert response.status_code == 202
            assert http.get(f"/v1/answers/{response.json()['id']}").status_code == 202
        finally:
            for sock in sockets:
                sock.close()
    # The server notices each disconnect: the stream and its subscription end, its place is given back.
    wait_for(lambda: open_streams() <= baseline, timeout=20)


class Worker:
    """The answer worker's part: takes the job from the queue, streams the draft, stores the record."""

    def __init__(self, stack: Stack, *, fail: bool = False) -> None:
        self.stack, self.fail = stack, fail
        self.seq = itertools.count()

    def run(self) -> None:
        envelope = None
        while envelope is None:
            envelope = self.stack.broker.get(self.stack.settings.ask_queue)
            time.sleep(0.01)
        job = AskJob.from_json(envelope.body)
        stored = self.stack.answers.get(job.id)
        assert stored is not None
        record = stored.running(1)
        self.stack.answers.put(record)
        self.publish(job.id, "status", {"status": "running", "attempt": 1})
        if self.fail:
            failed = record.failed("generation_impossible", "Aucune fiche ne traite de cette question.")
            self.stack.answers.put(failed)
            self.publish(job.id, "error", {"code": "generation_impossible", "message": "Aucune fiche."})
            return
        source = SourceRef(1, "F1341", "Carte d'identité", "https://www.service-public.fr/F1341", "Extrait.")
        draft = ""
        for piece in ("Faites ", "la demande ", "en mairie [1]."):
            self.publish(job.id, "token", {"text": piece, "offset": len(draft)})
            draft += piece
        done = replace(record, status="done", answer=draft, sources=(source,), mode="extractive")
        self.stack.answers.put(done)
        self.publish(job.id, "done", done.to_dict())

    def publish(self, answer_id: str, kind: str, data: dict[str, Any]) -> None:
        event = AnswerEvent(answer_id, 1, next(self.seq), kind, data, time.time())  # type: ignore[arg-type]
        self.stack.answer_stream.publish(event)


def test_ask_remote_streams_the_draft_and_returns_the_record(url: str, stack: Stack) -> None:
    worker = threading.Thread(target=Worker(stack).run, daemon=True)
    worker.start()
    shown: list[str] = []
    record = ask_remote(
        url, "Comment refaire ma carte d'identité ?", "particuliers", "", on_token=shown.append
    )
    worker.join(timeout=20)
    assert record["status"] == "done" and record["answer"] == "Faites la demande en mairie [1]."
    assert "".join(shown) == record["answer"]
    assert record["sources"][0]["id"] == "F1341"
    assert record["question"] == "Comment refaire ma carte d'identité ?"


def test_ask_remote_returns_a_failed_record(url: str, stack: Stack) -> None:
    threading.Thread(target=Worker(stack, fail=True).run, daemon=True).start()
    record = ask_remote(url, "Question impossible ?", "associations", "", on_token=lambda _t: None)
    assert record["status"] == "failed" and record["audience"] == "associations"
    assert record["error"]["code"] == "generation_impossible"


def test_ask_remote_reports_the_api_message_in_french(url: str) -> None:
    with pytest.raises(AskError, match=r"question : ne doit pas être vide \(HTTP 422\)"):
        ask_remote(url, "   ", "particuliers", "", on_token=lambda _t: None)
    with pytest.raises(AskError, match="audience : valeur non reconnue"):
        ask_remote(url, "Bonjour ?", "martiens", "", on_token=lambda _t: None)
