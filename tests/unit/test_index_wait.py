"""IndexWait (answer/index_wait.py): an index outage is retried within its bound, counted per outage
(shared by the worker's threads), and ends in IndexOutage, whose French message goes in the record.
The outage itself, through a real worker and a real index taken down: tests/faults/test_index_outage.py."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from guichet.answer.generation import GenerationStopped
from guichet.answer.handlers import AnswerJobHandler
from guichet.answer.index_wait import INDEX_DOWN_CODE, IndexOutage, IndexWait
from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.answer.store import AnswerRepository
from guichet.ports.answer_streams.local import LocalAnswerStream
from guichet.ports.index import IndexBackendError
from guichet.ports.records import Envelope
from guichet.ports.stores.local import LocalObjectStore


class Clock:
    """Monotonic time that moves only when waited on (or told to)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ClockedStop(threading.Event):
    """A stop event whose waits advance the clock instead of sleeping."""

    def __init__(self, clock: Clock, stop_after: float | None = None) -> None:
        super().__init__()
        self.clock, self.stop_after = clock, stop_after
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        self.clock.now += timeout or 0.0
        return self.stop_after is not None and self.clock.now >= self.stop_after


def down_for(clock: Clock, outage_s: float, call_s: float = 0.0) -> Callable[[], str]:
    """A search that fails (taking call_s) until the clock reaches outage_s."""

    def search() -> str:
        clock.now += call_s
        if clock.now < outage_s:
            raise IndexBackendError("index embarqué indisponible : locking protocol")
        return "résultats"

    return search


def test_an_outage_shorter_than_the_bound_is_waited_out() -> None:
    clock = Clock()
    stop = ClockedStop(clock)
    assert IndexWait(60.0, stop, clock).run(down_for(clock, 20.0)) == "résultats"
    assert stop.waits == [1.0, 2.0, 4.0, 8.0, 10.0]  # 1 s doubling, capped at 10 s


def test_past_the_bound_the_job_fails_with_its_reason() -> None:
    clock = Clock()
    wait = IndexWait(30.0, ClockedStop(clock), clock)
    with pytest.raises(IndexOutage) as raised:
        wait.run(down_for(clock, 1000.0, call_s=10.0))
    assert raised.value.down_for >= 30.0
    assert "index indisponible depuis" in raised.value.message
    assert "Réessayez" in raised.value.message


def test_the_bound_counts_per_outage_not_per_job() -> None:
    clock = Clock()
    wait = IndexWait(30.0, ClockedStop(clock), clock)
    with pytest.raises(IndexOutage):
        wait.run(down_for(clock, 1000.0, call_s=10.0))
    tried = clock.now
    with pytest.raises(IndexOutage):  # the next job tries once, without waiting the bound again
        wait.run(down_for(clock, 1000.0, call_s=10.0))
    assert clock.now - tried == 10.0
    assert wait.run(lambda: "de retour") == "de retour"  # the outage ends with a search that works
    assert wait.run(down_for(clock, clock.now + 3.0)) == "résultats"  # a new one is waited out again


def test_a_stop_during_the_wait_hands_the_job_back() -> None:
    clock = Clock()
    with pytest.raises(GenerationStopped):
        IndexWait(60.0, ClockedStop(clock, stop_after=3.0), clock).run(down_for(clock, 1000.0))


class DownAnswerer:
    def answer(self, *args: object) -> AnswerRecord:
        raise IndexOutage(125.0, IndexBackendError("Weaviate : échec de la recherche"))


def test_the_handler_records_the_outage_and_acks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    answers = AnswerRepository(LocalObjectStore(tmp_path / "answers"))
    job = AskJob(new_answer_id(), "Comment renouveler un passeport ?")
    answers.put(AnswerRecord.queued(job))
    stream = LocalAnswerStream(tmp_path / "events.sqlite3")
    handler = AnswerJobHandler(answers, stream, DownAnswerer(), max_deliveries=5)  # type: ignore[arg-type]
    handler(Envelope(job.to_json(), job.id))  # returns: acked, not retried
    stream.close()
    record = answers.get(job.id)
    assert record is not None and record.status == "failed" and record.error is not None
    assert record.error.code == INDEX_DOWN_CODE
    assert "index indisponible depuis 125 s" in record.error.message
