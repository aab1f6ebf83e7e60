"""The OpenAI-compatible HTTP face of the simulated engine: what guichet and vLLM's clients call.

POST /v1/chat/completions (stream true/false, stream_options.include_usage honoured), GET /v1/models,
GET /metrics (vLLM names), GET /health. Errors and limits as vLLM 0.32 answers them (checked against
the real server in tests/contracts/test_llm_contract.py): a prompt over max_model_len gets a 400 (JSON,
even when streamed) that guichet maps to ContextTooLong; max_tokens over max_model_len another 400; a
prompt + max_tokens over max_model_len is not refused but cut at the context's end (finish_reason
"length"); an unknown model a 404.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from guichet.capacity.simulator.engine import Engine, Sequence
from guichet.capacity.simulator.filler import natural_length, tokens_text
from guichet.capacity.simulator.profile import Profile
from guichet.capacity.simulator.vllm_metrics import VllmMetrics

DEFAULT_MAX_TOKENS = 1024


def create_app(
    profile: Profile, *, speed: float = 1.0, stream_interval: int = 1, model_name: str = ""
) -> FastAPI:
    model = model_name or profile.model
    holder: dict[str, Any] = {}
    engine = Engine(
        profile,
        speed=speed,
        stream_interval=stream_interval,
        on_finish=lambda seq: holder["metrics"].finished(seq),
    )
    metrics = holder["metrics"] = VllmMetrics(engine, model)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(engine.run())
        yield
        task.cancel()

    app = FastAPI(title="guichet engine simulator", lifespan=lifespan)
    app.state.engine, app.state.metrics = engine, metrics

    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        card = {
            "id": model,
            "object": "model",
            "created": 0,
            "owned_by": "guichet-simulator",
            "max_model_len": profile.max_model_len,
        }
        return {"object": "list", "data": [card]}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Response:
        try:
            body = await request.json()
            prompt_chars = sum(len(str(m.get("content") or "")) for m in body["messages"])
            max_tokens = int(
                body.get("max_tokens") or body.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return _error(400, "messages est requis (liste de messages de chat)")
        prompt = profile.prompt_tokens(prompt_chars)
        refused = _refusal(body.get("model"), model, prompt, max_tokens, profile.max_model_len)
        if refused is not None:
            return refused
        room = min(max_tokens, profile.max_model_len - prompt)  # vLLM stops at the context's end
        natural = natural_length(profile.output_tokens)
        seq = Sequence(prompt, min(natural, room), "stop" if natural <= room else "length")
        metrics.prompt_tokens.inc(prompt)
        engine.submit(seq)
        reply = _Reply(model, seq)
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(_streamed(engine, reply, usage), media_type="text/event-stream")
        try:
            while seq.finish_reason is None:
                await seq.changed.wait()
                seq.changed.clear()
        finally:
            if seq.finish_reason is None:
                engine.cancel(seq)
        return JSONResponse(reply.whole())

    return app


class _Reply:
    """OpenAI's chat.completion(.chunk) bodies for one sequence."""

    def __init__(self, model: str, seq: Sequence) -> None:
        self.id, self.created, self.model, self.seq = (
            f"chatcmpl-{uuid.uuid4().hex}",
            int(time.time()),
            model,
            seq,
        )

    def chunk(self, delta: dict[str, str], finish: str | None = None, usage: bool = False) -> str:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
        }
        if usage:
            body["usage"] = self.usage()
        else:
            body["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def usage(self) -> dict[str, int]:
        done = self.seq.generated
        return {
            "prompt_tokens": self.seq.prompt_tokens,
            "completion_tokens": done,
            "total_tokens": self.seq.prompt_tokens + done,
        }

    def whole(self) -> dict[str, Any]:
        message = {"role": "assistant", "content": tokens_text(0, self.seq.generated)}
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.seq.finish_reason}],
            "usage": self.usage(),
        }


async def _streamed(engine: Engine, reply: _Reply, usage: bool) -> AsyncIterator[str]:
    seq, sent = reply.seq, 0
    try:
        yield reply.chunk({"role": "assistant", "content": ""})
        while True:
            await seq.changed.wait()
            seq.changed.clear()
            upto = seq.generated
            if upto > sent:
                yield reply.chunk({"content": tokens_text(sent, upto)})
                sent = upto
            if seq.finish_reason is not None:
                break
        yield reply.chunk({}, seq.finish_reason)
        if usage:
            yield reply.chunk({}, usage=True)
        yield "data: [DONE]\n\n"
    finally:
        if seq.finish_reason is None:
            engine.cancel(seq)  # the client left: free the slot as vLLM aborts the request


def _refusal(asked: Any, model: str, prompt: int, max_tokens: int, context: int) -> JSONResponse | None:
    """vLLM 0.32's error answer for this request, None when it would accept it (same wording)."""
    if asked and asked != model:
        message = f"The model `{asked}` does not exist. Valid aliases: {model}."
        return _error(404, message, "NotFoundError", "model")
    if max_tokens > context:
        message = (
            f"max_tokens={max_tokens} cannot be greater than max_model_len={context}. "
            f"Please request fewer output tokens. (parameter=max_tokens, value={max_tokens})"
        )
        return _error(400, message, param="max_tokens")
    if prompt >= context:  # not one token left for the answer
        message = (
            f"This model's maximum context length is {context} tokens. However, your prompt contains at "
            f"least {prompt} input tokens, which exceeds this limit even without any output tokens. Please "
            f"reduce the length of the input prompt. (parameter=input_tokens, value={prompt})"
        )
        return _error(400, message, param="input_tokens")
    return None


def _error(
    status: int, message: str, kind: str = "BadRequestError", param: str | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": status}}
    return JSONResponse(body, status_code=status)


@contextmanager
def serving(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """The app served by uvicorn in a thread (tests, scripts); yields its OpenAI base URL (…/v1)."""
    import uvicorn

    from guichet.testing.helpers import free_port, wait_for

    class _ThreadServer(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # not the main thread: no signal handlers

    port = port or free_port()
    server = _ThreadServer(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="simulator", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=30)
        yield f"http://{host}:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
