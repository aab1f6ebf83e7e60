"""Long-running HTTP processes: the all-in-one `serve`/`demo` (functions and both workers), the functions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from guichet.answer.record import AskJob, new_answer_id
from guichet.answer.worker import SHUTDOWN_MARGIN_S, answer_consumers, enqueue
from guichet.cli.ask_local import AskTimeout, follow
from guichet.cli.render import render_record
from guichet.corpus.model import SAMPLE_PREFIX
from guichet.indexing.bulk_ingest import ingest_into
from guichet.indexing.worker import index_handler
from guichet.process.consumers import Consumer, consume_in_thread, join_all, stop_on_signals
from guichet.process.edge import watch_broker_queues
from guichet.settings import Settings
from guichet.wiring import Stack, build_stack

log = logging.getLogger(__name__)

EXAMPLE_QUESTION = "Comment renouveler une carte d'identité périmée ?"
NO_LLM_HINT = (
    "\nAucun LLM configuré : les réponses sont composées d'extraits des fiches (mode extractif). Pour des "
    "réponses rédigées, pointez GUICHET_LLM_URL vers un serveur compatible OpenAI : vLLM "
    "(http://hôte:8000/v1), llama.cpp server, Ollama (http://localhost:11434/v1) ou l'API Albert "
    "(+ GUICHET_LLM_API_KEY, GUICHET_LLM_MODEL)."
)


class WorkerCrashed(Exception):
    """A consumer thread of `guichet serve` died: the process exits non-zero to be restarted."""


def sample_corpus_dir() -> Path:
    return Path(str(resources.files("guichet") / "samples" / "fiches"))


def serve_functions(settings: Settings, host: str, port: int) -> None:
    stack = build_stack(settings)
    try:
        with stop_on_signals() as stop:
            _run_http(stack, host, port, stop)
    finally:
        stack.close()


def serve_all(settings: Settings, host: str, port: int, *, demo: bool) -> None:
    """Functions, the index worker and the answer worker in one process: the embedded default."""
    stack = build_stack(settings)
    try:
        with stop_on_signals() as stop:
            if demo or stack.index.chunk_count() == 0:
                # Indexed inline, through a store that does not announce: no event backlog to replay.
                quiet = Stack(settings, embedder=stack.embedder, index=stack.index, announce_writes=False)
                report = ingest_into(quiet, [sample_corpus_dir()], prefix=SAMPLE_PREFIX, stop=stop)
                print(f"Corpus d'exemple : {report.summary()}", flush=True)
            worker = consume_in_thread(stack.broker, settings.index_queue, index_handler(stack), stop)
            workers = [worker, *answer_consumers(stack, stop)]
            if demo:
                _print_demo(stack, host, port, stop)
            if not settings.llm_url:
                print(NO_LLM_HINT, flush=True)
            _run_http(stack, host, port, stop, workers=workers)
            stop.set()
            # the jobs in hand finish and are acknowledged within one deadline, or are requeued
            join_all(workers, settings.llm_max_duration + SHUTDOWN_MARGIN_S)
            crashed = [c.error for c in workers if c.error is not None]
            if crashed:
                raise WorkerCrashed(f"un worker s'est arrêté : {crashed[0]!r}")
    finally:
        stack.close()


def _print_demo(stack: Stack, host: str, port: int, stop: threading.Event) -> None:
    """The newcomer sees the product answer once, through the real path (queue → worker → record).
    stop: a SIGTERM/SIGINT meanwhile ends the wait at once."""
    print(
        f"\nguichet est prêt : http://{host}:{port}  (page conseiller ; API : http://{host}:{port}/docs)",
        flush=True,
    )
    print(f"\nExemple — « {EXAMPLE_QUESTION} »\n", flush=True)
    job = AskJob(new_answer_id(), EXAMPLE_QUESTION)
    enqueue(stack, job)
    try:
        record = follow(stack.answers, stack.answer_stream, job, lambda _t, _r: None, stop, 300)
        print(render_record(record.to_dict()), flush=True)
    except AskTimeout:
        if not stop.is_set():
            print("(la réponse d'exemple tarde : elle restera consultable dans l'API)", flush=True)


def _run_http(
    stack: Stack, host: str, port: int, stop: threading.Event, *, workers: Sequence[Consumer] = ()
) -> None:
    """Serve until stop is set (by SIGTERM/SIGINT), then drain requests and return."""
    import uvicorn

    from guichet.api.app import create_app

    class Server(uvicorn.Server):
        # uvicorn re-raises the signal after its shutdown, killing the process before the workers
        # stop and the clients close; signals are ours (stop_on_signals), uvicorn just follows stop.
        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    app = create_app(stack, workers=workers)
    watch_broker_queues(stack)  # read by GET /metrics
    config = uvicorn.Config(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=30)
    server = Server(config)

    def follow_stop() -> None:
        stop.wait()
        app.state.open_streams.close_all()  # open SSE streams would hold the shutdown; clients resume
        server.should_exit = True

    threading.Thread(target=follow_stop, name="http-stop", daemon=True).start()
    server.run()
