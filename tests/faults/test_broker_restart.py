"""RabbitMQ restarted while asks are in flight: every accepted ask (202) gets exactly one final record;
the asks sent while it is down are refused (503), never accepted and then lost.

The node restarted is the tests' own (tests/faults/rabbitmq_node.py), never the shared one.
"""

from __future__ import annotations

import pytest

from tests.faults.launched import Launch, outage
from tests.faults.rabbitmq_node import PrivateRabbitMQ

pytestmark = [pytest.mark.faults, pytest.mark.s3]


def test_every_accepted_ask_is_answered_once_across_a_broker_restart(
    launch: Launch, private_rabbitmq: PrivateRabbitMQ
) -> None:
    run = launch("RabbitMQ redémarré, demandes en vol", llm_delay=0.03)
    row = run.ask_across(
        outage(private_rabbitmq.stop_app, private_rabbitmq.start_app), before=10, during=4, after=6
    )  # 20 asks
    assert row.submitted == 20
