"""An OpenAI-compatible door: GET /v1/models, POST /v1/chat/completions (docs/decisions/0026).

Open WebUI and the other tools that speak the OpenAI API see guichet as one model, "guichet". A chat
completion is a question like POST /v1/ask: the last user message is the question, the earlier turns its
thread, and it goes through the same submission, ask queue, answer worker and guard. The route then
waits for the final record on the answer stream as the SSE route reads it (the process's relay, within
the open-stream caps; the answer store's final record ends it), at most settings.chat_wait seconds,
and returns it as Markdown plus the whole record under "guichet". Streaming sends keep-alive comments
while the worker writes, then the guarded answer: the draft's tokens are not relayed, because the guard
may still remove a fact and the final citations are renumbered, and a chat client cannot take back
what it was sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.answer.thread import NOT_DONE, UNKNOWN, text_thread
from guichet.api.access import openai_shaped
from guichet.api.ask import follow_up, site_of, submit
from guichet.api.errors import ApiError
from guichet.api.openai_render import answer_markdown, error_body, openai_error, referenced_answer
from guichet.api.openai_request import ChatRequestError, ParsedChat, parse_chat
from guichet.api.sse import answer_frames
from guichet.api.sse_live import Waker, live_frames
from guichet.api.stream import AdmittedStream, OpenStreams, bridge, refusal
from guichet.wiring import Stack

router = APIRouter(tags=["compatibilité OpenAI"])

MODEL_ID = "guichet"
MAX_CHAT_BODY_BYTES = 512 * 1024  # a whole conversation: clients send every earlier turn each time
KEEP_ALIVE = ": keep-alive\n\n"
NO_RETRY = {"x-should-retry": "false"}  # the official clients would otherwise ask the question again


class AnswerTimeout(Exception):
    pass


@router.get("/v1/models")
def list_models() -> dict[str, object]:
    """The one model this door serves."""
    return {"object": "list", "data": [_model()]}


@router.get("/v1/models/{model}", response_model=None)
def get_model(model: str) -> dict[str, object] | JSONResponse:
    if model != MODEL_ID:
        return openai_error(404, "modele_inconnu", f"Modèle inconnu : {model!r} (seul « guichet » existe).")
    return _model()


def _model() -> dict[str, object]:
    return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "guichet"}


CHAT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["model", "messages"],
                "properties": {
                    "model": {"type": "string", "enum": [MODEL_ID]},
                    "messages": {"type": "array", "items": {"type": "object"}},
                    "stream": {"type": "boolean"},
                    "metadata": {
                        "type": "object",
                        "properties": {"audience": {"type": "string"}, "situation": {"type": "string"}},
                    },
                },
            }
        }
    },
}


@router.post("/v1/chat/completions", response_model=None, openapi_extra={"requestBody": CHAT_BODY})
async def chat_completions(request: Request) -> Response:
    """The last user message answered as a question, its earlier turns as its thread."""
    stack: Stack = request.app.state.stack
    try:
        chat = parse_chat(await _read_body(request))
    except ChatRequestError as exc:
        return openai_error(exc.status, exc.code, exc.message, param=exc.param)
    # The wait for the answer holds a place among the replica's open streams, as an SSE stream does.
    site = site_of(request)
    streams: OpenStreams = request.app.state.open_streams
    settings = stack.settings
    refused = streams.admit(
        site or None, per_replica=settings.streams_per_replica, per_site=settings.streams_per_site
    )
    if refused is not None:
        return openai_shaped(refusal(refused))
    try:
        job = await run_in_threadpool(_submit, stack, chat, site)
    except BaseException as exc:
        streams.release(site or None)
        if isinstance(exc, ApiError):
            return openai_error(exc.status, exc.code, exc.message)
        raise
    record = AnswerRecord.queued(job)
    deadline = asyncio.get_running_loop().time() + settings.chat_wait
    if chat.stream:
        return AdmittedStream(
            _stream(request, stack, record, deadline), lambda: streams.release(site or None)
        )
    try:
        final = await _final(request, stack, record, deadline)
    except AnswerTimeout:
        return openai_error(504, "reponse_en_attente", _timeout_message(stack, job.id), headers=NO_RETRY)
    finally:
        streams.release(site or None)
    return JSONResponse(completion(final))


async def _read_body(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    too_big = ChatRequestError(
        413, "trop_volumineux", f"Requête trop volumineuse ({MAX_CHAT_BODY_BYTES} octets au plus)."
    )
    if length.isdigit() and int(length) > MAX_CHAT_BODY_BYTES:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_CHAT_BODY_BYTES:
            raise too_big
    return bytes(body)


def _submit(stack: Stack, chat: ParsedChat, site: str) -> AskJob:
    """The job of this chat's last question, with its thread, recorded and enqueued (api/ask.py)."""
    job = AskJob(
        new_answer_id(), chat.question, chat.audience or "particuliers", chat.situation,
        site=site, thread=text_thread(chat.earlier_questions),
    )  # fmt: skip
    previous = referenced_answer(chat.last_assistant)
    if previous is not None:
        try:
            job = follow_up(stack, job, previous, audience_given=chat.audience is not None)
        except ApiError as exc:
            # An answer purged since (retention) or never finished: the conversation goes on from its text.
            if exc.code not in (UNKNOWN, NOT_DONE):
                raise
    submit(stack, job)
    return job


