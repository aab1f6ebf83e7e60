"""The frames of GET /v1/answers/{id}/stream, as a plain generator (no HTTP: the route runs it in a thread).

Every frame is `event: <kind>` + `data: <JSON>`, with `id: <attempt>-<seq>` for relayed events, so a
client reconnecting with Last-Event-ID resumes after the last one it saw. Frames built from the final
record carry `id: <attempt>-final`. Token data is {"text", "offset"}: a client sets its draft to
draft[:offset] + text, which makes a replayed token harmless. A `status` frame with "reset": true tells
it to discard its draft (a newer attempt starts over); `done` carries the whole record and always wins.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Generator, Iterator
from typing import Any

from guichet.answer.record import AnswerRecord
from guichet.answer.store import AnswerRepository
from guichet.ports.answer_stream import AnswerEvent, AnswerStream, AnswerStreamError

log = logging.getLogger(__name__)

KEEP_ALIVE = ": keep-alive\n\n"
# Subscriptions start a little before the record's creation: replicas' clocks may differ slightly.
SINCE_SLACK_S = 5.0
Resume = tuple[int, int]
_EVENT_ID = re.compile(r"([0-9]{1,9})-([0-9]{1,9})")
_LINE_SEPARATORS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"})
FAILED = {"code": "echec", "message": "La réponse a échoué."}


def frame(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    # One line: json.dumps escapes \n and \r, the only line breaks of the SSE syntax; the Unicode ones are
    # escaped too, for clients that split lines with str.splitlines() (httpx's iter_lines does).
    payload = json.dumps(data, ensure_ascii=False).translate(_LINE_SEPARATORS)
    return f"{head}event: {event}\ndata: {payload}\n\n"


def parse_last_event_id(value: str | None) -> Resume | None:
    """ "2-17" → (2, 17). Any other non-empty value (a "-final" id) → (0, -1): the client holds something."""
    if not value:
        return None
    match = _EVENT_ID.fullmatch(value.strip())
    return (int(match[1]), int(match[2])) if match else (0, -1)


def final_frames(record: AnswerRecord, *, replay: bool) -> Iterator[str]:
    """The terminal frame for a final record; replay: first status, the whole answer and its sources."""
    data = record.to_dict()
    final_id = f"{record.attempt}-final"
    if replay:
        yield frame("status", {"status": record.status, "attempt": record.attempt}, final_id)
        if record.answer:
            yield frame("token", {"text": record.answer, "offset": 0}, final_id)
        if record.status == "done":
            yield frame("sources", {"sources": data["sources"]}, final_id)
    if record.status == "done":
        yield frame("done", data, final_id)
    else:
        yield frame("error", data.get("error") or FAILED, final_id)


class _Relay:
    """Which events the client still needs, and whether its draft must be discarded first."""

    def __init__(self, record: AnswerRecord, resume: Resume | None) -> None:
        self.seen: set[tuple[int, int]] = set()
        self.resume = resume
        # Attempts older than the record's are dead: their events would only be discarded later.
        self.floor = max(record.attempt, resume[0] if resume else 0)
        self.draft_attempt: int | None = resume[0] if resume else None

    def frames_for(self, event: AnswerEvent) -> list[str]:
        key = (event.attempt, event.seq)
        if key in self.seen or event.attempt < self.floor or (self.resume and key <= self.resume):
            self.seen.add(key)
            return []
        self.seen.add(key)
        self.floor = event.attempt
        out = []
        if self.draft_attempt is not None and event.attempt > self.draft_attempt:
            out.append(frame("status", {"status": "restarted", "attempt": event.attempt, "reset": True}))
            self.draft_attempt = None
        out.append(frame(event.kind, event.data, f"{event.attempt}-{event.seq}"))
        if event.kind == "token":
            self.draft_attempt = event.attempt
        return out


def answer_frames(
    record: AnswerRecord,
    answers: AnswerRepository,
    stream: AnswerStream,
    *,
    stop: threading.Event,
    heartbeat: float,
    last_event_id: str | None = None,
) -> Generator[str, None, None]:
    """Every frame the client needs, from whenever it connects, until the answer is final or stop is set."""
    resume = parse_last_event_id(last_event_id)
    if record.final:
        yield from final_frames(record, replay=resume is None)
        return
    yield frame("status", {"status": record.status, "attempt": record.attempt})
    relay = _Relay(record, resume)  # kept across a re-subscription: what was sent is not sent again
    for attempt in (1, 2):
        try:
            yield from _relay(record, answers, stream, relay, stop, heartbeat)
            return
        except AnswerStreamError as exc:
            if attempt == 1 and not stop.wait(1.0):  # a broker blip: subscribe once more
                log.info("answer %s: live stream interrupted (%s), subscribing again", record.id, exc)
                continue
            # The stream is down: the record still says when the answer is ready, just not live.
            log.warning("answer %s: live stream down (%s), waiting on the answer store", record.id, exc)
            yield from _poll(record.id, answers, stop, heartbeat)
            return


def _relay(
    record: AnswerRecord,
    answers: AnswerRepository,
    stream: AnswerStream,
    relay: _Relay,
    stop: threading.Event,
    heartbeat: float,
) -> Iterator[str]:
    since = record.created_at - SINCE_SLACK_S
    while not stop.is_set():
        for event in stream.subscribe(record.id, since=since, stop=stop, heartbeat=heartbeat):
            if event is None:
                final = _final(answers, record.id)  # also covers a "done" that was never published
                if final is not None:
                    yield from final_frames(final, replay=False)
                    return
                yield KEEP_ALIVE
                continue
            frames = relay.frames_for(event)
            yield from frames
            if frames and event.terminal:
                return
        # The subscription ended on a terminal event we skipped (a duplicate, a dead attempt's) or on stop.
        if stop.is_set():
            return
        final = _final(answers, record.id)
        if final is not None:
            yield from final_frames(final, replay=False)
            return
        if not stop.wait(heartbeat):
            yield KEEP_ALIVE


def _poll(
    answer_id: str, answers: AnswerRepository, stop: threading.Event, heartbeat: float
) -> Iterator[str]:
    while not stop.wait(heartbeat):
        final = _final(answers, answer_id)
        if final is not None:
            yield from final_frames(final, replay=False)
            return
        yield KEEP_ALIVE


def _final(answers: AnswerRepository, answer_id: str) -> AnswerRecord | None:
    record = answers.get(answer_id)
    return record if record is not None and record.final else None
