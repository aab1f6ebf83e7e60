"""artifacts/fuzz.json: how many inputs each fuzz target tried (written only when every one passed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.counts import write_summary


@pytest.fixture(scope="session", autouse=True)
def fuzz_summary(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if request.session.testsfailed == 0:
        write_summary()
