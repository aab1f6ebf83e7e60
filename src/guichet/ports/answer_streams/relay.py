"""AnswerRelay: one reader of the whole answer stream per process, fanned out to its open subscriptions.

ADR 0007 first gave every SSE stream its own reader (a broker connection and a thread reading its whole
shard): the cost grew with streams × traffic. Here one tail (every shard, from one thread) reads each
event once, keeps the events of recent answers in memory and pushes each to the subscriptions of its
answer (docs/decisions/0019-answer-relay.md). So:

- A subscription whose `since` falls inside what the relay holds is served from memory, then live: the
  port's semantics (every event at or after `since`, in order), without a connection of its own.
- Anything older (an answer created before this relay started, or whose events were let go) falls back
  to the backend's own subscribe(), in a thread: rare, and as exact as before.
- Each subscription has a bounded queue. The relay never waits for a reader: a reader that lets its queue
  fill up is cut (SlowReader) and its client resumes with Last-Event-ID.
- When the tail fails (the broker went away), every subscription gets the AnswerStreamError, the relay
  reconnects from where it stopped (the tails resume at an exact position) and new subscriptions are
  refused until it has.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from guichet import metrics
from guichet.ports.answer_stream import DEFAULT_RETENTION_S, AnswerEvent, AnswerStream, AnswerStreamError

log = logging.getLogger(__name__)

# How far back the tail starts when the relay starts: answers created a little before this replica came
# up are still served from memory.
LOOKBACK_S = 60.0
# A finished answer's events stay this long (a reader that saw the record just before "done" was written
# still finds it); an answer quiet for IDLE_S (its worker died) is let go, and later readers of it fall
# back to a read of their own.
GRACE_S = 30.0
IDLE_S = 300.0
PRUNE_EVERY_S = 1.0
RECONNECT_S = (0.5, 1.0, 2.0, 5.0)
DEFAULT_QUEUE_EVENTS = 1024


class SlowReader(AnswerStreamError):
    """This subscription's queue filled up: it was cut so that the relay does not wait for it."""


class Tail(Protocol):
    """Every event of every answer, from the first one with ts ≥ start (the first call) and, when called
    again after an AnswerStreamError, from right after the last one it yielded. None when quiet (about
    once a second), so that the relay can look at its clock; returns once stop is set, or once its
    backend is closed (the relay then stops for good)."""

    def events(self, start: float, stop: threading.Event) -> Iterator[AnswerEvent | None]: ...

    def close(self) -> None: ...


