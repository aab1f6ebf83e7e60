"""The model server dies in the middle of generations: every ask is still answered, from verbatim
extracts, and says so. (tests/integration/test_ask_path.py covers a server already down before the ask.)"""

from __future__ import annotations

import pytest

from guichet.answer.drafting import LLM_FAILED_NOTICE
from tests.faults.launched import Launch

pytestmark = [pytest.mark.faults, pytest.mark.s3]

ASKS = 5


def test_asks_get_extractive_answers_when_the_llm_dies_mid_generation(launch: Launch) -> None:
    run = launch("serveur LLM arrêté en pleine génération", llm_delay=0.05)
    run.ask_many(ASKS)  # two generations under way
    run.llm.down()
    row = run.ledger.settle()
    assert row.accepted == ASKS and row.lost == 0 and row.duplicated == 0
    assert row.answered == ASKS and row.extractive == ASKS, row
    for answer_id in run.ledger.ids:
        record = run.deployment.record(answer_id)
        assert record["mode"] == "extractive" and LLM_FAILED_NOTICE in record["notice"]
        assert record["sources"] and "[1]" in record["answer"]
