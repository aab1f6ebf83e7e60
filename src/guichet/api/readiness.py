"""GET /readyz: ready = what this process needs to serve its routes, checked within a bound.

The functions need the broker (POST /v1/ask publishes) and the answer store (every answer route); a
Weaviate or document-store blip must not take every replica out of the Service, so the index and the
document store are reported, never fatal. Each check runs in a small pool and the answer waits at most
DEADLINE_S: a check still running then counts as failed (and is not started twice: the next probe
waits on the same one), so a black-holed dependency never holds the probe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from guichet.wiring import Stack

DEADLINE_S = 1.8  # Kubernetes' probe timeout is 1 s by default; ours is set to 2 s, and must be
REQUIRED = ("broker", "answers")  # what the functions cannot serve without
REPORTED = ("store", "index")  # what only some routes need (documents, search): reported, not fatal


class Readiness:
    def __init__(self, stack: Stack) -> None:
        self._checks: dict[str, Callable[[], object]] = {
            "broker": lambda: stack.broker.ping(),
            "answers": lambda: stack.answers.ping(),
            "store": lambda: stack.store.ping(),
            "index": lambda: stack.index.ping(),
        }
        self._pool = ThreadPoolExecutor(len(self._checks), thread_name_prefix="guichet-readiness")
        self._running: dict[str, Future[bool]] = {}
        self._lock = threading.Lock()

    def check(self) -> dict[str, bool]:
        """Every check's outcome, within DEADLINE_S."""
        with self._lock:
            futures = {name: self._start(name) for name in self._checks}
        deadline = time.monotonic() + DEADLINE_S
        wait(list(futures.values()), timeout=max(0.0, deadline - time.monotonic()))
        return {name: f.done() and f.result() for name, f in futures.items()}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _start(self, name: str) -> Future[bool]:
        running = self._running.get(name)
        if running is None or running.done():
            running = self._running[name] = self._pool.submit(_passes, self._checks[name])
        return running


def _passes(check: Callable[[], object]) -> bool:
    try:
        result = check()
    except Exception:
        return False
    return result is None or bool(result)  # ping() returns None (broker) or a bool (stores, index)
