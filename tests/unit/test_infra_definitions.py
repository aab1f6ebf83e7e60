"""infra/ files that operators load must agree with what the code declares."""

from __future__ import annotations

import json
from pathlib import Path

from guichet.ports.brokers.rabbitmq import work_queue_arguments
from guichet.settings import Settings

INFRA = Path(__file__).resolve().parents[2] / "infra"


def test_rabbitmq_definitions_match_the_declared_queue_arguments() -> None:
    definitions = json.loads((INFRA / "rabbitmq" / "definitions.json").read_text())
    settings = Settings()
    queues = {q["name"]: q for q in definitions["queues"]}
    index = queues[settings.index_queue]
    assert index["durable"] is True
    assert index["arguments"] == work_queue_arguments(
        settings.index_queue, settings.max_deliveries, "guichet.dlx"
    )
    assert queues[f"{settings.index_queue}.dead"]["arguments"] == {"x-queue-type": "quorum"}


def test_minio_target_routes_to_the_index_queue() -> None:
    definitions = json.loads((INFRA / "rabbitmq" / "definitions.json").read_text())
    env = dict(
        line.split("=", 1)
        for line in (INFRA / "minio" / "notification.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    binding = {(b["source"], b["routing_key"]): b["destination"] for b in definitions["bindings"]}
    route = (env["MINIO_NOTIFY_AMQP_EXCHANGE_GUICHET"], env["MINIO_NOTIFY_AMQP_ROUTING_KEY_GUICHET"])
    assert binding[route] == Settings().index_queue
    assert env["MINIO_NOTIFY_AMQP_DELIVERY_MODE_GUICHET"] == "2"
    assert env["MINIO_NOTIFY_AMQP_PUBLISHING_CONFIRMS_GUICHET"] == "on"
