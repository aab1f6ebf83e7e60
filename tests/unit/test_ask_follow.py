"""follow(): how a local reader of an answer gives up, without stopping the process it runs in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from guichet.answer.record import AskJob, new_answer_id
from guichet.cli.ask_local import AskTimeout, follow


class QuietStream:
    """No event ever comes: only heartbeats (None), until the reader's own stop is set."""

    def __init__(self) -> None:
        self.stops: list[threading.Event] = []

    def subscribe(
        self, answer_id: str, *, since: float, stop: threading.Event, heartbeat: float = 15.0
    ) -> Iterator[None]:
        self.stops.append(stop)
        while not stop.wait(0.01):
            yield None


class NoRecord:
    def get(self, answer_id: str) -> None:
        return None


def run_follow(stop: threading.Event, timeout: float) -> QuietStream:
    stream = QuietStream()
    job = AskJob(new_answer_id(), "Question ?")
    answers: Any = NoRecord()
    with pytest.raises(AskTimeout):
        follow(answers, stream, job, lambda _t, _r: None, stop, timeout)  # type: ignore[arg-type]
    return stream


def test_a_timeout_ends_the_wait_but_leaves_the_callers_stop_unset() -> None:
    stop = threading.Event()
    stream = run_follow(stop, timeout=0.05)
    assert stream.stops and stream.stops[0] is not stop
    assert not stop.is_set()  # the demo server goes on serving after its example answer timed out


def test_the_callers_stop_ends_the_wait_long_before_the_timeout() -> None:
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    stream = run_follow(stop, timeout=3600)
    assert not stream.stops[0].is_set()  # given up because of stop, not because the hour went by
