"""Submitting a question: the one place that knows the order "record first, then publish".

Recorded first, so that any replica can answer for the id before a worker takes the job; published with
a confirm, so that nothing is accepted and lost. Used by POST /v1/ask, `guichet ask` and the demo.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from guichet.access import personal_data
from guichet.answer.record import AnswerRecord, AskJob
from guichet.answer.store import AnswerRepository
from guichet.ports.broker import Broker, BrokerError
from guichet.ports.store import StoreError

log = logging.getLogger(__name__)

QUEUE_DOWN = "La file des questions est injoignable : la question n'a pas été prise en compte, réessayez."


def enqueue(answers: AnswerRepository, broker: Broker, queue: str, job: AskJob) -> None:
    """Raises StoreError (nothing was queued) or BrokerError (the record then says "failed").

    Personal identifiers are masked here, before the job exists anywhere: queue, record, prompt, logs
    (docs/decisions/0014)."""
    job = replace(job, question=personal_data.mask(job.question), situation=personal_data.mask(job.situation))
    record = AnswerRecord.queued(job)
    answers.put(record)
    try:
        broker.publish(queue, job.to_json(), message_id=job.id)
    except BrokerError:
        try:
            answers.put(record.failed("file_indisponible", QUEUE_DOWN))
        except StoreError:
            # The record stays "queued" with no job behind it: readers see it pending until they give up.
            log.warning("answer %s: queue and answer store both unreachable", job.id)
        raise
