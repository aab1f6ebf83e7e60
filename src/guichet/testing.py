"""Helpers for tests of code built on guichet (like dramatiq's stub broker helpers)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.02) -> None:
    """Poll condition until it holds; AssertionError after timeout (generous: it only bounds a failure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
