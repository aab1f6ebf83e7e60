"""join_all: one deadline for every consumer finishing its job in hand after SIGTERM."""

from __future__ import annotations

import threading

from guichet.ports.broker import Handler
from guichet.ports.brokers.memory import MemoryBroker
from guichet.process.consumers import consume_in_thread, join_all


class BusyBroker(MemoryBroker):
    """A consumer whose job in hand ends only when `release` is set (a long generation)."""

    def __init__(self, release: threading.Event) -> None:
        super().__init__(None)
        self.release = release

    def consume(self, queue: str, handler: Handler, *, stop: threading.Event, prefetch: int = 1) -> None:
        stop.wait()
        self.release.wait()


def test_join_all_returns_the_consumers_still_busy_at_the_deadline() -> None:
    stop, finished, stuck = threading.Event(), threading.Event(), threading.Event()
    finished.set()
    done = consume_in_thread(BusyBroker(finished), "q", lambda envelope: None, stop)
    busy = consume_in_thread(BusyBroker(stuck), "q", lambda envelope: None, stop)
    stop.set()
    try:
        assert join_all([busy, done], timeout=0.3) == [busy]
        assert not done.alive and busy.alive
    finally:
        stuck.set()
    assert join_all([busy, done], timeout=5) == []
