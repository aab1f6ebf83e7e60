"""Every vllm:* name the project uses exists on vLLM itself, and the simulator's families are the real ones.

The alert and recording rules, the dashboard, the list of external metrics, the Helm chart (KEDA's trigger
on vllm:num_requests_waiting) and the load tests' model check name vLLM's series; the capacity simulator
serves some of them. Here they are checked against the /metrics of the real vLLM 0.32 server
(tests/vllm_server.py), not against a list written by hand: a name vLLM dropped or renamed (V0's
vllm:gpu_cache_usage_perc is gone) fails here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from guichet.capacity.simulator import load_profile
from guichet.capacity.simulator.server import create_app, serving
from tests.vllm_server import VLLM_MODEL, VllmServer

pytestmark = pytest.mark.vllm

REPO = Path(__file__).resolve().parents[2]
# Where vllm:* names are written (files read whole: expressions, runbooks, templates, comments).
USERS = [
    "infra/prometheus/rules",
    "infra/prometheus/external-metrics.yml",
    "infra/prometheus/prometheus.yml",
    "infra/grafana",
    "helm/guichet/templates",
    "helm/guichet/files",
    "helm/guichet/values.yaml",
    "loadtests",
    "src/guichet",
]
_NAME = re.compile(r"vllm:[a-z][a-z0-9_]*")
SUFFIXES = {"_total", "_bucket", "_count", "_sum", "_created"}
# Labels Prometheus itself adds to a scraped series (the chart's KEDA query selects on namespace).
TARGET_LABELS = {"namespace", "pod", "instance", "job", "service", "container"}


def files() -> Iterator[Path]:
    for user in USERS:
        path = REPO / user
        yield from (sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])


def used_names() -> dict[str, set[str]]:
    """Each vllm:* name written in the project, with the files it is in."""
    names: dict[str, set[str]] = {}
    for path in files():
        for name in _NAME.findall(path.read_text(encoding="utf-8", errors="replace")):
            names.setdefault(name, set()).add(str(path.relative_to(REPO)))
    return names


def selector_labels() -> set[str]:
    """The label names selected or grouped on beside a vllm:* name (`{model_name="…"}`, `by (model_name)`)."""
    labels: set[str] = set()
    for path in files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in re.finditer(r"vllm:[a-z0-9_]+\{([^}]*)\}", text):
            labels |= set(re.findall(r"([a-z_]+)\s*[=!~]", match.group(1)))
        for match in re.finditer(r"by \(([a-z_, ]+)\) \(\s*(?:rate\()?vllm:", text):
            labels |= {label.strip() for label in match.group(1).split(",")}
    return labels - {"le"}


@dataclasses.dataclass(frozen=True)
class Family:
    type: str
    help: str
    labels: frozenset[str]
    buckets: tuple[str, ...]


def families(exposition: str) -> dict[str, Family]:
    """The vllm:* families of a /metrics text, by family name (counters without _total)."""
    found: dict[str, Family] = {}
    for family in text_string_to_metric_families(exposition):
        if family.name.startswith("vllm:") and family.samples:
            found[family.name] = Family(
                family.type, family.documentation, _labels(family.samples), _buckets(family.samples)
            )
    return found


def sample_names(exposition: str) -> set[str]:
    return {s.name for f in text_string_to_metric_families(exposition) for s in f.samples} | {
        f.name for f in text_string_to_metric_families(exposition)
    }


def _labels(samples: list[Sample]) -> frozenset[str]:
    return frozenset(name for sample in samples for name in sample.labels if name != "le")


def _buckets(samples: list[Sample]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.labels["le"] for s in samples if s.name.endswith("_bucket")))


@pytest.fixture(scope="module")
def real(vllm: VllmServer) -> str:
    return vllm.metrics()


@pytest.fixture(scope="module")
def simulated() -> str:
    profile = dataclasses.replace(load_profile(), max_model_len=1024, output_tokens=8)
    with serving(create_app(profile, speed=50.0, model_name=VLLM_MODEL)) as base:
        body = {"messages": [{"role": "user", "content": "Bonjour"}], "max_tokens": 4}
        httpx.post(f"{base}/chat/completions", json=body, timeout=30).raise_for_status()
        return httpx.get(f"{base.removesuffix('/v1')}/metrics", timeout=10).text


def test_the_project_names_vllm_series(real: str) -> None:
    names = used_names()
    assert {"vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"} <= set(names)  # the reader works
    assert "vllm:gpu_cache_usage_perc" not in sample_names(real)  # and would catch V0's name


def test_every_vllm_name_used_exists_on_the_real_server(real: str) -> None:
    exists = sample_names(real)
    unknown = {name: sorted(where) for name, where in used_names().items() if name not in exists}
    assert unknown == {}


def test_the_series_used_carry_engine_and_model_name(real: str) -> None:
    # Not every vLLM family does (vllm:admission_rejections has no engine): those the project reads do.
    named = families(real)
    used = {f for f in named if any(n == f or n.removeprefix(f) in SUFFIXES for n in used_names())}
    assert {"vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"} <= used
    for name in used:
        assert {"engine", "model_name"} <= named[name].labels, name
    assert f'model_name="{VLLM_MODEL}"' in real


def test_the_labels_selected_on_exist(real: str) -> None:
    labels = set().union(*(family.labels for family in families(real).values()))
    assert selector_labels() - labels - TARGET_LABELS == set()
    assert "model_name" in selector_labels()


def test_the_simulator_serves_the_real_families(real: str, simulated: str) -> None:
    reference, imitation = families(real), families(simulated)
    assert len(imitation) >= 10
    different = {
        name: (family, reference.get(name))
        for name, family in imitation.items()
        if reference.get(name) != family
    }
    assert different == {}


def test_the_simulator_series_are_real_series(real: str, simulated: str) -> None:
    # The same series up front too: vLLM creates a request_success series per finish reason at start.
    def series(text: str) -> set[tuple[str, frozenset[tuple[str, str]]]]:
        return {
            (sample.name, frozenset(sample.labels.items()))
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name.startswith("vllm:")
        }

    assert series(simulated) <= series(real)
