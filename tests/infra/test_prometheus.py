"""infra/prometheus: promtool checks the config and the rules and runs the rules' unit tests; every alert
carries its severity, summary, description and a French and an English runbook line, and is tested both
firing and silent."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

PROMETHEUS = Path(__file__).resolve().parents[2] / "infra" / "prometheus"
RULES = PROMETHEUS / "rules" / "guichet.rules.yml"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
SEVERITIES = {"critical", "warning"}
ANNOTATIONS = {"summary", "description", "runbook_fr", "runbook_en"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        reason = "promtool absent (Debian package prometheus; make test installs it)"
        if os.environ.get("CI"):  # as for RabbitMQ: in CI it must be there
            pytest.fail(reason)
        pytest.skip(reason)
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120, check=False)


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_accepts_the_config_and_its_rule_files() -> None:
    result = promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    assert RULE_TESTS
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_severity_a_summary_and_two_runbook_lines() -> None:
    assert alerts()
    for alert in alerts():
        name = alert["alert"]
        assert alert["labels"]["severity"] in SEVERITIES, name
        assert set(alert["annotations"]) == ANNOTATIONS, name
        for language in ("runbook_fr", "runbook_en"):
            line = alert["annotations"][language]
            assert line.strip() and "\n" not in line, f"{name}: {language} must be one line"


def test_every_alert_is_tested_firing_and_silent() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {alert["alert"] for alert in alerts()}
    assert names - firing == set(), "never shown firing"
    assert names - silent == set(), "never shown silent"


def test_the_first_token_alert_watches_what_guichet_sizing_targets() -> None:
    """One story: the SLO the alert pages on is the sizing's ttft-p95 target, measured over the same span
    (from the question, queue wait included: the stage ask_to_first_token)."""
    from guichet import metrics
    from guichet.capacity.sizing import Inputs

    (alert,) = [a for a in alerts() if a["alert"] == "GuichetFirstTokenAboveSLO"]
    match = re.fullmatch(
        r'guichet:answer_stage_seconds:p95_5m\{stage="(\w+)"\} > ([\d.]+)', alert["expr"].strip()
    )
    assert match is not None, alert["expr"]
    stage, threshold = match.groups()
    assert stage == "ask_to_first_token" and stage in metrics.STAGES
    assert float(threshold) == Inputs().ttft_p95_target_s
