"""The embedded broker's consume loop: take the next message, hand it over, start again.

The loop survives the broker's own errors (e.g. "database is locked" when another process keeps a write
transaction longer than busy_timeout): the error is logged and waited out (1 s, doubling up to 30 s, cut
short by stop), and the loop carries on; only stop or close() ends it. While it waits for a message it
also settles what stop left unsettled and, every recovery_interval seconds, takes back the messages of
dead holders.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

from guichet.ports.broker import BrokerError, Handler
from guichet.ports.brokers._memory_holders import Holder
from guichet.ports.brokers._memory_outcomes import (
    ERROR_PAUSE_MAX_S,
    ERROR_PAUSE_MIN_S,
    STOP_CHECK_S,
    Outcomes,
    pause,
)
from guichet.ports.brokers._memory_schema import Row
from guichet.ports.brokers._memory_store import Store

log = logging.getLogger(__name__)


class Consumer:
    """Runs the consume() calls of one broker; they share its recovery schedule."""

    def __init__(
        self, store: Store, holder: Holder, outcomes: Outcomes, max_deliveries: int, recovery_interval: float
    ) -> None:
        self._store = store
        self._holder = holder
        self._outcomes = outcomes
        self._max_deliveries = max_deliveries
        self._recovery_interval = recovery_interval
        self._next_recovery = time.monotonic() + recovery_interval

    def run(self, queue: str, handler: Handler, stop: threading.Event) -> None:
        """Handle queue's messages one at a time until stop is set or the store closed."""
        wait = ERROR_PAUSE_MIN_S
        while not stop.is_set() and not self._store.closed:
            try:
                row = self._take(queue, stop)
            except (sqlite3.Error, BrokerError):
                if self._store.closed:
                    return
                log.exception("queue %r: embedded broker error, retrying in %.1f s", queue, wait)
                pause(self._store, wait, stop)
                wait = min(wait * 2, ERROR_PAUSE_MAX_S)
                continue
            wait = ERROR_PAUSE_MIN_S
            if row is None:
                return  # stopped or closed
            self._outcomes.handle(queue, row, handler, stop)

    def _take(self, queue: str, stop: threading.Event) -> Row | None:
        """Claim queue's next ready message, waiting for one; None once stopped or closed."""
        store = self._store
        with store.cond:
            while not stop.is_set() and not store.closed:
                self._outcomes.settle_deferred()
                if time.monotonic() >= self._next_recovery:
                    self._next_recovery = time.monotonic() + self._recovery_interval
                    store.recover(self._holder, self._max_deliveries)
                row = store.first_ready(queue)
                if row is not None and store.claim(row[0], self._holder.token):
                    return row
                if row is not None:
                    continue  # another process took it first
                store.cond.wait(STOP_CHECK_S)
        return None