class Subscription:
    """One reader's queue. The relay pushes from its thread; the reader take()s, woken by wake()."""

    def __init__(self, answer_id: str, since: float, capacity: int, wake: Callable[[], None]) -> None:
        self.answer_id = answer_id
        self.since = since
        self.capacity = capacity
        self._wake = wake
        self._lock = threading.Lock()
        self._items: deque[AnswerEvent] = deque()
        self._error: AnswerStreamError | None = None
        self._signalled = False
        self.closed = threading.Event()  # set by close(): ends a fallback read
        self._on_close: Callable[[Subscription], None] = lambda _s: None

    def push(self, event: AnswerEvent, *, catch_up: bool = False) -> bool:
        """False once the queue is full (the subscription is then cut); catch-up pushes are not bounded."""
        with self._lock:
            if self._error is not None:
                return False
            if len(self._items) >= self.capacity and not catch_up:
                self._error = SlowReader(f"lecteur trop lent ({self.capacity} événements en attente)")
                ok = False
            else:
                self._items.append(event)
                ok = True
            wake, self._signalled = not self._signalled, True
        if wake:
            self._wake()
        return ok

    def fail(self, error: AnswerStreamError) -> None:
        with self._lock:
            if self._error is None:
                self._error = error
            wake, self._signalled = not self._signalled, True
        if wake:
            self._wake()

    def take(self) -> list[AnswerEvent]:
        """What arrived since the last take (maybe nothing); once drained, the error that ended it."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._signalled = False
            error = self._error
        if not items and error is not None:
            raise error
        return items

    def close(self) -> None:
        self.closed.set()
        self._on_close(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@dataclass
class _Answer:
    events: list[AnswerEvent] = field(default_factory=list)
    last: float = field(default_factory=time.monotonic)
    ended: float | None = None  # monotonic time of its terminal event


class AnswerRelay:
    def __init__(
        self,
        fallback: AnswerStream,
        tail: Tail,
        *,
        retention: float = DEFAULT_RETENTION_S,
        lookback: float = LOOKBACK_S,
    ) -> None:
        self._fallback = fallback
        self._tail = tail
        self._retention = retention
        self._lookback = lookback
        self._lock = threading.Lock()
        self._answers: dict[str, _Answer] = {}
        self._dropped: dict[str, float] = {}  # answer id → when its events were let go (time.time())
        self._subs: dict[str, set[Subscription]] = {}
        self._covered_since: float | None = None  # None: the tail has not started
        self._down: AnswerStreamError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0

    def open(
        self, answer_id: str, *, since: float, wake: Callable[[], None], capacity: int = DEFAULT_QUEUE_EVENTS
    ) -> Subscription:
        """A subscription to answer_id's events at or after since.

        AnswerStreamError while the tail is down."""
        self._start()
        sub = Subscription(answer_id, since, capacity, wake)
        with self._lock:
            if self._down is not None:
                raise AnswerStreamError(f"relais du flux de réponses interrompu : {self._down}")
            if self._stop.is_set():
                raise AnswerStreamError("relais du flux de réponses arrêté")
            assert self._covered_since is not None
            if since < self._covered_since or answer_id in self._dropped:
                fallback = True
            else:
                fallback = False
                for event in self._answers.get(answer_id, _Answer()).events:
                    if event.ts >= since:
                        sub.push(event, catch_up=True)
                self._subs.setdefault(answer_id, set()).add(sub)
                sub._on_close = self._forget
        if fallback:
            metrics.RELAY_FALLBACK_READS.inc()
            threading.Thread(target=self._read_alone, args=(sub,), name="relay-fallback", daemon=True).start()
        return sub

    def subscribe(
        self, answer_id: str, *, since: float, stop: threading.Event, heartbeat: float = 15.0
    ) -> Iterator[AnswerEvent | None]:
        """The port's subscribe(), served by the relay (a blocking iterator, for threads)."""
        woken = threading.Event()
        with self.open(answer_id, since=since, wake=woken.set) as sub:
            quiet_since = time.monotonic()
            while not stop.is_set():
                woken.clear()
                events = sub.take()
                for event in events:
                    yield event
                    if event.terminal:
                        return
                if events:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= heartbeat:
                    yield None
                    quiet_since = time.monotonic()
                else:
                    woken.wait(min(0.2, heartbeat))

    def close(self) -> None:
        self._stop.set()
        self._tail.close()
        with self._lock:
            subs = [sub for group in self._subs.values() for sub in group]
            self._subs.clear()
        for sub in subs:
            sub.fail(AnswerStreamError("relais du flux de réponses arrêté"))

    # -- the tail's thread ---------------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            start = time.time() - self._lookback
            self._covered_since = start
            self._thread = threading.Thread(target=self._run, args=(start,), name="answer-relay", daemon=True)
            self._thread.start()

    def _run(self, start: float) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                for event in self._tail.events(start, self._stop):
                    if failures or self._down is not None:
                        failures = 0
                        self._set_down(None)
                        log.info("answer relay reading again")
                    if event is not None:
                        self._dispatch(event)
                    self._prune_now_and_then()
                if not self._stop.is_set():  # the tail ended by itself: its backend was closed
                    self._stop.set()
                    closed = AnswerStreamError("flux de réponses fermé")
                    self._set_down(closed)
                    self._fail_all(closed)
                return
            except AnswerStreamError as exc:
                log.warning("answer relay lost its stream (%s), reconnecting", exc)
                self._set_down(exc)
                self._fail_all(exc)
                self._stop.wait(RECONNECT_S[min(failures, len(RECONNECT_S) - 1)])
                failures += 1
            except Exception as exc:  # a bug must not end the relay silently: its readers would hang
                log.exception("answer relay failed")
                error = AnswerStreamError(f"relais du flux de réponses : {exc!r}")
                self._set_down(error)
                self._fail_all(error)
                self._stop.wait(RECONNECT_S[-1])

    def _dispatch(self, event: AnswerEvent) -> None:
        metrics.RELAY_LAG.observe(max(0.0, time.time() - event.ts))
        cut: list[Subscription] = []
        with self._lock:
            # An answer let go is not held again (its earlier events are gone: new readers of it read on
            # their own, see open), but its readers still open get what comes (a new attempt's events).
            if event.answer_id not in self._dropped:
                answer = self._answers.setdefault(event.answer_id, _Answer())
                answer.events.append(event)
                answer.last = time.monotonic()
                if event.terminal:
                    answer.ended = answer.last
            for sub in self._subs.get(event.answer_id, ()):
                if event.ts >= sub.since and not sub.push(event):
                    cut.append(sub)
            for sub in cut:
                self._subs[event.answer_id].discard(sub)
        for _sub in cut:
            metrics.SSE_STREAMS_CUT.labels("slow").inc()

    def _prune_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._last_prune < PRUNE_EVERY_S:
            return
        self._last_prune = now
        wall = time.time()
        with self._lock:
            for answer_id, answer in list(self._answers.items()):
                if (answer.ended is not None and now - answer.ended > GRACE_S) or now - answer.last > IDLE_S:
                    del self._answers[answer_id]
                    self._dropped[answer_id] = wall
            for answer_id, when in list(self._dropped.items()):
                if wall - when > self._retention:
                    del self._dropped[answer_id]
            metrics.RELAY_ANSWERS_HELD.set(len(self._answers))

    def _set_down(self, error: AnswerStreamError | None) -> None:
        with self._lock:
            self._down = error

    def _fail_all(self, error: AnswerStreamError) -> None:
        with self._lock:
            subs = [sub for group in self._subs.values() for sub in group]
            self._subs.clear()
        for sub in subs:
            sub.fail(error)

    def _forget(self, sub: Subscription) -> None:
        with self._lock:
            group = self._subs.get(sub.answer_id)
            if group is not None:
                group.discard(sub)
                if not group:
                    del self._subs[sub.answer_id]

    def _read_alone(self, sub: Subscription) -> None:
        """A subscription older than the relay's memory, read by the backend itself until done or closed."""
        try:
            for event in self._fallback.subscribe(
                sub.answer_id, since=sub.since, stop=sub.closed, heartbeat=1.0
            ):
                if event is not None and not sub.push(event):
                    metrics.SSE_STREAMS_CUT.labels("slow").inc()
                    return
        except AnswerStreamError as exc:
            sub.fail(exc)
        except Exception as exc:
            log.exception("fallback read of answer %s failed", sub.answer_id)
            sub.fail(AnswerStreamError(f"lecture du flux de réponses : {exc!r}"))


class RelayedAnswerStream:
    """The AnswerStream port over a relay: publish() goes to the backend, subscribe() through the relay."""

    def __init__(self, inner: AnswerStream, relay: AnswerRelay) -> None:
        self.inner = inner
        self.relay = relay

    def publish(self, event: AnswerEvent) -> None:
        self.inner.publish(event)

    def subscribe(
        self, answer_id: str, *, since: float, stop: threading.Event, heartbeat: float = 15.0
    ) -> Iterator[AnswerEvent | None]:
        return self.relay.subscribe(answer_id, since=since, stop=stop, heartbeat=heartbeat)

    def ping(self) -> bool:
        return self.inner.ping()

    def close(self) -> None:
        self.relay.close()
        self.inner.close()
