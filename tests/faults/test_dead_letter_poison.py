"""A poison record in the dead-letter path while asks continue (issue 14, defect 3): the ask dead-letter
consumer parks what it cannot read in "<ask>.dead.dead", with its reason, and goes on; the asks around
it are answered once. Before, it retried an unreadable record forever and every later dead letter
waited behind it."""

from __future__ import annotations

import pytest

from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.answer.store import AnswerRepository
from guichet.ports.broker import REASON_HEADER, dead_letter_queue
from guichet.ports.brokers.rabbitmq import RabbitMQBroker
from guichet.testing.helpers import wait_for
from tests.deployment import QUESTION
from tests.faults.launched import Launch
from tests.faults.ledger import record_row
from tests.faults.rabbitmq_node import PrivateRabbitMQ

pytestmark = [pytest.mark.faults, pytest.mark.s3]


def test_poison_in_the_dead_letter_queue_is_parked_and_the_rest_goes_on(
    launch: Launch, private_rabbitmq: PrivateRabbitMQ
) -> None:
    run = launch("enregistrement empoisonné dans la file morte, demandes en cours", llm_delay=0.03)
    env = run.deployment.env
    dead = dead_letter_queue(env["GUICHET_ASK_QUEUE"])
    answers = AnswerRepository(run.deployment.answers)
    poisoned, behind = AskJob(new_answer_id(), QUESTION), AskJob(new_answer_id(), QUESTION)
    answers.store.put(f"answers/{poisoned.id}.json", b'{"id": "tronqu', "application/json")
    answers.put(AnswerRecord.queued(behind).running(3))
    broker = RabbitMQBroker(private_rabbitmq.url)
    try:
        broker.publish(dead, b"pas du json", message_id="illisible")
        broker.publish(dead, poisoned.to_json(), message_id=poisoned.id)
        broker.publish(dead, behind.to_json(), message_id=behind.id)  # waits behind the poison
        run.ask_many(4)
        wait_for(lambda: getattr(answers.get(behind.id), "status", "") == "failed", timeout=60)
        parked = dead_letter_queue(dead)
        wait_for(lambda: broker.depth(parked) == 2, timeout=60)
        reasons = [broker.get(parked) for _ in range(2)]
    finally:
        broker.close()
    row = run.ledger.settle()
    assert row.lost == 0 and row.duplicated == 0 and row.answered == row.accepted == 4, row
    assert all(r is not None and r.headers.get(REASON_HEADER) for r in reasons)
    repaired = answers.get(poisoned.id)
    assert repaired is not None and repaired.status == "failed"  # its reader learns it failed
    row.note = (
        "2 poison dead letters (unparsable body, unreadable record) parked in <ask>.dead.dead with their "
        "reason; the dead letter behind them recorded failed; the unreadable record replaced by a failed one"
    )
    record_row(row)
