"""SIGTERM while the answer worker holds jobs on their last allowed delivery (issue 14, defect 2): the
graceful stop hands them back uncounted (Requeue), and the next worker answers them. Before, the stop
counted as a failure on the last delivery: the jobs were dead-lettered and recorded failed (ADR 0009)."""

from __future__ import annotations

import signal

import pytest

from guichet.testing.helpers import wait_for
from tests.deployment import QUESTION
from tests.faults.launched import Launch
from tests.faults.ledger import record_row

pytestmark = [pytest.mark.faults, pytest.mark.s3]

ASKS = 3


def test_a_graceful_stop_on_the_last_delivery_answers_every_job(launch: Launch) -> None:
    run = launch(
        "SIGTERM pendant la dernière livraison",
        GUICHET_MAX_DELIVERIES="1",  # every delivery is the last
        GUICHET_LLM_RETRIES="1",
        GUICHET_LLM_RETRY_BACKOFF="60",  # the generations wait to retry a model that is down
    )
    run.llm.down()
    for n in range(ASKS):
        assert run.ledger.submit(f"{QUESTION} (demande {n})") == 202

    def in_hand() -> int:
        return sum(run.deployment.record(i)["status"] == "running" for i in run.ledger.ids)

    wait_for(lambda: in_hand() == 2, timeout=60)  # GUICHET_ANSWER_CONCURRENCY=2, both waiting to retry
    run.deployment.worker.send_signal(signal.SIGTERM)
    assert run.deployment.worker.wait(timeout=60) == 0
    run.llm.up()
    run.deployment.restart_worker()
    row = run.ledger.settle()
    assert row.accepted == ASKS and row.failed == 0, row
    assert row.answered == ASKS and row.lost == 0 and row.duplicated == 0, row
    row.note = (
        "2 jobs on their last delivery handed back at SIGTERM, answered by the next worker; none failed"
    )
    record_row(row)
