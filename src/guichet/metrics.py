"""Every Prometheus metric of guichet, defined once.

Labels never carry user input (questions, situations, keys): only small closed sets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

INDEX_EVENTS = Counter(
    "guichet_index_events_total",
    "Object-store events handled by the index worker, by outcome.",
    ["outcome"],  # indexed, unchanged, stale, removed, absent, ignored, rejected
)
INDEX_LAG = Histogram(
    "guichet_index_lag_seconds",
    "Delay between an object-store event and the index reflecting it.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
INDEX_CHUNKS = Gauge("guichet_index_chunks", "Chunks currently held by the index.")
EMBEDDED_PASSAGES = Counter("guichet_embedded_passages_total", "Passages sent to the embedder.")
SEARCH_SECONDS = Histogram(
    "guichet_search_seconds",
    "Retrieval latency (query embedding included), by mode.",
    ["mode"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
HTTP_REQUESTS = Counter(
    "guichet_http_requests_total",
    "HTTP requests served by the functions, by route and status.",
    ["route", "status"],
)


def track_index_size(count: Callable[[], int]) -> None:
    """Read at scrape time; an unreachable index shows as NaN rather than failing the scrape."""

    def safe_count() -> float:
        try:
            return float(count())
        except Exception:
            return math.nan

    INDEX_CHUNKS.set_function(safe_count)


def observe_index_lag(event_time: str, now: float) -> None:
    if not event_time:
        return
    try:
        sent = datetime.fromisoformat(event_time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return
    INDEX_LAG.observe(max(0.0, now - sent))
