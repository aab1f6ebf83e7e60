"""A tiny OpenAI-compatible chat server for tests and benchmarks, in a thread of this process.

    with FakeOpenAIServer("Bonjour.") as server:
        model = OpenAICompatChatModel(server.url)

GET /v1/models lists one model; POST /v1/chat/completions answers `reply` (a text, or a function of
the request's messages) as real OpenAI chunks (streamed when "stream": true, one piece of delta_chars
characters per "token", `delay` seconds before each), honouring max_tokens ("length") and
stream_options.include_usage. usage.prompt_tokens is the messages' length in characters; a prompt longer
than context_chars gets vLLM's 400 "This model's maximum context length is...".

Faults, settable while it runs: fail_with(status, n) answers the next n requests with that status;
break_after(chars, n) drops the connection of the next n streams after that many characters;
down() closes the port and every open connection (a crash), up() reopens the same port.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import sys
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from guichet.testing._fake_llm_handler import FakeState, RecordedRequest, handler_for

__all__ = ["FakeOpenAIServer", "RecordedRequest"]


class FakeOpenAIServer:
    def __init__(
        self,
        reply: str | Callable[[list[dict[str, Any]]], str],
        *,
        delta_chars: int = 8,
        delay: float = 0.0,
        model: str = "fake-model",
        context_chars: int | None = None,
    ) -> None:
        self._state = FakeState(reply, delta_chars, delay, model, context_chars)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    def __enter__(self) -> FakeOpenAIServer:
        self.up()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every POST /v1/chat/completions so far (failed ones too), with its arrival time."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def aborted(self) -> int:
        """How many streams the client closed before their end."""
        with self._state.lock:
            return self._state.aborted

    @property
    def delay(self) -> float:
        """Seconds before each streamed piece; settable while running (a slow model, on demand)."""
        return self._state.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._state.delay = seconds

    def fail_with(self, status: int, n: int = 1, message: str = "") -> None:
        with self._state.lock:
            self._state.failures.extend([(status, message or f"fake failure {status}")] * n)

    def break_after(self, chars: int, n: int = 1) -> None:
        with self._state.lock:
            self._state.breaks.extend([chars] * n)

    def up(self) -> None:
        """Listen (again) on 127.0.0.1: an ephemeral port the first time, the same port afterwards."""
        if self._httpd is not None:
            return
        httpd = _QuietServer(("127.0.0.1", self._port), handler_for(self._state))
        self._port = httpd.server_address[1]
        self._state.stopping = False
        self._httpd = httpd
        # a short poll interval: down() (and so each test's teardown) waits for one poll at most
        serve = functools.partial(httpd.serve_forever, poll_interval=0.02)
        self._thread = threading.Thread(target=serve, name="fake-openai", daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop listening and cut every open connection, as a crashed server would."""
        httpd, thread, self._httpd, self._thread = self._httpd, self._thread, None, None
        if httpd is None or thread is None:
            return
        self._state.stopping = True
        httpd.shutdown()
        httpd.server_close()
        with self._state.lock:
            connections = list(self._state.connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)
        thread.join()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client closing its kept-alive connection (or down() cutting it) is normal here, not a bug.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]
