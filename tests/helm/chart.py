"""Rendering helm/guichet offline (helm-python-sdk: Helm's own Go engine, no cluster, no helm binary) and
walking what it renders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "guichet"
EXAMPLES = ROOT / "helm" / "examples"
RELEASE, NAMESPACE = "guichet", "guichet"

Manifest = dict[str, Any]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """What `helm -f a.yaml -f b.yaml` does with several values files: later files win, maps merge."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_values(*files: Path) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for path in files:
        values = deep_merge(values, yaml.safe_load(path.read_text()) or {})
    return values


SHIPPED = {  # chart copy -> its source, kept identical by `make helm-files`
    "minio-subscribe.sh": ROOT / "infra" / "minio" / "subscribe.sh",
    "guichet.rules.yml": ROOT / "infra" / "prometheus" / "rules" / "guichet.rules.yml",
    "guichet-operations.json": ROOT / "infra" / "grafana" / "guichet-operations.json",
}


def production_values() -> dict[str, Any]:
    """production_files() merged; while a monitoring file is not written yet (its source absent from
    infra/), the part of the example that needs it is turned off (test_chart_files.py says so)."""
    values = load_values(*production_files())
    for name, switch in (
        ("guichet.rules.yml", "prometheusRule"),
        ("guichet-operations.json", "grafanaDashboard"),
    ):
        if not (CHART / "files" / name).exists():
            values["metrics"][switch]["enabled"] = False
    return values


def production_files() -> list[Path]:
    """The production example, with the capacity model's figures layered last (as documented)."""
    files = [EXAMPLES / "production.yaml"]
    sizing = EXAMPLES / "sizing-800k.yaml"
    return [*files, sizing] if sizing.exists() else files


def render(values: dict[str, Any] | None = None) -> list[Manifest]:
    """Every rendered object; raises helm_python's HelmValuesError (schema) or HelmRenderError."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values or {}, name=RELEASE, namespace=NAMESPACE)
    manifests: list[Manifest] = []
    for path, text in sorted(rendered.items()):
        if path.endswith(".txt"):  # NOTES.txt
            continue
        manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return manifests


def defaults() -> dict[str, Any]:
    with helm.Chart.load(CHART) as chart:
        return chart.values


def find(manifests: list[Manifest], kind: str, component: str | None = None) -> list[Manifest]:
    return [
        m
        for m in manifests
        if m["kind"] == kind
        and (component is None or m["metadata"]["labels"].get("app.kubernetes.io/component") == component)
    ]


def one(manifests: list[Manifest], kind: str, component: str) -> Manifest:
    found = find(manifests, kind, component)
    assert len(found) == 1, f"{len(found)} {kind} for {component}"
    return found[0]


def pod_spec(manifest: Manifest) -> dict[str, Any] | None:
    spec = manifest.get("spec", {})
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template = spec.get("template")
    if template is None:
        return None
    return dict(template["spec"])


def containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def container(manifest: Manifest, name: str) -> dict[str, Any]:
    spec = pod_spec(manifest)
    assert spec is not None
    return next(c for c in containers(spec) if c["name"] == name)


def strings(node: Any) -> Iterator[tuple[str, str]]:
    """(path, value) of every string in a manifest, keys included."""
    stack: list[tuple[str, Any]] = [("", node)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                yield f"{path}/{key}", str(key)
                stack.append((f"{path}/{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str):
            yield path, value
