"""The chart renders offline (helm-python-sdk) with the default values, the production example and each
mode, and every object is valid: built-in kinds by kubernetes-validate --strict (unknown fields refused)
for Kubernetes 1.33 and the latest version the package ships; custom resources (KEDA, Prometheus
Operator, Knative) against the minimal schemas of crd_schemas.py."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest

from tests.helm.chart import CHART, Manifest, production_values, render
from tests.helm.crd_schemas import CUSTOM

K8S_VERSIONS = ("1.33.0", kubernetes_validate.latest_version())

VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "production": production_values(),
    "vllm-sidecar": {"vllm": {"mode": "sidecar"}},
    "vllm-external-registry": {
        "vllm": {
            "mode": "external",
            "source": "registry",
            "external": {"url": "https://albert.example.fr/v1"},
        }
    },
    "knative": {"functions": {"mode": "knative"}, "metrics": {"serviceMonitor": {"enabled": True}}},
    "no-keda": {
        "answerWorker": {"keda": {"enabled": False}},
        "indexWorker": {"keda": {"enabled": False}},
        "vllm": {"keda": {"enabled": False}},
        "functions": {"autoscaling": {"enabled": False}},
    },
}


def validate(manifest: Manifest, version: str) -> None:
    schema = CUSTOM.get((manifest["apiVersion"], manifest["kind"]))
    if schema is not None:
        jsonschema.validate(manifest, schema)
    else:
        kubernetes_validate.validate(manifest, version, strict=True)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_rendered_object_is_valid(variant: str, version: str) -> None:
    manifests = render(VARIANTS[variant])
    assert len(manifests) >= 10
    for manifest in manifests:
        try:
            validate(manifest, version)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
            name = f"{manifest['kind']}/{manifest['metadata']['name']}"
            pytest.fail(f"{variant}: {name} invalid for Kubernetes {version}: {exc.message}")


def test_the_validators_refuse_what_they_should() -> None:
    # Guards the test above: a misspelt field is refused by both kinds of validation.
    deployment = next(m for m in render() if m["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment, K8S_VERSIONS[0])
    scaled = next(m for m in render() if m["kind"] == "ScaledObject")
    scaled["spec"]["triggers"][0]["metadata"]["queueLenght"] = "5"
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled, K8S_VERSIONS[0])


def test_each_custom_kind_rendered_has_a_schema() -> None:
    rendered = {(m["apiVersion"], m["kind"]) for v in VARIANTS.values() for m in render(v)}
    custom = {key for key in rendered if "." in key[0].split("/")[0] and not key[0].endswith("k8s.io/v1")}
    custom -= {("apps/v1", k) for k in ("Deployment",)}
    assert custom <= set(CUSTOM), custom - set(CUSTOM)
    assert ("keda.sh/v1alpha1", "ScaledObject") in custom and ("serving.knative.dev/v1", "Service") in custom


@pytest.mark.parametrize("variant", ["defaults", "production"])
def test_helm_lint_strict_finds_nothing(variant: str) -> None:
    report = helm.lint(CHART, VARIANTS[variant], strict=True, kube_version="v1.33.0")
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == []
