"""CI's bounded load test: functions + answer worker on real RabbitMQ, answers in S3 (moto), the engine
simulator at 10× speed as the model; Locust headless for 45 s at about one ask per second."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from loadtests.run import parse, run
from loadtests.stack import LoadStack, SimulatorOptions, build_index, lost_jobs

pytestmark = [pytest.mark.load, pytest.mark.rabbitmq, pytest.mark.s3, pytest.mark.slow]


def test_short_load_run_meets_its_slo_and_loses_nothing(amqp_url: str, moto_s3: str, tmp_path: Path) -> None:
    index = build_index(tmp_path / "indexed")
    out, ids = tmp_path / "report", tmp_path / "ids.txt"
    with LoadStack(
        index,
        tmp_path / "logs",
        s3_endpoint=moto_s3,
        amqp_url=amqp_url,
        simulator=SimulatorOptions(speed=10.0),
    ) as stack:
        # SLOs loose enough for a shared 2-core CI runner: this run checks the path end to end, the
        # capacity figures come from loadtests/validate_model.py.
        args = ["--host", stack.url, "--rate", "1", "--duration", "45", "--pacing", "10",
                "--slo-ttft", "15", "--slo-answer", "40", "--out", str(out), "--ids", str(ids)]  # fmt: skip
        code = run(parse(args))
        accepted = ids.read_text(encoding="utf-8").split()
        lost = lost_jobs(stack.url, accepted)
    assert code == 0, (out / "locust_failures.csv").read_text(encoding="utf-8")
    with open(out / "locust_stats.csv", encoding="utf-8", newline="") as file:
        rows = {row["Name"]: row for row in csv.DictReader(file)}
    assert int(rows["answer"]["Request Count"]) >= 20
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert len(accepted) >= 20 and lost == []
    assert (out / "report.html").read_text(encoding="utf-8").count("<img") == 2
    assert (out / "report-latency.png").read_bytes().startswith(b"\x89PNG")
