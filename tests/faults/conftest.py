"""Fixtures of the fault-injection tests: a RabbitMQ node of their own, the ask path deployed on it,
and a ledger of what became of every ask (tests/faults/ledger.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from guichet.ports.stores.s3 import S3ObjectStore
from guichet.testing.fake_llm_server import FakeOpenAIServer
from tests.deployment import Deployment, ask_path_env, build_index, reply
from tests.faults.launched import Launch, Launched
from tests.faults.ledger import AskLedger, versioned_bucket
from tests.faults.rabbitmq_node import PrivateRabbitMQ, rabbitmq_available


@pytest.fixture(scope="session")
def private_rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRabbitMQ]:
    if not rabbitmq_available():
        reason = "rabbitmq-server absent : les tests de pannes démarrent leur propre nœud RabbitMQ"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    node = PrivateRabbitMQ(tmp_path_factory.mktemp("rabbitmq-faults"))
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def faults_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_index(tmp_path_factory.mktemp("faults-index"))


@pytest.fixture
def launch(
    private_rabbitmq: PrivateRabbitMQ,
    moto_s3: str,
    faults_index: Path,
    unique_name: Callable[[str], str],
    tmp_path: Path,
) -> Iterator[Launch]:
    """launch(fault, s3_endpoint=…, llm_delay=…, **env) -> the ask path on the private node, answers
    in a fresh versioned bucket, and the ledger that counts this fault's asks."""
    with contextlib.ExitStack() as stack:

        def start(fault: str, *, s3_endpoint: str = moto_s3, llm_delay: float = 0.02, **env: str) -> Launched:
            bucket = unique_name("answers")
            answers = S3ObjectStore(bucket, endpoint_url=moto_s3, create_bucket=True)
            s3 = versioned_bucket(moto_s3, bucket)
            llm = stack.enter_context(FakeOpenAIServer(reply, delta_chars=6, delay=llm_delay))
            base = ask_path_env(
                data_dir=tmp_path / "data",
                index_dir=faults_index,
                amqp_url=private_rabbitmq.url,
                s3_endpoint=s3_endpoint,
                llm_url=llm.url,
                queue=unique_name("ask"),
                bucket=bucket,
                streams=unique_name("answers-live"),
                index_queue=unique_name("index"),
            )
            # A queue of this fault's own: the node is shared by the session's faults, and a fault with
            # other delivery settings would declare the same queue with other arguments (refused).
            base["GUICHET_ANALYTICS_QUEUE"] = unique_name("analytics")
            deployment = Deployment.start({**base, **env}, llm, answers, tmp_path)
            stack.callback(deployment.stop)
            return Launched(deployment, AskLedger(fault, deployment, s3, bucket), llm, bucket)

        yield start
