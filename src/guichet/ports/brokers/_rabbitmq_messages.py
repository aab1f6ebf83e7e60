"""RabbitMQ deliveries as Envelopes, and the dead-letter reasons read back from RabbitMQ's own headers.

delivery_count = our attempt header (the counted deliveries, carried in the message when a retry is
republished) + x-delivery-count (what the quorum queue counted since: consumers that died mid-handler).
Observed on RabbitMQ 3.10: quorum queues set x-delivery-count on every delivery (0 the first time) and
dead-letter a message when it is returned while its count already equals x-delivery-limit, i.e. after
limit + 1 deliveries; such dead letters carry an x-death entry with reason "delivery_limit". A message
that waited in a delay queue carries one with reason "expired": x-death (most recent first) is read,
not x-first-death-reason, which stays "expired" forever after.
"""

from __future__ import annotations

from typing import Any

from guichet.ports.broker import LIMIT_REASON, REASON_HEADER, counted_attempts
from guichet.ports.records import Envelope

__all__ = ["LIMIT_REASON", "REJECTED_REASON", "envelope"]

# Read back from an x-death reason "rejected": only the fallback of a failed dead-letter publish
# nacks without requeue, so the original reason is in the consumer's log only.
REJECTED_REASON = "rejeté (publication vers la file morte impossible, raison dans les journaux)"
# RabbitMQ's own headers: never carried over when a message is republished (retry, requeue, dead letter).
_BROKER_HEADERS = ("x-death", "x-delivery-count", "x-first-death-", "x-last-death-")


def envelope(method: Any, properties: Any, body: bytes) -> Envelope:
    """The Envelope of a delivery (pika's Basic.Deliver or Basic.GetOk, its BasicProperties, its body)."""
    raw = properties.headers or {}
    headers = {
        k: v.decode() if isinstance(v, bytes) else v
        for k, v in raw.items()
        if isinstance(v, str | bytes) and not k.startswith(_BROKER_HEADERS)
    }
    death = _last_death(raw)
    if REASON_HEADER not in headers and death == "delivery_limit":
        headers[REASON_HEADER] = LIMIT_REASON  # dead-lettered by RabbitMQ itself (e.g. a crash loop)
    elif REASON_HEADER not in headers and death == "rejected":
        headers[REASON_HEADER] = REJECTED_REASON  # our fallback when the dead-letter publish failed
    count = counted_attempts(headers) + int(raw.get("x-delivery-count", 0))
    return Envelope(
        body=bytes(body),
        message_id=properties.message_id or "",
        redelivered=bool(method.redelivered) or count > 0,
        delivery_count=count,
        headers=headers,
    )


def _last_death(raw: dict[str, Any]) -> str:
    deaths = raw.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        reason = deaths[0].get("reason", "")
        return reason.decode() if isinstance(reason, bytes) else str(reason)
    return ""
