"""infra/ files that operators load must agree with what the code declares."""

from __future__ import annotations

import json
from pathlib import Path

from guichet.ports.answer_streams.rabbitmq import RabbitMQAnswerStream, stream_arguments
from guichet.ports.broker import retry_delays
from guichet.ports.brokers.rabbitmq import delay_name, delay_queue_arguments, work_queue_arguments
from guichet.settings import Settings

INFRA = Path(__file__).resolve().parents[2] / "infra"
# Never connected to: constructing RabbitMQAnswerStream opens nothing, it only names its streams.
DEFAULT_AMQP_URL = "amqp://guest:guest@rabbitmq:5672/"


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
    assert queues[f"{settings.index_queue}.dead.dead"]["arguments"] == {"x-queue-type": "quorum"}


def test_rabbitmq_definitions_declare_the_retry_delay_queues() -> None:
    definitions = json.loads((INFRA / "rabbitmq" / "definitions.json").read_text())
    settings = Settings()
    queues = {q["name"]: q for q in definitions["queues"]}
    exchanges = {x["name"]: x["type"] for x in definitions["exchanges"]}
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in definitions["bindings"]}
    delays = retry_delays(settings.max_deliveries, settings.retry_backoff, settings.max_retry_backoff)
    declared = sorted(name for name in queues if name.startswith("guichet.delay."))
    assert declared == sorted(delay_name("guichet.delay", seconds) for seconds in delays)
    for seconds in delays:
        name = delay_name("guichet.delay", seconds)
        assert queues[name]["arguments"] == delay_queue_arguments(seconds)
        assert exchanges[name] == "fanout" and (name, name, "") in bindings
    dead = f"{settings.index_queue}.dead"
    assert ("guichet.dlx", f"{dead}.dead", dead) in bindings


def test_rabbitmq_definitions_match_the_declared_answer_streams() -> None:
    definitions = json.loads((INFRA / "rabbitmq" / "definitions.json").read_text())
    settings = Settings()
    queues = {q["name"]: q for q in definitions["queues"]}
    declared = RabbitMQAnswerStream(DEFAULT_AMQP_URL, shards=settings.answer_stream_shards).streams
    assert sorted(name for name in queues if name.startswith("guichet.answers.")) == sorted(declared)
    for name in declared:
        assert queues[name]["durable"] is True
        assert queues[name]["arguments"] == stream_arguments(settings.answer_stream_retention)


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
