"""GET /v1/answers/{id}/stream: server-sent events, from this process's answer relay.

One relay per process (ports/answer_streams/relay.py, ADR 0019) reads the answer stream once and pushes
each answer's events to the coroutines of its open streams (api/sse_live.py): no thread and no broker
connection per stream. Open streams are capped per replica (503) and per site on this replica (429),
both with Retry-After. A stream backend without a tail (some tests' streams) still gets a daemon thread
per stream (bridge()), as before the relay. At shutdown, OpenStreams.close_all() ends every open stream
(its clients reconnect elsewhere with Last-Event-ID), so that the graceful drain does not wait for
answers still to come.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator
from typing import Annotated, Protocol

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from guichet import metrics
from guichet.answer.record import AnswerRecord
from guichet.api.answers import answer_not_found
from guichet.api.errors import ErrorBody, error_response
from guichet.api.sse import answer_frames
from guichet.api.sse_live import Waker, live_frames
from guichet.ports.answer_stream import AnswerStream
from guichet.ports.answer_streams.relay import AnswerRelay
from guichet.wiring import Stack

router = APIRouter(tags=["réponses"])
log = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_END = object()
RETRY_AFTER_S = 5


class Stopper(Protocol):
    def set(self) -> None: ...


class OpenStreams:
    """This application's open streams: their stoppers, their count per site (the caps), and the relay."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stops: set[Stopper] = set()
        self._closing = False
        self._open = 0
        self._per_site: Counter[str] = Counter()
        self._relay: AnswerRelay | None = None
        self._relay_lock = threading.Lock()

    def admit(self, site: str | None, *, per_replica: int, per_site: int) -> str | None:
        """Counts one more stream, or says which cap refuses it ("replica" or "site")."""
        with self._lock:
            if self._open >= per_replica:
                return "replica"
            if site is not None and self._per_site[site] >= per_site:
                return "site"
            self._open += 1
            if site is not None:
                self._per_site[site] += 1
        metrics.SSE_OPEN_STREAMS.inc()
        return None

    def release(self, site: str | None) -> None:
        with self._lock:
            self._open -= 1
            if site is not None:
                self._per_site[site] -= 1
                if self._per_site[site] <= 0:
                    del self._per_site[site]
        metrics.SSE_OPEN_STREAMS.dec()

    def relay(self, stream: AnswerStream, retention: float) -> AnswerRelay | None:
        """This process's relay over stream, made on first use (blocking: off the event loop); None when
        the stream has no tail to relay (the streams of some tests): each stream then reads on its own."""
        tail = getattr(stream, "tail", None)
        with self._relay_lock:  # not self._lock: admit() runs on the event loop, tail() may connect
            if self._relay is None and tail is not None and not self._closing:
                self._relay = AnswerRelay(stream, tail(), retention=retention)
            return self._relay

    def add(self, stop: Stopper) -> None:
        with self._lock:
            self._stops.add(stop)
            if self._closing:
                stop.set()

    def discard(self, stop: Stopper) -> None:
        with self._lock:
            self._stops.discard(stop)

    def close_all(self) -> None:
        with self._lock:
            self._closing = True
            for stop in self._stops:
                stop.set()
        with self._relay_lock:
            relay, self._relay = self._relay, None
        if relay is not None:
            relay.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._stops)


