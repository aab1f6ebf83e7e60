"""Running the index worker: one consumer of MinIO bucket notifications on the index queue."""

from __future__ import annotations

import logging

from guichet import metrics
from guichet.indexing.handler import IndexEventHandler
from guichet.process.consumers import consume_in_thread, stop_on_signals
from guichet.settings import Settings
from guichet.wiring import Stack, build_stack

log = logging.getLogger(__name__)


class IndexWorkerCrashed(Exception):
    """The index worker's consumer thread died: the process exits non-zero to be restarted."""


def index_handler(stack: Stack) -> IndexEventHandler:
    return IndexEventHandler(stack.store, stack.indexer, max_document_bytes=stack.settings.max_document_bytes)


def run_index_worker(settings: Settings) -> None:
    stack = build_stack(settings)
    try:
        with stop_on_signals() as stop, metrics.worker_endpoint(settings, lambda q: stack.broker.depth(q)):
            log.info("index worker consuming %s", settings.index_queue)
            worker = consume_in_thread(stack.broker, settings.index_queue, index_handler(stack), stop)
            while worker.alive:
                worker.join(timeout=1.0)  # the main thread stays free to receive SIGTERM
            if worker.error is not None:
                raise IndexWorkerCrashed(f"le worker d'indexation s'est arrêté : {worker.error!r}")
    finally:
        stack.close()
