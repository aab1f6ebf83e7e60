"""The files the chart ships (.Files.Get reads only inside the chart) are the infra/ files themselves:
`make helm-files` copies them; this fails when a copy drifted from its source."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.helm.chart import CHART, EXAMPLES, SHIPPED, render


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_chart_copy_is_identical_to_its_infra_source(name: str) -> None:
    source, copy = SHIPPED[name], CHART / "files" / name
    if not source.exists():
        assert not copy.exists(), f"{copy} has no source {source}"
        pytest.skip(f"{source} not written yet: the chart renders without it")
    assert copy.exists(), f"{copy} missing: run `make helm-files`"
    assert copy.read_bytes() == source.read_bytes(), f"{copy} differs from {source}: run `make helm-files`"


def test_the_bundled_umbrella_chart_wraps_this_chart_with_optional_services() -> None:
    umbrella = yaml.safe_load((EXAMPLES / "bundled" / "Chart.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert "dependencies" not in chart  # `helm install` would need them downloaded, even disabled
    deps = {d["name"]: d for d in umbrella["dependencies"]}
    assert (
        deps["guichet"]["version"] == chart["version"]
        and deps["guichet"]["repository"] == "file://../../guichet"
    )
    assert {name: d.get("condition") for name, d in deps.items() if name != "guichet"} == {
        "rabbitmq": "rabbitmq.enabled",
        "minio": "minio.enabled",
        "weaviate": "weaviate.enabled",
    }
    values = yaml.safe_load((EXAMPLES / "bundled" / "values.yaml").read_text())
    render(values["guichet"])  # its guichet values satisfy this chart's schema


KEY_LINE = re.compile(r"^(\s*)(?:- )?([\w./-]+):(.*)$")


def undocumented(text: str) -> list[str]:
    """Keys with a value and no comment line right above them, unless a documented ("# --") parent
    covers them (resources, tolerations: raw Kubernetes data under one comment)."""
    found, stack, previous = [], [], ""  # stack: (indent, covers its children)
    for line in text.splitlines():
        match = KEY_LINE.match(line)
        if match is None or line.lstrip().startswith("#"):
            previous = line if line.strip() else previous
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        commented = previous.strip().startswith("#")
        covered = any(covers for _, covers in stack)
        if match.group(3).split(" #")[0].strip() and not (commented or covered):
            found.append(line.strip())
        stack.append((indent, covered or previous.strip().startswith("# --")))
        previous = line
    return found


def test_values_are_documented_line_by_line() -> None:
    assert undocumented((CHART / "values.yaml").read_text()) == []
    assert undocumented("a:\n  # -- b\n  b: 1\n  c: 2\n") == ["c: 2"]
    assert undocumented("# -- r\nr:\n  requests: {cpu: 1}\n") == []
