"""Long-running consumers: signal handling and graceful stop around Broker.consume."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
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


def consume_in_thread(
    broker: Broker, queue: str, handler: Handler, stop: threading.Event, *, prefetch: int = 1
) -> threading.Thread:
    def run() -> None:
        broker.consume(queue, handler, stop=stop, prefetch=prefetch)

    thread = threading.Thread(target=run, name=f"consumer:{queue}", daemon=True)
    thread.start()
    return thread
