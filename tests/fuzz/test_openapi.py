"""schemathesis against /openapi.json, in process (ASGI): whatever the client sends, no 5xx, and every
response whose schema the API declares conforms to it.

The stack is the embedded one with a few sample fiches indexed (hashing embedder: fast), so that search
and the answer records have something to return. Examples are derandomized (the same inputs on every
run, CI included) and bounded per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from guichet.api.app import create_app
from guichet.indexing.bulk_ingest import ingest_into
from guichet.process.serve import sample_corpus_dir
from guichet.wiring import Stack
from tests.fuzz.counts import tried

pytestmark = pytest.mark.fuzz

EXAMPLES_PER_OPERATION = 40
FICHES = ("F1341.xml", "F90060.xml")


@pytest.fixture
def api_schema(embedded_stack: Stack, tmp_path: Path) -> Iterator[schemathesis.BaseSchema]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in FICHES:
        (corpus / name).write_bytes((sample_corpus_dir() / name).read_bytes())
    ingest_into(embedded_stack, [corpus], prefix="exemples", progress=False)
    # Access keys are tested on their own (tests/unit): with them on, every input would stop at a 401.
    assert embedded_stack.settings.auth == "off"
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(embedded_stack))


def test_no_server_error_and_declared_schemas_hold(api_schema: schemathesis.BaseSchema) -> None:
    # One hypothesis run per operation, inside one test: schemathesis' pytest plugin (parametrize over
    # a fixture's schema) does not work with pytest 9's nodes yet.
    labels, broken = [], []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)
        fuzz_operation(operation, GenerationMode.POSITIVE)
        try:
            fuzz_operation(operation, GenerationMode.NEGATIVE)
            broken.append(operation.label)
        except Unsatisfiable:
            pass  # nothing in it can break its schema: GET /healthz, a path parameter that takes any text
    assert {"POST /v1/ask", "GET /v1/search", "POST /v1/documents"} <= set(labels)
    assert {"POST /v1/ask", "GET /v1/search", "POST /v1/answers/{answer_id}/feedback"} <= set(broken)


def fuzz_operation(operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
    """mode: inputs that fit the schema (positive) or that break it (negative: must be a 4xx)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        tried(f"openapi {mode.value} {operation.label}")
        checks = [not_a_server_error, response_schema_conformance]
        if mode is GenerationMode.NEGATIVE:
            checks.append(negative_data_rejection)
        case.call_and_validate(checks=checks)

    run()
