"""A RabbitMQ memory alarm and the live answer stream (issue 14): a publish of a live answer event is
bounded by GUICHET_BROKER_BLOCKED_TIMEOUT, as an ask's is, instead of waiting for the alarm to clear.

The answer record is the truth and the stream a view: under the alarm the answer worker drops the events
it cannot publish (counted), finishes the generations it has in hand, stores their records and acks their
jobs; readers re-read the record when their stream goes quiet. Without the bound, the first token
published after the alarm held its generation until the alarm cleared: no record, no ack.

The alarm is raised on the tests' own node (tests/faults/rabbitmq_node.py), never on the shared one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from guichet.ports.answer_stream import AnswerEvent, AnswerStreamError
from guichet.ports.answer_streams.rabbitmq import RabbitMQAnswerStream
from guichet.testing.helpers import wait_for
from tests.faults.launched import Launch
from tests.faults.ledger import record_row
from tests.faults.rabbitmq_node import PrivateRabbitMQ

pytestmark = [pytest.mark.faults]

BLOCKED_TIMEOUT_S = 1.0
EVENTS = 20
# 20 publishes under the alarm: the first waits out the blocked timeout, the others are refused at once
# but for one probe a second, each bounded by that timeout too. Generous: it only bounds a failure.
PUBLISHES_BOUND_S = 15.0
GENERATIONS_BOUND_S = 90.0


def _event(answer_id: str, seq: int) -> AnswerEvent:
    return AnswerEvent(answer_id, 1, seq, "token", {"text": "x", "offset": seq}, time.time())


def test_live_event_publishes_are_bounded_under_an_alarm(
    private_rabbitmq: PrivateRabbitMQ, unique_name: Callable[[str], str]
) -> None:
    stream = RabbitMQAnswerStream(
        private_rabbitmq.url, shards=1, prefix=unique_name("live"), blocked_timeout=BLOCKED_TIMEOUT_S
    )
    stream.publish(_event("avant", 0))  # declared, and a pooled connection opened before the alarm
    outcomes: list[str] = []

    def publish_all() -> None:
        for seq in range(EVENTS):
            try:
                stream.publish(_event("pendant", seq))
                outcomes.append("publié")
            except AnswerStreamError:
                outcomes.append("refusé")

    private_rabbitmq.raise_memory_alarm()
    try:
        wait_for(private_rabbitmq.has_alarm, timeout=60, interval=0.5)
        started = time.monotonic()
        publisher = threading.Thread(target=publish_all, daemon=True)  # a hung publish must not hang pytest
        publisher.start()
        publisher.join(PUBLISHES_BOUND_S)
        elapsed = time.monotonic() - started
        assert not publisher.is_alive(), f"{len(outcomes)} of {EVENTS} publishes returned under the alarm"
    finally:
        private_rabbitmq.clear_memory_alarm()
    assert "refusé" in outcomes, outcomes  # the alarm was felt: not every event went through
    wait_for(lambda: _publishes(stream), timeout=60, interval=0.5)  # recovered by itself
    stream.close()
    print(f"{EVENTS} publishes under the alarm in {elapsed:.2f} s: {outcomes.count('refusé')} refused")


def _publishes(stream: RabbitMQAnswerStream) -> bool:
    try:
        stream.publish(_event("après", 0))
    except AnswerStreamError:
        return False
    return True


@pytest.mark.s3
def test_generations_under_way_finish_and_are_stored_during_an_alarm(
    launch: Launch, private_rabbitmq: PrivateRabbitMQ
) -> None:
    run = launch(
        "alarme mémoire RabbitMQ pendant les générations (flux en direct)",
        llm_delay=0.3,  # about 9 s a generation: the alarm goes off in the middle of both
        GUICHET_BROKER_BLOCKED_TIMEOUT=str(BLOCKED_TIMEOUT_S),
    )
    run.ask_many(2)  # both generations under way, streaming their tokens
    private_rabbitmq.raise_memory_alarm()
    try:
        raised = time.monotonic()
        wait_for(private_rabbitmq.has_alarm, timeout=60, interval=0.5)
        # Stored while the alarm is still on: the worker held nothing until it cleared.
        wait_for(lambda: all(map(run.ledger.final_versions, run.ledger.ids)), GENERATIONS_BOUND_S, 0.5)
        stored_s = time.monotonic() - raised
    finally:
        private_rabbitmq.clear_memory_alarm()
    wait_for(run.deployment.ready, timeout=60)
    row = run.ledger.settle()
    assert (row.accepted, row.answered) == (2, 2), row
    assert row.lost == 0 and row.duplicated == 0, row
    row.note = (
        f"both generations in flight finished and were stored {stored_s:.1f} s after the alarm, "
        "while it lasted (live events dropped, counted); before: held until it cleared"
    )
    record_row(row)
