"""The worker's side of the live answer stream: numbered events for one attempt of one answer.

Live events are a convenience for readers; the answer record in the answer store is the truth. A publish
that fails is counted (and logged once per answer attempt), never fatal: the generation goes on, its
record is stored and its job acked as usual, and a reader that missed events re-reads the record when its
stream goes quiet (see api/sse.py). Under a RabbitMQ resource alarm a publish fails within
GUICHET_BROKER_BLOCKED_TIMEOUT, then at once while the alarm lasts (answer_streams/rabbitmq.py): a
generation is slowed by that bound, never held until the alarm clears.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from guichet import metrics
from guichet.answer.record import AnswerRecord
from guichet.ports.answer_stream import AnswerEvent, AnswerStream, AnswerStreamError, EventKind

log = logging.getLogger(__name__)


class EventWriter:
    def __init__(self, stream: AnswerStream, answer_id: str, attempt: int) -> None:
        self._stream = stream
        self.answer_id = answer_id
        self.attempt = attempt
        self._seq = 0
        self._offset = 0
        self._failed = 0  # events not published: logged at the first only (an alarm fails every token)

    def emit(self, kind: EventKind, data: dict[str, Any]) -> None:
        event = AnswerEvent(self.answer_id, self.attempt, self._seq, kind, data, time.time())
        self._seq += 1
        try:
            self._stream.publish(event)
        except AnswerStreamError as exc:
            metrics.STREAM_PUBLISH_ERRORS.inc()
            self._failed += 1
            if self._failed == 1:
                log.warning("event %s of answer %s not published (%s)", kind, self.answer_id, exc)

    def token(self, text: str) -> None:
        if not text:
            return
        self.emit("token", {"text": text, "offset": self._offset})
        self._offset += len(text)

    def restart_draft(self, reason: str) -> None:
        """The draft streamed so far is void (the model failed mid-answer): readers discard it."""
        self.emit("status", {"status": "restarted", "attempt": self.attempt, "reset": True, "reason": reason})
        self._offset = 0

    @property
    def streamed_chars(self) -> int:
        return self._offset

    def final(self, record: AnswerRecord) -> None:
        if record.status == "done":
            self.emit("done", record.to_dict())
        elif record.error is not None:
            self.emit("error", {"code": record.error.code, "message": record.error.message})
