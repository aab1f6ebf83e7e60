"""Answer workers SIGKILLed with generations in hand: every job is redelivered to the next worker and
answered once. tests/integration/test_ask_path.py checks one ask on the shared broker (its LLM calls
included); here several asks are in flight and every put of every record is counted."""

from __future__ import annotations

import signal

import pytest

from tests.faults.launched import Launch

pytestmark = [pytest.mark.faults, pytest.mark.s3]

ASKS = 6


def test_jobs_of_a_killed_worker_are_answered_once_by_the_next(launch: Launch) -> None:
    run = launch("worker de réponse tué (SIGKILL) en pleine génération", llm_delay=0.05)
    run.ask_many(ASKS)  # two generations under way
    run.deployment.worker.send_signal(signal.SIGKILL)
    run.deployment.worker.wait(timeout=10)
    run.deployment.restart_worker()
    row = run.ledger.settle()
    assert row.accepted == ASKS and row.lost == 0 and row.duplicated == 0
    assert row.answered == ASKS and row.redelivered >= 2, row
