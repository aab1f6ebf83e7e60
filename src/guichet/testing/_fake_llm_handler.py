"""The request handler of fake_server.FakeOpenAIServer, and the state it shares with the server."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar


@dataclass(frozen=True)
class RecordedRequest:
    body: dict[str, Any]
    at: float  # time.monotonic() when the request arrived


class FakeState:
    def __init__(
        self,
        reply: str | Callable[[list[dict[str, Any]]], str],
        delta_chars: int,
        delay: float,
        model: str,
        context_chars: int | None,
    ) -> None:
        self.reply, self.delta_chars, self.delay = reply, max(1, delta_chars), delay
        self.model, self.context_chars = model, context_chars
        self.lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.failures: deque[tuple[int, str]] = deque()
        self.breaks: deque[int] = deque()
        self.connections: set[socket.socket] = set()
        self.aborted = 0
        self.stopping = False


class FakeOpenAIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, as real servers do
    state: ClassVar[FakeState]

    def setup(self) -> None:
        super().setup()
        with self.state.lock:
            self.state.connections.add(self.connection)

    def finish(self) -> None:
        with self.state.lock:
            self.state.connections.discard(self.connection)
        with contextlib.suppress(OSError):  # the client (or down()) already cut the connection
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests and benchmarks read the recorded requests, not a log

    def do_GET(self) -> None:
        if self._failed():
            return
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": self.state.model, "object": "model", "created": 0, "owned_by": "guichet"}
            self._json(200, {"object": "list", "data": [model]})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            body = None
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._error(404, f"no route {self.path}")
        with self.state.lock:
            self.state.requests.append(
                RecordedRequest(body if isinstance(body, dict) else {}, time.monotonic())
            )
        if self._failed():
            return None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._error(400, "a JSON body with a messages list is required")
        self._complete(body)

    def _complete(self, body: dict[str, Any]) -> None:
        messages: list[dict[str, Any]] = body["messages"]
        prompt = sum(len(str(m.get("content") or "")) for m in messages)
        max_tokens = int(body.get("max_tokens") or 1_000_000)
        limit = self.state.context_chars
        if limit is not None and prompt > limit:
            return self._error(
                400,
                f"This model's maximum context length is {limit} tokens. However, you requested"
                f" {prompt + max_tokens} tokens ({prompt} in the messages, {max_tokens} in the completion)."
                " Please reduce the length of the messages or completion.",
            )
        reply = self.state.reply
        text = reply if isinstance(reply, str) else reply(messages)
        size = self.state.delta_chars
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        reason = "length" if len(pieces) > max_tokens else "stop"
        pieces = pieces[:max_tokens]
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": len(pieces),
            "total_tokens": prompt + len(pieces),
        }
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return self._stream(pieces, reason, usage if include_usage else None)
        message = {"role": "assistant", "content": "".join(pieces)}
        choice = {"index": 0, "message": message, "finish_reason": reason}
        self._json(200, {**self._envelope("chat.completion"), "choices": [choice], "usage": usage})

    def _stream(self, pieces: list[str], reason: str, usage: dict[str, int] | None) -> None:
        with self.state.lock:
            cut = self.state.breaks.popleft() if self.state.breaks else None
        envelope = self._envelope("chat.completion.chunk")
        sent = 0
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._event({**envelope, "choices": [_choice({"role": "assistant", "content": ""})]})
            for piece in pieces:
                time.sleep(self.state.delay)
                if self.state.stopping or (cut is not None and sent + len(piece) > cut):
                    if cut is not None and cut > sent:
                        self._event({**envelope, "choices": [_choice({"content": piece[: cut - sent]})]})
                    self.close_connection = True  # no last chunk: the client sees a broken stream
                    return
                self._event({**envelope, "choices": [_choice({"content": piece})]})
                sent += len(piece)
            self._event({**envelope, "choices": [_choice({}, reason)]})
            if usage is not None:
                self._event({**envelope, "choices": [], "usage": usage})
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")
        except OSError:  # the client closed the stream early
            self.close_connection = True
            with self.state.lock:
                self.state.aborted += 1

    def _failed(self) -> bool:
        with self.state.lock:
            failure = self.state.failures.popleft() if self.state.failures else None
        if failure is not None:
            self._error(*failure)
        return failure is not None

    def _envelope(self, kind: str) -> dict[str, Any]:
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": kind, "created": int(time.time()),
                "model": self.state.model}  # fmt: skip

    def _event(self, payload: dict[str, Any]) -> None:
        self._chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _error(self, status: int, message: str) -> None:
        kind = "BadRequestError" if status < 500 else "InternalServerError"
        self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": status}})

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _choice(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}


def handler_for(state: FakeState) -> type[FakeOpenAIHandler]:
    class Bound(FakeOpenAIHandler):
        pass

    Bound.state = state  # one class per server: handlers are built by the server, without arguments
    return Bound
