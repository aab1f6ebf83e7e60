"""Long-running consumers: signal handling and graceful stop around Broker.consume."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from guichet.ports.broker import Broker, Handler

log = logging.getLogger(__name__)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM/SIGINT set the event: the consumer stops taking work, finishes the current job, returns."""
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def request_stop(signum: int, _frame: object) -> None:
        log.info("signal %s received: finishing the current job, then stopping", signum)
        stop.set()

    for sig in previous:
        signal.signal(sig, request_stop)
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Consumer:
    """A consumer thread that fails loudly: if consume() ever raises, the whole process stops (stop is
    set) with the error kept, so that an orchestrator restarts it rather than serving without a worker."""

    def __init__(
        self, broker: Broker, queue: str, handler: Handler, stop: threading.Event, *, prefetch: int = 1
    ) -> None:
        self.error: BaseException | None = None
        self._args = (broker, queue, handler, stop, prefetch)
        self._thread = threading.Thread(target=self._run, name=f"consumer:{queue}", daemon=True)

    def start(self) -> Consumer:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        broker, queue, handler, stop, prefetch = self._args
        try:
            broker.consume(queue, handler, stop=stop, prefetch=prefetch)
        except BaseException as exc:
            log.exception("consumer of %s crashed: stopping the process", queue)
            self.error = exc
            stop.set()


def consume_in_thread(
    broker: Broker, queue: str, handler: Handler, stop: threading.Event, *, prefetch: int = 1
) -> Consumer:
    return Consumer(broker, queue, handler, stop, prefetch=prefetch).start()


def join_all(consumers: Sequence[Consumer], timeout: float) -> list[Consumer]:
    """Wait for every consumer to finish its job in hand, within one overall deadline (not one per
    consumer: N generations finishing in parallel take as long as the longest). Returns the consumers
    still running at the deadline; the process may exit anyway, RabbitMQ then requeues their jobs when
    their connections close, and another worker answers them (the answer worker is idempotent)."""
    deadline = time.monotonic() + timeout
    for consumer in consumers:
        consumer.join(timeout=max(0.0, deadline - time.monotonic()))
    late = [c for c in consumers if c.alive]
    if late:
        log.warning(
            "%d consumer(s) still busy at the deadline: their messages will be requeued",
            len(late),
        )
    return late
