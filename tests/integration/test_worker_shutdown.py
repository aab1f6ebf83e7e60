"""Graceful shutdown as Kubernetes does it: SIGTERM to `guichet worker answer` in the middle of a
generation. The worker stops taking jobs, finishes the one in hand (record stored, then ack) and exits 0,
well within the answer workers' termination grace period (helm/guichet: llm_max_duration + margin)."""

from __future__ import annotations

import signal

from guichet.testing.helpers import wait_for

# The deployment as test_ask_path.py starts it (function + answer worker processes, RabbitMQ, moto S3).
from tests.integration.test_ask_path import Deployment, deployment, index_dir  # noqa: F401

GRACE_S = 60  # far less than the chart's 330 s: the fake generation lasts about 5 s


def test_sigterm_mid_generation_finishes_the_job_then_exits_zero(deployment: Deployment) -> None:  # noqa: F811
    deployment.llm.delay = 0.2  # about 5 s of generation: SIGTERM lands in the middle
    answer_id = deployment.ask()
    wait_for(lambda: len(deployment.llm.requests) >= 1, timeout=60)
    assert deployment.record(answer_id)["status"] == "running"  # really mid-generation
    deployment.worker.send_signal(signal.SIGTERM)
    assert deployment.worker.wait(timeout=GRACE_S) == 0
    # Final before any other worker exists: the stopping worker answered it, once, on its first delivery.
    record = deployment.record(answer_id)
    assert record["status"] == "done" and record["mode"] == "generated" and record["attempt"] == 1
    assert len(deployment.llm.requests) == 1 and deployment.llm.aborted == 0
    assert deployment.answers.head(f"answers/{answer_id}.json") is not None


def test_a_worker_stopped_while_idle_leaves_new_jobs_to_the_next_one(deployment: Deployment) -> None:  # noqa: F811
    deployment.worker.send_signal(signal.SIGTERM)
    assert deployment.worker.wait(timeout=GRACE_S) == 0
    answer_id = deployment.ask()  # queued while no worker runs: nothing took it
    assert deployment.record(answer_id)["status"] == "queued"
    deployment.restart_worker()
    record = deployment.final(answer_id)
    assert record["status"] == "done" and record["attempt"] == 1  # the stopped worker never held it
