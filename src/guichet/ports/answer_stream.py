"""Answer stream port: the live events of each answer, readable from any function replica.

The answer worker publishes; any replica serving GET /v1/answers/{id}/stream subscribes. Data flows one
way (worker → stream → reader); the durable answer record stays in the answer store.

Implementations: answer_streams/local.py (SQLite file in the data folder: the embedded default, works
across processes sharing the folder), answer_streams/rabbitmq.py (RabbitMQ streams, sharded by answer id,
read from a timestamp offset).

Semantics every implementation honours (tests/contracts/test_answer_stream_contract.py):
- publish(event) returns once the event is stored (RabbitMQ: confirmed); it is thread-safe (the answer
  worker publishes from several generation threads). Raises AnswerStreamError otherwise.
- subscribe(answer_id, since=t, ...) yields, in publish order, every event of answer_id published at or
  after wall-clock time t (seconds since the epoch; readers pass the job's creation time), including the
  events published before the call: a reader that arrives late misses nothing. Events of other answers
  are never yielded. When nothing arrives for `heartbeat` seconds it yields None (the reader uses it to
  check the answer store and to keep the HTTP connection alive). It returns after yielding a terminal
  event (kind "done" or "error") or once stop is set.
- Events are kept at least `retention` seconds (constructor parameter, 1 hour by default); a reader
  arriving later reads the final record from the answer store instead.
- Duplicates may happen (a worker republishes "done" on redelivery): readers skip an event whose
  (attempt, seq) they have already seen.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

EventKind = Literal["status", "token", "sources", "done", "error"]
TERMINAL_KINDS: frozenset[str] = frozenset({"done", "error"})
DEFAULT_RETENTION_S = 3600.0


class AnswerStreamError(Exception):
    """The stream backend could not be reached or did not confirm a publish."""


@dataclass(frozen=True)
class AnswerEvent:
    """One event of one answer.

    attempt: the delivery number of the job that produced it (1, then 2 if a worker died mid-answer:
    a reader seeing a higher attempt tells its client to discard the draft).
    seq: the event's number within its attempt, from 0, without gaps.
    data: the SSE payload ("token": {"text", "offset"}, "status": {"status", ...}, "done": the record).
    """

    answer_id: str
    attempt: int
    seq: int
    kind: EventKind
    data: dict[str, Any]
    ts: float

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL_KINDS

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "answer_id": self.answer_id,
                "attempt": self.attempt,
                "seq": self.seq,
                "kind": self.kind,
                "data": self.data,
                "ts": self.ts,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes) -> AnswerEvent:
        raw = json.loads(body)
        return cls(
            raw["answer_id"], int(raw["attempt"]), int(raw["seq"]), raw["kind"], raw["data"], float(raw["ts"])
        )


class AnswerStream(Protocol):
    def publish(self, event: AnswerEvent) -> None: ...

    def subscribe(
        self, answer_id: str, *, since: float, stop: threading.Event, heartbeat: float = 15.0
    ) -> Iterator[AnswerEvent | None]: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...
