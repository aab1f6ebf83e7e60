"""A RabbitMQ memory alarm while asks are in flight (issue 14, defect 5): POST /v1/ask and /readyz answer
503 file_indisponible within 2 s instead of hanging, every ask accepted is answered once, and the
deployment recovers by itself when the alarm clears.

RabbitMQ reads a connection's first publish before blocking it: an ask sent on a fresh connection during
the alarm may still be accepted (202, confirmed, durable). So asks during the alarm are refused or
accepted, never anything else, and every accepted one is answered.

The alarm is raised on the tests' own node (tests/faults/rabbitmq_node.py), never on the shared one.
"""

from __future__ import annotations

import time

import pytest

from guichet.testing.helpers import wait_for
from tests.deployment import QUESTION
from tests.faults.launched import Launch
from tests.faults.ledger import record_row
from tests.faults.rabbitmq_node import PrivateRabbitMQ

pytestmark = [pytest.mark.faults, pytest.mark.s3]

BOUND_S = 2.0
DURING = 6


def test_a_memory_alarm_refuses_asks_quickly_and_loses_none(
    launch: Launch, private_rabbitmq: PrivateRabbitMQ
) -> None:
    run = launch(
        "alarme mémoire RabbitMQ, demandes en cours", llm_delay=0.03, GUICHET_BROKER_BLOCKED_TIMEOUT="1.0"
    )
    run.ask_many(4)  # generations under way when the alarm goes off
    private_rabbitmq.raise_memory_alarm()
    try:
        wait_for(private_rabbitmq.has_alarm, timeout=60, interval=0.5)
        asks: list[tuple[int, float]] = []
        for n in range(DURING):
            started = time.monotonic()
            asks.append((run.ledger.submit(f"{QUESTION} (pendant l'alarme {n})"), time.monotonic() - started))
        started = time.monotonic()
        ready = run.deployment.readyz()
        readyz_s = time.monotonic() - started
    finally:
        private_rabbitmq.clear_memory_alarm()
    wait_for(run.deployment.ready, timeout=60)  # by itself: nothing restarted
    run.ask_many(3)
    row = run.ledger.settle()
    assert {status for status, _ in asks} <= {202, 503} and row.refused >= DURING - 1, asks
    slowest = max(seconds for _, seconds in asks)
    assert slowest <= BOUND_S, f"an ask took {slowest:.2f} s under the alarm"
    assert ready.status_code == 503 and ready.json()["error"]["code"] == "file_indisponible"
    assert readyz_s <= BOUND_S, f"/readyz took {readyz_s:.2f} s under the alarm"
    assert row.lost == 0 and row.duplicated == 0 and row.answered == row.accepted, row
    row.note = (
        f"under the alarm: {row.refused}/{DURING} asks refused (503 file_indisponible), slowest answer "
        f"{slowest:.2f} s, /readyz 503 in {readyz_s:.2f} s; recovered by itself once cleared"
    )
    record_row(row)
