"""The frames of GET /v1/answers/{id}/stream served from this process's relay, on the event loop.

The same frames as api/sse.py's answer_frames() (which it reuses: frame ids, resume, reset, the stored
record as the last word), without a thread per stream: the relay pushes the answer's events into a
bounded subscription and wakes this coroutine. A client too slow for its queue is cut (SlowReader) and
resumes with Last-Event-ID; while the relay is down the answer store says when the answer is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator

from starlette.concurrency import run_in_threadpool

from guichet.answer.record import AnswerRecord
from guichet.answer.store import AnswerRepository
from guichet.api.sse import (
    KEEP_ALIVE,
    SINCE_SLACK_S,
    _final,
    _Relay,
    final_frames,
    frame,
    parse_last_event_id,
)
from guichet.ports.answer_stream import AnswerStreamError
from guichet.ports.answer_streams.relay import AnswerRelay, SlowReader, Subscription

log = logging.getLogger(__name__)

FINAL_GRACE_S = 0.5


class Waker:
    """Wakes one stream's coroutine from any thread: the relay's (an event) or a shutdown's (stop)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self.stopped = False

    def wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self.loop.call_soon_threadsafe(self.event.set)

    def set(self) -> None:
        """Stops the stream (OpenStreams.close_all at shutdown)."""
        self.stopped = True
        self.wake()

    async def sleep(self, seconds: float) -> bool:
        """Waits for a wake or seconds; True when woken (or stopped), False on timeout."""
        try:
            async with asyncio.timeout(seconds):
                await self.event.wait()
        except TimeoutError:
            return self.stopped
        return True


async def live_frames(
    record: AnswerRecord,
    answers: AnswerRepository,
    relay: AnswerRelay,
    waker: Waker,
    *,
    heartbeat: float,
    capacity: int,
    last_event_id: str | None = None,
) -> AsyncGenerator[str, None]:
    resume = parse_last_event_id(last_event_id)
    if record.final:
        for item in final_frames(record, replay=resume is None):
            yield item
        return
    yield frame("status", {"status": record.status, "attempt": record.attempt})
    state = _Relay(record, resume)  # kept across a re-subscription: what was sent is not sent again
    for attempt in (1, 2):
        try:
            # aclosing: a client gone closes this generator at a yield; the subscription goes at once.
            relayed = _relayed(record, answers, relay, state, waker, heartbeat, capacity)
            async with contextlib.aclosing(relayed) as items:
                async for item in items:
                    yield item
            return
        except SlowReader:
            log.info(
                "answer %s: client too slow for its stream, cut (it resumes with Last-Event-ID)", record.id
            )
            return
        except AnswerStreamError as exc:
            if attempt == 1:  # a broker blip: subscribe once more, a second later
                waker.event.clear()
                await waker.sleep(1.0)
                if waker.stopped:
                    return
                log.info("answer %s: live stream interrupted (%s), subscribing again", record.id, exc)
                continue
            log.warning("answer %s: live stream down (%s), waiting on the answer store", record.id, exc)
            async with contextlib.aclosing(_poll(record.id, answers, waker, heartbeat)) as items:
                async for item in items:
                    yield item
            return


async def _relayed(
    record: AnswerRecord,
    answers: AnswerRepository,
    relay: AnswerRelay,
    state: _Relay,
    waker: Waker,
    heartbeat: float,
    capacity: int,
) -> AsyncGenerator[str, None]:
    since = record.created_at - SINCE_SLACK_S
    with relay.open(record.id, since=since, wake=waker.wake, capacity=capacity) as sub:
        while not waker.stopped:
            waker.event.clear()
            events = sub.take()
            if not events:
                if await waker.sleep(heartbeat):
                    continue
                final = await run_in_threadpool(_final, answers, record.id)  # a "done" never published?
                if final is not None:
                    last, ended = await _last_events(sub, state, waker)
                    for item in last:
                        yield item
                    if ended:
                        return
                    for item in final_frames(final, replay=False):
                        yield item
                    return
                yield KEEP_ALIVE
                continue
            for event in events:
                relayed = state.frames_for(event)
                for item in relayed:
                    yield item
                if event.terminal:
                    if relayed:
                        return
                    # A skipped terminal event (a duplicate, a dead attempt's): the record ends it if final.
                    finished = await run_in_threadpool(_final_frames_of, answers, record.id)
                    if finished is not None:
                        for item in finished:
                            yield item
                        return


async def _last_events(sub: Subscription, state: _Relay, waker: Waker) -> tuple[list[str], bool]:
    """The store says the answer is final, but the relay may still be delivering its last events (a new
    attempt's reset, the last tokens: the tail runs a little behind the store). They get FINAL_GRACE_S to
    arrive, so that the client sees them before the record: their frames, and whether a relayed terminal
    event already ended the answer."""
    waker.event.clear()
    await waker.sleep(FINAL_GRACE_S)
    try:
        events = sub.take()
    except AnswerStreamError:
        return [], False
    out: list[str] = []
    for event in events:
        relayed = state.frames_for(event)
        out += relayed
        if event.terminal and relayed:
            return out, True
    return out, False


def _final_frames_of(answers: AnswerRepository, answer_id: str) -> list[str] | None:
    final = _final(answers, answer_id)
    return list(final_frames(final, replay=False)) if final is not None else None


async def _poll(
    answer_id: str, answers: AnswerRepository, waker: Waker, heartbeat: float
) -> AsyncGenerator[str, None]:
    while not waker.stopped:
        waker.event.clear()
        if await waker.sleep(heartbeat):
            continue  # a late wake of the subscription that failed, or a stop
        finished = await run_in_threadpool(_final_frames_of, answers, answer_id)
        if finished is not None:
            for item in finished:
                yield item
            return
        yield KEEP_ALIVE
