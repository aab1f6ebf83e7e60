"""The deployed stack on one machine, for load tests: `guichet function` + `guichet worker answer` processes
on real RabbitMQ, answers in S3 (a moto server), the engine simulator as GUICHET_LLM_URL.

Used by the CI load test (tests/load) and by loadtests/validate_model.py. Every queue, stream and bucket
name is unique to the run and deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from guichet.process.serve import sample_corpus_dir
from guichet.testing.helpers import LoggedProcess, delete_queues, free_port, wait_for

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
# A small index (the bundled embedder is slow on 2 cores); questions of loadtests/questions.txt match them.
FICHES = ("F1341.xml", "F358.xml", "F90011.xml")
AWS_ENV = {"AWS_ACCESS_KEY_ID": "load", "AWS_SECRET_ACCESS_KEY": "load", "AWS_DEFAULT_REGION": "us-east-1"}


def build_index(data_dir: Path, fiches: Iterable[str] = FICHES) -> Path:
    """Indexes sample fiches with the embedded stack in data_dir; returns the index folder."""
    corpus = data_dir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name in fiches:
        (corpus / name).write_bytes((sample_corpus_dir() / name).read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env["GUICHET_DATA_DIR"] = str(data_dir)
    subprocess.run([sys.executable, "-m", "guichet", "ingest", str(corpus)], env=env, check=True, timeout=600)
    return data_dir / "index"


@dataclass
class SimulatorOptions:
    profile: str = "h100-llama3-8b"
    speed: float = 1.0
    stream_interval: int = 4
    max_num_seqs: int | None = None
    output_tokens: int | None = None

    def args(self, port: int) -> list[str]:
        args = ["--profile", self.profile, "--port", str(port), "--speed", str(self.speed)]
        args += ["--stream-interval", str(self.stream_interval)]
        if self.max_num_seqs is not None:
            args += ["--max-num-seqs", str(self.max_num_seqs)]
        if self.output_tokens is not None:
            args += ["--output-tokens", str(self.output_tokens)]
        return args


@dataclass
class LoadStack:
    """Starts on enter, stops and cleans up on exit. `url`: the functions' base URL for Locust."""

    index_dir: Path
    logs: Path
    s3_endpoint: str = ""  # empty: a moto server is started
    amqp_url: str = DEFAULT_AMQP_URL
    simulator: SimulatorOptions = field(default_factory=SimulatorOptions)
    answer_workers: int = 1
    worker_concurrency: int = 8
    url: str = ""
    llm_url: str = ""
    _services: list[LoggedProcess] = field(default_factory=list)
    _names: dict[str, str] = field(default_factory=dict)

    def __enter__(self) -> LoadStack:
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: Any) -> None:
        for service in reversed(self._services):
            service.stop()
        streams = self._names.get("streams")
        if streams:
            delete_queues(
                self.amqp_url, [self._names["ask"], self._names["index"], f"{streams}.0", f"{streams}.1"]
            )

    def _start(self) -> None:
        run = uuid.uuid4().hex[:10]
        self._names = {"ask": f"load-ask-{run}", "index": f"load-index-{run}", "streams": f"load-live-{run}"}
        if not self.s3_endpoint:
            port = free_port()
            moto = self._spawn(
                "moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
            )
            self.s3_endpoint = f"http://127.0.0.1:{port}"
            moto.wait_http(f"{self.s3_endpoint}/moto-api/")
        bucket = f"load-answers-{run}"
        self._create_bucket(bucket)
        port = free_port()
        simulator = self._spawn(
            "simulator", [sys.executable, "-m", "guichet.capacity.simulator", *self.simulator.args(port)]
        )
        self.llm_url = f"http://127.0.0.1:{port}/v1"
        simulator.wait_http(f"{self.llm_url}/models")
        env = self._env(bucket)
        port = free_port()
        function = self._spawn(
            "function", [sys.executable, "-m", "guichet", "function", "--port", str(port)], env
        )
        for n in range(self.answer_workers):
            self._spawn(f"worker-{n}", [sys.executable, "-m", "guichet", "worker", "answer"], env)
        self.url = f"http://127.0.0.1:{port}"
        function.wait_http(f"{self.url}/readyz")
        wait_for(self._ready, timeout=180, interval=0.5)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each started process has used so far, by name (function, worker-0…)."""
        tick = os.sysconf("SC_CLK_TCK")
        used: dict[str, float] = {}
        for service in self._services:
            try:
                stat = Path(f"/proc/{service.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            used[service.log.stem] = (int(stat[11]) + int(stat[12])) / tick  # utime, stime
        return used

    def broker_cpu_seconds(self) -> float:
        """CPU time of the local RabbitMQ node (beam.smp), 0 if not found: the broker is shared with
        whatever else runs on the machine, so this is an upper bound of what the load test cost it."""
        tick = os.sysconf("SC_CLK_TCK")
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and b"beam.smp" in (proc / "cmdline").read_bytes():
                    stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                    return (int(stat[11]) + int(stat[12])) / tick
            except OSError:
                continue
        return 0.0

    def _ready(self) -> bool:
        return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200

    def _env(self, bucket: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
        return (
            env
            | AWS_ENV
            | {
                "GUICHET_DATA_DIR": str(self.logs / "data"),
                "GUICHET_INDEX_URL": str(self.index_dir),
                "GUICHET_BROKER_URL": self.amqp_url,
                "GUICHET_ASK_QUEUE": self._names["ask"],
                "GUICHET_INDEX_QUEUE": self._names["index"],
                "GUICHET_ANSWERS_URL": f"s3://{bucket}",
                "GUICHET_S3_ENDPOINT": self.s3_endpoint,
                "GUICHET_ANSWER_STREAM_PREFIX": self._names["streams"],
                "GUICHET_ANSWER_STREAM_SHARDS": "2",
                "GUICHET_LLM_URL": self.llm_url,
                "GUICHET_ANSWER_CONCURRENCY": str(self.worker_concurrency),
                # Capacity, not access control, is measured: one load generator would be one site, held
                # to one site's rate. Workers' own /metrics port would collide between worker processes.
                "GUICHET_AUTH": "off",
                "GUICHET_METRICS_PORT": "0",
            }
        )

    def _create_bucket(self, bucket: str) -> None:
        from guichet.ports.stores.s3 import S3ObjectStore

        saved = {k: os.environ.get(k) for k in AWS_ENV}
        os.environ.update(AWS_ENV)
        try:
            S3ObjectStore(bucket, endpoint_url=self.s3_endpoint, create_bucket=True)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> LoggedProcess:
        service = LoggedProcess(args, env or {**os.environ, **AWS_ENV}, self.logs / f"{name}.log")
        self._services.append(service)
        return service


def lost_jobs(url: str, answer_ids: Iterable[str], timeout: float = 120.0) -> list[str]:
    """The accepted asks without a final `done` record once the queue had `timeout` s to drain."""
    pending = set(answer_ids)

    def drained() -> bool:
        for answer_id in list(pending):
            response = httpx.get(f"{url}/v1/answers/{answer_id}", timeout=10)
            if response.status_code == 200 and response.json().get("status") == "done":
                pending.discard(answer_id)
        return not pending

    with contextlib.suppress(AssertionError):  # what is still pending is the answer
        wait_for(drained, timeout=timeout, interval=1.0)
    return sorted(pending)
