"""GET /v1/answers/{id}/stream: server-sent events, relayed from the answer stream by a thread of their own.

The port's subscribe() blocks; each open stream gets a daemon thread (not a slot of the shared thread
pool, which the plain handlers such as POST /v1/ask need) whose frames reach the event loop through an
asyncio queue. When the client goes away, the stop event ends that thread and its backend connection.
At shutdown, OpenStreams.close_all() ends every open stream (its clients reconnect elsewhere with
Last-Event-ID), so that the server's graceful drain does not wait for answers still to come.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Generator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from guichet.answer.record import AnswerRecord
from guichet.api.answers import answer_not_found
from guichet.api.errors import ErrorBody
from guichet.api.sse import answer_frames
from guichet.wiring import Stack

router = APIRouter(tags=["réponses"])
log = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_END = object()


class OpenStreams:
    """The stop events of this application's open streams."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stops: set[threading.Event] = set()
        self._closing = False

    def add(self, stop: threading.Event) -> None:
        with self._lock:
            self._stops.add(stop)
            if self._closing:
                stop.set()

    def discard(self, stop: threading.Event) -> None:
        with self._lock:
            self._stops.discard(stop)

    def close_all(self) -> None:
        with self._lock:
            self._closing = True
            for stop in self._stops:
                stop.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._stops)


@router.get(
    "/v1/answers/{answer_id}/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Événements status, token, sources, done, error (id : <tentative>-<numéro>)",
        },
        404: {"model": ErrorBody, "description": "Identifiant inconnu"},
    },
)
async def stream_answer(
    request: Request,
    answer_id: str,
    last_event_id: Annotated[str | None, Header(description="Reprise après cet événement")] = None,
) -> StreamingResponse:
    stack: Stack = request.app.state.stack
    record = await run_in_threadpool(_open, stack, answer_id)
    stop = threading.Event()
    streams: OpenStreams = request.app.state.open_streams

    def frames() -> Generator[str, None, None]:
        return answer_frames(
            record,
            stack.answers,
            stack.answer_stream,
            stop=stop,
            heartbeat=stack.settings.stream_heartbeat,
            last_event_id=last_event_id,
        )

    return StreamingResponse(
        bridge(frames, stop, streams, name=f"sse-{record.id[:8]}"),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


def _open(stack: Stack, answer_id: str) -> AnswerRecord:
    record = stack.answers.get(answer_id)
    if record is None:
        raise answer_not_found(answer_id)
    _ = stack.answer_stream  # built here, off the event loop, on the first stream of the process
    return record


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
