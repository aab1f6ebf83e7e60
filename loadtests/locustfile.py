"""Advisors asking guichet questions: `locust -f loadtests/locustfile.py --host http://127.0.0.1:8000`.

Each advisor asks (POST /v1/ask), reads the answer's SSE stream to its end, sometimes rates the answer,
sometimes asks one of its related questions. Two request events are fired besides the HTTP ones:
"ttft" (ask sent → first token shown) and "answer" (ask sent → `done` event), type "SSE".

Environment: LOADTEST_SHAPE (peak | spike | day), LOADTEST_RATE (asks/s at the peak), LOADTEST_DURATION
(seconds), LOADTEST_PACING_S (seconds between an advisor's asks, 30), LOADTEST_SLO_TTFT_P95_S (2),
LOADTEST_SLO_ANSWER_P95_S (30), LOADTEST_MAX_FAILURE_RATIO (0.01), LOADTEST_IDS (file: accepted answer
ids, one a line, for the lost-jobs check), LOADTEST_API_KEY (a site's key, sent as a bearer token; against
a deployment, give the load site generous rate limits). The run exits 1 when an SLO is missed.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]
from locust import HttpUser, LoadTestShape, events, task
from locust.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `loadtests` as a package
from loadtests.shapes import PACING_S, plan, tick

PACING = float(os.environ.get("LOADTEST_PACING_S", PACING_S))
QUESTIONS = (Path(__file__).parent / "questions.txt").read_text(encoding="utf-8").splitlines()
FEEDBACK_SHARE = 0.2  # advisors who rate an answer
RELATED_SHARE = 0.15  # advisors who click a related question
STREAM_TIMEOUT_S = 120.0
API_KEY = os.environ.get("LOADTEST_API_KEY", "")
log = logging.getLogger("advisor")


class Advisor(HttpUser):
    def on_start(self) -> None:
        if API_KEY:
            self.client.headers["Authorization"] = f"Bearer {API_KEY}"
        # Each advisor keeps its own phase: first ask at a random point of the pacing period, then one
        # every PACING seconds. (Locust's constant_pacing counts from the user's creation, so a random
        # first delay would be undone and every advisor would ask in the same second, PACING s later.)
        self.next_visit = time.monotonic() + random.uniform(0, PACING)
        gevent.sleep(self.next_visit - time.monotonic())

    def wait_time(self) -> float:
        self.next_visit += PACING
        return max(0.0, self.next_visit - time.monotonic())

    @task
    def ask_and_read(self) -> None:
        record = self.ask(random.choice(QUESTIONS))
        if record is None:
            return
        if random.random() < FEEDBACK_SHARE:
            self.rate(record)
        related = record.get("related_questions") or []
        if related and random.random() < RELATED_SHARE:
            self.ask(str(random.choice(related)["question"]))

    def ask(self, question: str) -> dict[str, Any] | None:
        started = time.perf_counter()
        with self.client.post("/v1/ask", json={"question": question}, catch_response=True) as response:
            if response.status_code != 202:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return None
            answer_id = str(response.json()["id"])
        _remember(answer_id)
        return self.read(answer_id, started)

    def read(self, answer_id: str, started: float) -> dict[str, Any] | None:
        first: float | None = None
        path = f"/v1/answers/{answer_id}/stream"
        try:
            with self.client.get(
                path,
                name="/v1/answers/[id]/stream",
                stream=True,
                timeout=STREAM_TIMEOUT_S,
                catch_response=True,
            ) as response:
                for kind, data in _events(response.iter_lines(chunk_size=None, decode_unicode=True)):
                    if kind == "token" and first is None:
                        first = time.perf_counter()
                        self._fire("ttft", first - started)
                    elif kind == "done":
                        self._fire("answer", time.perf_counter() - started)
                        response.success()
                        return dict(data)
                    elif kind == "error":
                        raise RuntimeError(f"erreur de génération : {data}")
                raise RuntimeError("flux terminé sans événement done")
        except Exception as exc:
            self._fire("answer", time.perf_counter() - started, exc)
            return None

    def rate(self, record: dict[str, Any]) -> None:
        body = {"rating": random.choice(("up", "up", "up", "down")), "reasons": ["test de charge"]}
        self.client.post(f"/v1/answers/{record['id']}/feedback", json=body, name="/v1/answers/[id]/feedback")

    def _fire(self, name: str, seconds: float, exception: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type="SSE",
            name=name,
            response_time=seconds * 1000,
            response_length=0,
            exception=exception,
            context={},
        )


def _events(lines: Any) -> Any:
    """(event, JSON data) per SSE event; keep-alive comments are skipped."""
    kind, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield kind, json.loads("\n".join(data))
            kind, data = "message", list[str]()
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def _remember(answer_id: str) -> None:
    target = os.environ.get("LOADTEST_IDS")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(answer_id + "\n")


class ConfiguredShape(LoadTestShape):
    """The shape named by LOADTEST_SHAPE at LOADTEST_RATE asks/s for LOADTEST_DURATION seconds."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.stages = plan(
            os.environ.get("LOADTEST_SHAPE", "peak"),
            float(os.environ.get("LOADTEST_RATE", "1")),
            float(os.environ.get("LOADTEST_DURATION", "60")),
        )

    def tick(self) -> tuple[int, float] | None:
        # A related question is a second ask in the same visit: the model's questions per démarche count it.
        return tick(self.stages, self.get_run_time(), PACING, 1 + RELATED_SHARE)  # type: ignore[no-untyped-call]


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def check_slo(environment: Environment, **_: Any) -> None:
    problems = slo_problems(environment)
    for problem in problems:
        log.error("SLO manqué : %s", problem)
    if problems:
        environment.process_exit_code = 1


def slo_problems(environment: Environment) -> list[str]:
    stats = environment.stats
    ttft, answer = stats.get("ttft", "SSE"), stats.get("answer", "SSE")
    limits = {
        "ttft": float(os.environ.get("LOADTEST_SLO_TTFT_P95_S", "2")),
        "answer": float(os.environ.get("LOADTEST_SLO_ANSWER_P95_S", "30")),
    }
    problems = []
    if answer.num_requests == 0:
        problems.append("aucune réponse complète")
    for entry in (ttft, answer):
        p95 = entry.get_response_time_percentile(0.95) / 1000 if entry.num_requests else 0.0
        if p95 > limits[entry.name]:
            problems.append(f"{entry.name} p95 {p95:.2f} s > {limits[entry.name]:.2f} s")
    ratio = stats.total.fail_ratio
    if ratio > float(os.environ.get("LOADTEST_MAX_FAILURE_RATIO", "0.01")):
        problems.append(f"taux d'échec {ratio:.2%}")
    return problems
