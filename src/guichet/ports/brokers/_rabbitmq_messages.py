"""RabbitMQ deliveries as Envelopes, and the dead-letter reasons read back from RabbitMQ's own headers.

Observed on RabbitMQ 3.10: quorum queues set x-delivery-count on every delivery (0 the first time) and
dead-letter a message when it is returned while its count already equals x-delivery-limit, i.e. after
limit + 1 deliveries; such dead letters carry x-death / x-first-death-reason = "delivery_limit".
"""

from __future__ import annotations

from typing import Any

from guichet.ports.broker import REASON_HEADER
from guichet.ports.records import Envelope

LIMIT_REASON = "delivery limit reached"
# Read back from x-first-death-reason = "rejected": only the fallback of a failed dead-letter publish
# nacks without requeue, so the original reason is in the consumer's log only.
REJECTED_REASON = "rejeté (publication vers la file morte impossible, raison dans les journaux)"


def envelope(method: Any, properties: Any, body: bytes) -> Envelope:
    """The Envelope of a delivery (pika's Basic.Deliver or Basic.GetOk, its BasicProperties, its body)."""
    raw = properties.headers or {}
    count = raw.get("x-delivery-count", 0)
    headers = {
        k: v.decode() if isinstance(v, bytes) else v for k, v in raw.items() if isinstance(v, str | bytes)
    }
    death = raw.get("x-first-death-reason")
    if REASON_HEADER not in headers and death == "delivery_limit":
        headers[REASON_HEADER] = LIMIT_REASON  # dead-lettered by RabbitMQ itself (e.g. a crash loop)
    elif REASON_HEADER not in headers and death == "rejected":
        headers[REASON_HEADER] = REJECTED_REASON  # our fallback when the dead-letter publish failed
    return Envelope(
        body=bytes(body),
        message_id=properties.message_id or "",
        redelivered=bool(method.redelivered) or count > 0,
        delivery_count=int(count),
        headers=headers,
    )