class AdmittedStream(StreamingResponse):
    """A streaming response that gives its place back however it ends (even unstarted: client gone)."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(content, media_type="text/event-stream", headers=SSE_HEADERS)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


@router.get(
    "/v1/answers/{answer_id}/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Événements status, token, sources, done, error (id : <tentative>-<numéro>)",
        },
        404: {"model": ErrorBody, "description": "Identifiant inconnu"},
        429: {"model": ErrorBody, "description": "Trop de flux ouverts pour ce site (en-tête Retry-After)"},
        503: {"model": ErrorBody, "description": "Trop de flux ouverts sur ce serveur (en-tête Retry-After)"},
    },
)
async def stream_answer(
    request: Request,
    answer_id: str,
    last_event_id: Annotated[str | None, Header(description="Reprise après cet événement")] = None,
) -> Response:
    stack: Stack = request.app.state.stack
    streams: OpenStreams = request.app.state.open_streams
    settings = stack.settings
    key = getattr(request.state, "api_key", None)
    site = key.site if key is not None else None  # without keys (GUICHET_AUTH=off) only the replica's cap
    refused = streams.admit(
        site, per_replica=settings.streams_per_replica, per_site=settings.streams_per_site
    )
    if refused is not None:
        return refusal(refused)
    try:
        record, relay = await run_in_threadpool(_open, stack, answer_id, streams)
    except BaseException:
        streams.release(site)
        raise
    if relay is None:
        return _threaded(stack, record, streams, site, last_event_id)
    waker = Waker()
    streams.add(waker)

    def release() -> None:
        streams.discard(waker)
        streams.release(site)

    frames = live_frames(
        record,
        stack.answers,
        relay,
        waker,
        heartbeat=settings.stream_heartbeat,
        capacity=settings.stream_queue_events,
        last_event_id=last_event_id,
    )
    return AdmittedStream(guarded(frames, record.id), release)


async def guarded(frames: AsyncGenerator[str, None], answer_id: str) -> AsyncIterator[str]:
    """frames, ended quietly on an error (the store failing under a heartbeat check, a bug): the headers
    are sent, so the client sees the stream end without "done" and reconnects (Last-Event-ID) or polls.
    However this ends (a client gone included), frames is closed at once: its subscription with it."""
    try:
        async for item in frames:
            yield item
    except Exception:
        log.exception("answer stream %s failed", answer_id)
    finally:
        await frames.aclose()


def refusal(cap: str) -> JSONResponse:
    metrics.SSE_STREAMS_REFUSED.labels(cap=cap).inc()
    if cap == "site":
        message = f"Trop de flux de réponses ouverts pour ce site : réessayez dans {RETRY_AFTER_S} s."
        response = error_response(429, "trop_de_flux_site", message)
    else:
        message = f"Trop de flux de réponses ouverts sur ce serveur : réessayez dans {RETRY_AFTER_S} s."
        response = error_response(503, "trop_de_flux", message)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _threaded(
    stack: Stack, record: AnswerRecord, streams: OpenStreams, site: str | None, last_event_id: str | None
) -> Response:
    """A stream read by a thread of its own (a stream backend without a tail: some tests' streams)."""
    stop = threading.Event()

    def frames() -> Generator[str, None, None]:
        return answer_frames(
            record,
            stack.answers,
            stack.answer_stream,
            stop=stop,
            heartbeat=stack.settings.stream_heartbeat,
            last_event_id=last_event_id,
        )

    return AdmittedStream(
        bridge(frames, stop, streams, name=f"sse-{record.id[:8]}"), lambda: streams.release(site)
    )


def _open(stack: Stack, answer_id: str, streams: OpenStreams) -> tuple[AnswerRecord, AnswerRelay | None]:
    record = stack.answers.get(answer_id)
    if record is None:
        raise answer_not_found(answer_id)
    # Built here, off the event loop, on the first stream of the process.
    return record, streams.relay(stack.answer_stream, stack.settings.answer_stream_retention)


async def bridge(
    make: Callable[[], Generator[str, None, None]], stop: threading.Event, streams: OpenStreams, *, name: str
) -> AsyncIterator[str]:
    """Runs make()'s frames in a daemon thread and yields them here; stop is set when this ends."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stop.set()

    def pump() -> None:
        try:
            frames = make()
            try:
                for item in frames:
                    if stop.is_set():
                        break
                    put(item)
            finally:
                frames.close()
        except Exception:
            # The client sees the stream end without "done": it reconnects (Last-Event-ID) or polls.
            log.exception("answer stream %s failed", name)
        finally:
            put(_END)

    streams.add(stop)
    threading.Thread(target=pump, name=name, daemon=True).start()
    try:
        while (item := await queue.get()) is not _END:
            yield str(item)
    finally:
        stop.set()
        streams.discard(stop)
