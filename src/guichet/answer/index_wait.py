"""Waiting out an index outage in the answer worker (issue 14: asks go on while the index is down).

The index (Weaviate, or the embedded index) can be unavailable for a while: a restart, a rolling update,
its locks held by another process. Asks keep being accepted (the functions do not need the index); the
worker that takes one retries its retrieval (1 s, doubling up to 10 s; cut short by stop, the job is
then handed back uncounted) instead of spending the job's delivery attempts, and answers as soon as the
index is back.

The bound (GUICHET_INDEX_OUTAGE_WAIT) is per outage, not per job: the outage starts with the first
failed search that any generation thread of this process sees, and ends with the first one that works.
Past the bound every job tries once and is recorded failed with a clear French reason (IndexOutage):
the asks queued during a long outage are told why at once, rather than each holding a slot for the
whole bound in turn.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from guichet.answer.generation import GenerationStopped
from guichet.ports.index import IndexBackendError

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 10.0
DEFAULT_OUTAGE_WAIT_S = 120.0
INDEX_DOWN_CODE = "index_indisponible"
INDEX_DOWN_MESSAGE = (
    "Les fiches de service-public.fr ne sont pas consultables en ce moment (index indisponible depuis "
    "{seconds} s) : la réponse n'a pas pu être produite. Réessayez dans quelques minutes ; si le problème "
    "persiste, signalez-le à l'équipe technique."
)


class IndexOutage(Exception):
    """The index has been unavailable for longer than the bound: the job fails with this reason."""

    def __init__(self, down_for: float, cause: BaseException) -> None:
        super().__init__(f"index indisponible depuis {down_for:.0f} s : {cause}")
        self.down_for = down_for

    @property
    def message(self) -> str:
        """What the answer record tells the advisor."""
        return INDEX_DOWN_MESSAGE.format(seconds=round(self.down_for))


class IndexWait:
    """Shared by the generation threads of one worker process (thread-safe)."""

    def __init__(
        self,
        bound_s: float = DEFAULT_OUTAGE_WAIT_S,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bound = bound_s
        self._stop = stop or threading.Event()
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None

    def run(self, call: Callable[[], T]) -> T:
        """call() (a retrieval), retried while the index is unavailable and the outage within the bound."""
        delay = FIRST_RETRY_S
        while True:
            started = self._clock()
            try:
                result = call()
            except IndexBackendError as exc:
                down_for = self._down(started)
                if down_for >= self._bound:
                    raise IndexOutage(down_for, exc) from exc
                log.warning("index unavailable for %.0f s (%s): retrying in %.0f s", down_for, exc, delay)
                if self._stop.wait(min(delay, self._bound - down_for)):
                    raise GenerationStopped("arrêt du worker pendant une panne de l'index") from exc
                delay = min(delay * 2, MAX_RETRY_S)
                continue
            self._up()
            return result

    def _down(self, started: float) -> float:
        """Seconds the index has been unavailable, counted from the start of the first failed call."""
        with self._lock:
            if self._down_since is None:
                self._down_since = started
                log.warning("index unavailable: answers wait for it up to %.0f s", self._bound)
            return self._clock() - self._down_since

    def _up(self) -> None:
        with self._lock:
            if self._down_since is not None:
                log.info("index available again after %.0f s", self._clock() - self._down_since)
            self._down_since = None
