"""The dashboard and the rules only use metrics that exist: defined in guichet.metrics, recorded by the rules,
or listed in infra/prometheus/external-metrics.yml (vLLM, RabbitMQ, Prometheus). Renaming a metric in the
code without the dashboards and alerts, or the reverse, fails here."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from guichet import metrics
from tests.infra.test_prometheus import PROMETHEUS, RULES, promtool

DASHBOARD = PROMETHEUS.parent / "grafana" / "guichet-operations.json"
EXTERNAL = PROMETHEUS / "external-metrics.yml"

# The sample names a family of each type exposes (prometheus_client, OpenMetrics text).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}
_STRINGS = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")
_LABEL_LISTS = re.compile(
    r"\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
)
_NAMES = re.compile(r"(?<![\w:$])([a-zA-Z_:][\w:]*+)(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (functions, label names and strings left out)."""
    bare = _LABEL_LISTS.sub(" ", _STRINGS.sub('""', expr))
    return {name for name in _NAMES.findall(bare) if name.lower() not in _KEYWORDS}


def guichet_series() -> set[str]:
    families = [
        m
        for value in vars(metrics).values()
        if isinstance(value, MetricWrapperBase)
        for m in value.describe()
    ]
    families += metrics.QueueDepths(lambda q: 0, []).describe()
    return {family.name + suffix for family in families for suffix in SUFFIXES[family.type]}


def rule_groups() -> list[dict[str, Any]]:
    return yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]  # type: ignore[no-any-return]


def recorded() -> set[str]:
    return {rule["record"] for group in rule_groups() for rule in group["rules"] if "record" in rule}


def external() -> set[str]:
    listed = yaml.safe_load(EXTERNAL.read_text(encoding="utf-8"))
    return {name for source in listed.values() for name in source}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def dashboard_exprs() -> Iterator[tuple[str, str]]:
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def rule_exprs() -> Iterator[tuple[str, str]]:
    for group in rule_groups():
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (le, stage) (rate(guichet_x_bucket{stage=~"a|b"}[$__rate_interval]))', {"guichet_x_bucket"}),
        ('a:b:c{queue!~".+\\\\.dead"} > 0 unless on (queue) (sum(vllm:y) > 0)', {"a:b:c", "vllm:y"}),
        ("histogram_quantile(0.95, x) and on () up == 0", {"x", "up"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_guichet_series_are_introspected_with_their_suffixes() -> None:
    series = guichet_series()
    assert {"guichet_asks_total", "guichet_answer_stage_seconds_bucket", "guichet_queue_depth"} <= series
    assert "guichet_asks" not in series


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_metric_used_exists(source: str) -> None:
    known = guichet_series() | recorded() | external()
    exprs = rule_exprs() if source == "rules" else dashboard_exprs()
    unknown = {f"{where}: {name}" for where, expr in exprs for name in metric_names(expr) - known}
    assert unknown == set()


def test_the_dashboard_is_valid_and_its_datasource_is_a_variable() -> None:
    board = dashboard()
    ids = [panel["id"] for panel in board["panels"]]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert (
        variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    )
    for panel in board["panels"]:
        for item in [panel, *panel.get("targets", [])]:
            if panel["type"] != "row":
                assert item["datasource"]["uid"] == "${datasource}", panel["title"]
    assert len(list(dashboard_exprs())) >= 20


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query, written as a recording rule ($__rate_interval given a value)."""
    rules = [
        {"record": f"dashboard:query_{n}", "expr": expr.replace("$__rate_interval", "5m")}
        for n, (_title, expr) in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_listed_external_metric_is_used() -> None:
    used = {name for _where, expr in [*rule_exprs(), *dashboard_exprs()] for name in metric_names(expr)}
    assert external() - used == set()