async def _answer_frames(
    request: Request, stack: Stack, record: AnswerRecord
) -> tuple[AsyncGenerator[str, None] | AsyncIterator[str], Callable[[], None]]:
    """The answer's SSE frames as GET /v1/answers/{id}/stream reads them (api/stream.py): from this
    process's relay, or from a thread of their own for a stream without a tail; and their cleanup."""
    streams: OpenStreams = request.app.state.open_streams
    settings = stack.settings
    relay = await run_in_threadpool(streams.relay, stack.answer_stream, settings.answer_stream_retention)
    if relay is not None:
        waker = Waker()
        streams.add(waker)
        frames = live_frames(
            record, stack.answers, relay, waker,
            heartbeat=settings.stream_heartbeat, capacity=settings.stream_queue_events,
        )  # fmt: skip
        return frames, lambda: streams.discard(waker)
    stop = threading.Event()
    threaded = bridge(
        lambda: answer_frames(
            record, stack.answers, stack.answer_stream, stop=stop, heartbeat=settings.stream_heartbeat
        ),
        stop, streams, name=f"chat-{record.id[:8]}",
    )  # fmt: skip
    return threaded, stop.set


async def _frames_until_final(
    request: Request, stack: Stack, record: AnswerRecord, deadline: float
) -> AsyncGenerator[AnswerRecord | None, None]:
    """None at every frame of the answer's stream that is not final (a keep-alive for streaming
    clients), then the final record from the answer store; AnswerTimeout past the deadline."""
    frames, cleanup = await _answer_frames(request, stack, record)
    loop = asyncio.get_running_loop()
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AnswerTimeout
            try:
                frame = await asyncio.wait_for(anext(frames), remaining)
            except StopAsyncIteration:
                break
            except TimeoutError as exc:
                raise AnswerTimeout from exc
            if _kind(frame) in ("done", "error"):
                break
            yield None
        final = await run_in_threadpool(stack.answers.get, record.id)
        if final is None or not final.final:
            raise AnswerTimeout  # the stream ended first (this replica is shutting down)
        yield final
    finally:
        cleanup()
        await frames.aclose()  # type: ignore[union-attr]  # both kinds are async generators


def _kind(frame: str) -> str:
    for line in frame.splitlines():
        if line.startswith("event: "):
            return line.removeprefix("event: ")
    return ""


async def _final(request: Request, stack: Stack, record: AnswerRecord, deadline: float) -> AnswerRecord:
    async with aclosing(_frames_until_final(request, stack, record, deadline)) as items:
        async for item in items:
            if item is not None:
                return item
    raise AnswerTimeout


def completion(record: AnswerRecord) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{record.id}",
        "object": "chat.completion",
        "created": int(record.created_at),
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer_markdown(record)},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "guichet": record.to_dict(),
    }


def _chunk(record: AnswerRecord, delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
    body = {
        "id": f"chatcmpl-{record.id}",
        "object": "chat.completion.chunk",
        "created": int(record.created_at),
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _pieces(text: str) -> list[str]:
    """The Markdown in paragraph-sized pieces (each keeps its separator: joined, they are the text)."""
    pieces = [p + "\n\n" for p in text.split("\n\n")]
    pieces[-1] = pieces[-1].removesuffix("\n\n")
    return [p for p in pieces if p]


async def _stream(
    request: Request, stack: Stack, record: AnswerRecord, deadline: float
) -> AsyncIterator[str]:
    yield _chunk(record, {"role": "assistant", "content": ""})
    try:
        async with aclosing(_frames_until_final(request, stack, record, deadline)) as items:
            async for item in items:
                if item is None:
                    yield KEEP_ALIVE
                    continue
                for piece in _pieces(answer_markdown(item)):
                    yield _chunk(item, {"content": piece})
                yield _chunk(item, {}, "stop", guichet=item.to_dict())
                yield "data: [DONE]\n\n"
                return
    except AnswerTimeout:
        # Headers are sent: the error goes in the stream, where OpenAI's clients raise it.
        error = error_body(504, "reponse_en_attente", _timeout_message(stack, record.id))
        yield f"data: {json.dumps(error, ensure_ascii=False)}\n\n"


def _timeout_message(stack: Stack, answer_id: str) -> str:
    return (
        f"La réponse n'est pas prête après {stack.settings.chat_wait:.0f} s ; elle reste consultable "
        f"à /v1/answers/{answer_id}."
    )
