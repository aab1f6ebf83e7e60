"""What RabbitMQBroker declares: work queues, their dead-letter queues, and the shared delay queues.

A failed message waits out its backoff in a delay queue: one per backoff length (a queue-wide TTL keeps
each one first-in first-expired; per-message TTLs in one queue would make a 1 s retry wait behind an 8 s
one), shared by every work queue. Each is fed by a fanout exchange of the same name: the message is
published there with the work queue as routing key, and when its TTL runs out RabbitMQ dead-letters it
to the default exchange under that same routing key, i.e. back onto the work queue. At-least-once
dead-lettering (quorum queues, RabbitMQ >= 3.10) so that no retry is lost on the way back.
infra/rabbitmq/definitions.json and the Helm chart must declare the same.
"""

from __future__ import annotations

from typing import Any

DEFAULT_DELAY_PREFIX = "guichet.delay"


def delay_name(prefix: str, seconds: float) -> str:
    """The delay exchange and queue for this backoff: "<prefix>.<milliseconds>"."""
    return f"{prefix}.{delay_ms(seconds)}"


def delay_ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def work_queue_arguments(queue: str, max_deliveries: int, dead_letter_exchange: str) -> dict[str, Any]:
    """The arguments of a work queue; infra/rabbitmq/definitions.json must declare the same ones."""
    return {
        "x-queue-type": "quorum",
        # Only consumers that die mid-handler reach this limit (failures are counted in the message,
        # see ports/broker.py); RabbitMQ allows limit + 1 deliveries: this makes it max_deliveries.
        "x-delivery-limit": max_deliveries - 1,
        "x-dead-letter-exchange": dead_letter_exchange,
        "x-dead-letter-routing-key": queue,
    }


def delay_queue_arguments(seconds: float) -> dict[str, Any]:
    """The arguments of the delay queue for this backoff (its exchange is a durable fanout)."""
    return {
        "x-queue-type": "quorum",
        "x-message-ttl": delay_ms(seconds),
        "x-dead-letter-exchange": "",  # the default exchange, with the message's own routing key
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",  # required by at-least-once dead-lettering
    }
