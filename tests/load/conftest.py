"""The `load` marker: a short Locust run against the whole stack (≈ 2 minutes, loopback only)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "load: a short Locust run against the deployed stack (≈ 2 min)")
