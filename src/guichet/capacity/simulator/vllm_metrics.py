"""The simulator's /metrics, under vLLM V1's names (vllm/v1/metrics/loggers.py), labels engine and model_name.

Each family it imitates has the real one's name, type, help text, labels and buckets: checked against
vLLM 0.32's own /metrics by tests/infra/test_vllm_metric_names.py.

These are the simulated server's metrics, not guichet's (guichet.metrics holds guichet's): a registry
per app, so that several simulators in one test process do not collide. Durations are simulated seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from guichet.capacity.simulator.engine import Engine, Sequence

# vLLM's own bucket boundaries, so that dashboards' quantiles read the same on both.
TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
REQUEST_BUCKETS = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)
ITL_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0
)  # fmt: skip
LABELS = ("engine", "model_name")  # in vLLM's order: its series read engine="0",model_name="..."
# vLLM creates a request_success series for each reason up front: a rate() then starts from 0.
FINISHED_REASONS = ("stop", "length", "abort", "error", "repetition")


class VllmMetrics:
    def __init__(self, engine: Engine, model_name: str) -> None:
        self.registry = CollectorRegistry()
        self._engine = engine
        self._values = ("0", model_name)
        self._gauge(
            "vllm:num_requests_running",
            "Number of requests in model execution batches.",
            lambda: len(engine.running),
        )
        self._gauge(
            "vllm:num_requests_waiting",
            "Number of requests waiting to be processed.",
            lambda: len(engine.waiting),
        )
        self._gauge(
            "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", lambda: engine.kv_usage
        )
        self.prompt_tokens = self._counter("vllm:prompt_tokens", "Number of prefill tokens processed.")
        self.generation_tokens = self._counter(
            "vllm:generation_tokens", "Number of generation tokens processed."
        )
        self._success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            ("engine", "finished_reason", "model_name"),
            registry=self.registry,
        )
        for reason in FINISHED_REASONS:
            self._success.labels("0", reason, model_name)
        self.ttft = self._histogram(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS
        )
        self.e2e = self._histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            REQUEST_BUCKETS,
        )
        self.queue = self._histogram(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            REQUEST_BUCKETS,
        )
        self.itl = self._histogram(
            "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL_BUCKETS
        )

    def _gauge(self, name: str, doc: str, read: Callable[[], float]) -> None:
        Gauge(name, doc, LABELS, registry=self.registry).labels(*self._values).set_function(read)

    def _counter(self, name: str, doc: str) -> Counter:
        return Counter(name, doc, LABELS, registry=self.registry).labels(*self._values)

    def _histogram(self, name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
        return Histogram(name, doc, LABELS, buckets=buckets, registry=self.registry).labels(*self._values)

    def finished(self, seq: Sequence) -> None:
        """Called by the engine when a sequence ends: its latencies, in simulated seconds."""
        sim = self._engine.simulated
        self._success.labels("0", seq.finish_as, self._values[1]).inc()
        self.generation_tokens.inc(seq.generated)
        if seq.admitted_at is not None:
            self.queue.observe(sim(seq.admitted_at - seq.arrival))
        if seq.first_token_at is not None and seq.finished_at is not None:
            self.ttft.observe(sim(seq.first_token_at - seq.arrival))
            self.e2e.observe(sim(seq.finished_at - seq.arrival))
            if seq.generated > 1:
                self.itl.observe(sim(seq.finished_at - seq.first_token_at) / (seq.generated - 1))
