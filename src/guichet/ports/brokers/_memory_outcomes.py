"""What becomes of a message the embedded broker handed to a handler, and how that reaches the file.

delivery_count is the number of earlier counted deliveries (0 the first time): the message's attempt
header plus the crashes recovered since (see _memory_schema.deliveries); a message whose delivery number
max_deliveries fails is dead-lettered, its reason naming the error. A failed message is republished at
the tail with its attempt header, invisible until min(retry_backoff * 2**delivery_count,
max_retry_backoff) seconds have passed (ready_at), like RabbitMQ's delay queues: the consuming thread
goes on with other messages meanwhile, and join() still counts it. Requeue hands a message back at once,
uncounted.

The outcome (ack, requeue, dead letter) is retried while SQLite fails (1 s, doubling up to 30 s, cut
short by stop), never dropped; when stop comes first it is kept and applied by the next take or close()
(if it never is, the message stays taken and is recovered, one delivery later, once this broker is
closed or its process gone).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

from guichet.ports.broker import Handler, Reject, Requeue, limit_reason, retry_delay
from guichet.ports.brokers._memory_schema import Outcome, Row, envelope
from guichet.ports.brokers._memory_store import Store

log = logging.getLogger(__name__)

# consume() cannot be woken by the caller's stop Event, so it re-checks it this often while idle.
STOP_CHECK_S = 0.1
ERROR_PAUSE_MIN_S, ERROR_PAUSE_MAX_S = 1.0, 30.0


class Outcomes:
    """Runs a handler on a taken message and stores the outcome, whatever SQLite's mood."""

    def __init__(
        self, store: Store, max_deliveries: int, retry_backoff: float, max_retry_backoff: float
    ) -> None:
        self._store = store
        self._max_deliveries = max_deliveries
        self._retry_backoff = retry_backoff
        self._max_retry_backoff = max_retry_backoff
        self.unsettled: list[Outcome] = []  # outcomes stop caught before sqlite accepted them

    def handle(self, queue: str, row: Row, handler: Handler, stop: threading.Event) -> None:
        message = envelope(row)
        try:
            handler(message)
        except Reject as exc:
            log.info("message %s rejected: %s", row[2], exc.reason)
            self._settle(Outcome(queue, row, "dead", dead_reason=exc.reason), stop)
        except Requeue as exc:
            log.info("message %s handed back: %s", row[2], exc.reason)
            self._settle(Outcome(queue, row, "requeue"), stop)
        except Exception as exc:
            attempts = message.delivery_count + 1
            if attempts >= self._max_deliveries:
                log.exception("message %s: failed on delivery %d, dead-lettered", row[2], attempts)
                self._settle(Outcome(queue, row, "dead", dead_reason=limit_reason(attempts, exc)), stop)
            else:
                delay = retry_delay(message.delivery_count, self._retry_backoff, self._max_retry_backoff)
                log.warning(
                    "message %s: failed on delivery %d, retried in %.1f s",
                    row[2],
                    attempts,
                    delay,
                    exc_info=True,
                )
                self._settle(Outcome(queue, row, "retry", delay=delay), stop)
        else:
            self._settle(Outcome(queue, row), stop)

    def settle_deferred(self) -> None:
        """Apply the outcomes that stop caught earlier (the caller holds the store's lock)."""
        while self.unsettled:
            self._store.apply(self.unsettled[0])
            self.unsettled.pop(0)

    def _settle(self, outcome: Outcome, stop: threading.Event) -> None:
        """Store outcome, retrying while sqlite fails: never dropped (see the module docstring)."""
        store = self._store
        wait = ERROR_PAUSE_MIN_S
        while True:
            try:
                with store.cond:
                    if store.closed:
                        return  # the message stays taken in the file and is recovered by the next holder
                    store.apply(outcome)
                return
            except sqlite3.Error:
                if stop.is_set() or store.closed:
                    log.exception("message %s: outcome not recorded, postponed", outcome.row[2])
                    with store.cond:
                        self.unsettled.append(outcome)
                    return
                log.exception("message %s: outcome not recorded, retrying in %.1f s", outcome.row[2], wait)
                pause(store, wait, stop)
                wait = min(wait * 2, ERROR_PAUSE_MAX_S)


def pause(store: Store, delay: float, stop: threading.Event) -> None:
    """Wait delay seconds; stop (or the store's closing) ends the wait at once (or nearly)."""
    deadline = time.monotonic() + delay
    while not store.closed:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or stop.wait(min(remaining, STOP_CHECK_S)):
            return
