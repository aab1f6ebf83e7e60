"""What an operations review found would break `helm install` (issue 16, D1-D13 and the model, vLLM,
RabbitMQ and KEDA points): each test fails on the chart as it was before the fix."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from guichet.capacity.simulator.profile import DEFAULT_PROFILE, load_profile
from guichet.settings import Settings
from guichet.wiring import build_broker
from tests.helm.chart import (
    EXAMPLES,
    ROOT,
    Manifest,
    container,
    containers,
    defaults,
    find,
    one,
    pod_spec,
    render,
)

GUICHET = ("functions", "answer-worker", "index-worker", "reconcile", "purge")


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def config(manifests: list[Manifest]) -> dict[str, str]:
    return dict(one(manifests, "ConfigMap", "config")["data"])


def guichet_containers(manifests: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for m in manifests:
        component = m["metadata"]["labels"].get("app.kubernetes.io/component")
        spec = pod_spec(m) if m["kind"] in ("Deployment", "CronJob") else None
        if spec is not None and component in GUICHET:
            found.extend((component, c) for c in containers(spec) if c["name"] != "vllm")
    return found


# --- D1, D2, D7: buckets, notifications and definitions ------------------------------------------------


def test_d1_the_notifications_job_creates_the_answers_bucket_too() -> None:
    values = defaults()
    script = container(one(render(), "Job", "minio-notifications"), "configure")["args"][0]
    assert f"mc mb --ignore-existing guichet/{values['config']['answersBucket']}" in script


@pytest.mark.parametrize("component", ["rabbitmq-definitions", "minio-notifications"])
def test_d2_setup_jobs_are_not_hooks_that_wait_behind_readiness(component: str) -> None:
    manifests = render()
    job = one(manifests, "Job", component)
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})
    for m in manifests:  # nothing the Job needs is a hook either (it would not exist before the wait)
        assert "helm.sh/hook" not in m["metadata"].get("annotations", {}), m["metadata"]["name"]


def test_d2_a_changed_setup_job_gets_a_new_name_since_a_jobs_template_is_immutable() -> None:
    before = one(render(), "Job", "rabbitmq-definitions")["metadata"]["name"]
    same = one(render(), "Job", "rabbitmq-definitions")["metadata"]["name"]
    after = one(render({"queues": {"ask": {"maxLength": 123}}}), "Job", "rabbitmq-definitions")
    assert before == same and after["metadata"]["name"] != before


def run_subscribe(tmp_path: Path, mc_script: str) -> subprocess.CompletedProcess[str]:
    """infra/minio/subscribe.sh against a fake `mc` (the fake certifies the script's logic only)."""
    fake = tmp_path / "mc"
    fake.write_text('#!/usr/bin/env bash\necho "$*" >> "$CALLS"\n' + mc_script)
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "CALLS": str(tmp_path / "calls")}
    script = ROOT / "infra" / "minio" / "subscribe.sh"
    return subprocess.run(["bash", str(script), "a", "docs"], env=env, capture_output=True, text=True)


def test_d7_a_failed_subscription_fails_the_script(tmp_path: Path) -> None:
    result = run_subscribe(tmp_path, 'if [ "$1 $2" = "event add" ]; then echo refused >&2; exit 1; fi\n')
    assert result.returncode != 0


def test_d7_the_chart_ships_the_script_as_it_is() -> None:
    shipped = (ROOT / "helm" / "guichet" / "files" / "minio-subscribe.sh").read_text()
    assert "|| true" not in shipped


# --- D3, D4, D5, D6 ------------------------------------------------------------------------------------


def test_d3_each_image_is_pinned_by_its_own_digest() -> None:
    digests = {
        "functions": "sha256:" + "a" * 64,
        "answerWorker": "sha256:" + "b" * 64,
        "indexWorker": "sha256:" + "c" * 64,
    }
    manifests = render({"image": {"digests": digests}})
    by_component = {component: c["image"] for component, c in guichet_containers(manifests)}
    assert by_component["functions"].endswith("@" + digests["functions"])
    assert by_component["answer-worker"].endswith("@" + digests["answerWorker"])
    assert by_component["index-worker"].endswith("@" + digests["indexWorker"])
    assert by_component["reconcile"].endswith("@" + digests["indexWorker"])  # the CronJobs' image


def test_d4_an_external_llm_gets_its_key_from_a_secret() -> None:
    manifests = render(
        {"vllm": {"mode": "external", "model": "albert-large",
                  "external": {"url": "https://albert.api.etalab.gouv.fr/v1", "apiKeySecret": "albert"}}}
    )  # fmt: skip
    worker = env_of(container(one(manifests, "Deployment", "answer-worker"), "answer-worker"))
    assert worker["GUICHET_LLM_API_KEY"] == {"secretKeyRef": {"name": "albert", "key": "api-key"}}
    assert config(manifests)["GUICHET_LLM_URL"] == "https://albert.api.etalab.gouv.fr/v1"
    assert not find(manifests, "Deployment", "vllm")
    functions = env_of(container(one(manifests, "Deployment", "functions"), "functions"))
    assert "GUICHET_LLM_API_KEY" not in functions  # only the process that calls the model holds its key


def test_d4_the_embeddings_key_comes_from_a_secret() -> None:
    manifests = render(
        {"config": {"embedUrl": "https://albert.api.etalab.gouv.fr/v1", "embedApiKeySecret": "albert"}}
    )
    for component, c in guichet_containers(manifests):
        assert env_of(c)["GUICHET_EMBED_API_KEY"] == {"secretKeyRef": {"name": "albert", "key": "api-key"}}, (
            component
        )


def test_d5_downloaded_weights_do_not_land_in_the_small_tmp_volume() -> None:
    manifests = render({"vllm": {"source": "registry"}})
    deployment = one(manifests, "Deployment", "vllm")
    vllm = container(deployment, "vllm")
    hf_home = env_of(vllm)["HF_HOME"]
    mount = max(
        (m for m in vllm["volumeMounts"] if hf_home.startswith(m["mountPath"])),
        key=lambda m: len(m["mountPath"]),
    )
    assert mount["name"] != "tmp"
    volume = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == mount["name"])  # type: ignore[index]
    assert volume["emptyDir"]["sizeLimit"] == defaults()["vllm"]["registry"]["cacheSizeLimit"]
    claimed = render({"vllm": {"source": "registry", "registry": {"cacheClaim": "hf-cache"}}})
    volumes = pod_spec(one(claimed, "Deployment", "vllm"))["volumes"]  # type: ignore[index]
    assert {"name": "hf-cache", "persistentVolumeClaim": {"claimName": "hf-cache"}} in volumes


@pytest.mark.parametrize("mode,component", [("deployment", "vllm"), ("sidecar", "answer-worker")])
def test_d6_gpu_pods_roll_without_a_spare_gpu(mode: str, component: str) -> None:
    deployment = one(render({"vllm": {"mode": mode}}), "Deployment", component)
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }


# --- D8, D9, D10, D11, D12, D13 ------------------------------------------------------------------------


def test_d8_a_custom_dead_letter_exchange_reaches_the_application() -> None:
    manifests = render({"queues": {"deadLetterExchange": "ops.dlx"}})
    data = config(manifests)
    assert data["GUICHET_DEAD_LETTER_EXCHANGE"] == "ops.dlx"
    env = {k.removeprefix("GUICHET_").lower(): v for k, v in data.items() if k.startswith("GUICHET_")}
    settings = Settings.model_validate({**env, "broker_url": "amqp://guest:guest@127.0.0.1:1/"})
    broker = build_broker(settings)  # the application declares its queues with this exchange
    assert broker.dead_letter_exchange == "ops.dlx"  # type: ignore[attr-defined]


def test_d9_scale_down_windows_are_hpa_behavior_not_cooldown() -> None:
    manifests = render()
    values = defaults()
    for component, key in (
        ("answer-worker", "answerWorker"),
        ("index-worker", "indexWorker"),
        ("vllm", "vllm"),
    ):
        spec = one(manifests, "ScaledObject", component)["spec"]
        window = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
        assert window["stabilizationWindowSeconds"] == values[key]["keda"]["scaleDownStabilizationSeconds"]
    text = (ROOT / "helm" / "guichet" / "values.yaml").read_text()
    for comment in re.findall(r"#.*\n\s*cooldownPeriod:", text):
        assert "zero" in comment


def test_d10_rabbitmqs_per_queue_consumers_are_scraped() -> None:
    manifests = render({"metrics": {"serviceMonitor": {"enabled": True}}})
    monitor = one(manifests, "ServiceMonitor", "rabbitmq")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics/detailed" and "queue_consumer_count" in endpoint["params"]["family"]
    rules = (ROOT / "infra" / "prometheus" / "rules" / "guichet.rules.yml").read_text()
    assert "rabbitmq_detailed_queue_consumers" in rules  # the series GuichetNoConsumer reads


def test_d11_the_bundled_umbrella_dials_weaviate_grpc_on_its_grpc_service() -> None:
    umbrella = yaml.safe_load((EXAMPLES / "bundled" / "values.yaml").read_text())
    manifests = render(umbrella["guichet"])
    data = config(manifests)
    assert data["GUICHET_WEAVIATE_GRPC_HOST"] == "weaviate-grpc"  # the weaviate chart's gRPC Service
    settings = Settings.model_validate({"weaviate_grpc_host": data["GUICHET_WEAVIATE_GRPC_HOST"]})
    assert settings.weaviate_grpc_host == "weaviate-grpc"


def test_d12_the_ingress_accepts_the_documents_the_application_accepts() -> None:
    manifests = render({"ingress": {"enabled": True}})
    annotations = one(manifests, "Ingress", "functions")["metadata"]["annotations"]
    size = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert size.endswith("m") and int(size[:-1]) * 1024 * 1024 > int(
        config(manifests)["GUICHET_MAX_DOCUMENT_BYTES"]
    )
    assert int(config(manifests)["GUICHET_MAX_DOCUMENT_BYTES"]) == Settings().max_document_bytes
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"  # SSE
    mine = render(
        {"ingress": {"enabled": True, "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "50m"}}}
    )
    assert (
        one(mine, "Ingress", "functions")["metadata"]["annotations"][
            "nginx.ingress.kubernetes.io/proxy-body-size"
        ]
        == "50m"
    )


def test_d13_a_private_ca_is_mounted_for_every_s3_client() -> None:
    manifests = render(
        {"objectStore": {"endpoint": "https://minio:9000", "caBundle": {"configMap": "corp-ca"}}}
    )
    for component, c in guichet_containers(manifests):
        assert env_of(c)["AWS_CA_BUNDLE"] == "/etc/guichet/ca/ca.crt", component
        assert {"name": "ca-bundle", "mountPath": "/etc/guichet/ca", "readOnly": True} in c["volumeMounts"]
    job = one(manifests, "Job", "minio-notifications")
    mounts = {m["name"]: m["mountPath"] for m in container(job, "configure")["volumeMounts"]}
    assert mounts["ca-bundle"] == "/tmp/.mc/certs/CAs"
    volumes = {v["name"]: v for v in pod_spec(job)["volumes"]}  # type: ignore[index]
    assert volumes["ca-bundle"]["configMap"]["name"] == "corp-ca"


# --- the model, vLLM as UID 10001, RabbitMQ permissions, KEDA credentials -------------------------------


def test_the_default_model_is_the_profiled_instruct_model_with_room_for_a_prompt() -> None:
    values = defaults()
    profile = load_profile(DEFAULT_PROFILE)
    assert values["vllm"]["model"] == profile.model and "Instruct" in profile.model
    prompt_tokens = Settings().llm_prompt_chars / profile.chars_per_token
    assert (
        prompt_tokens + values["config"]["llmMaxTokens"]
        <= values["vllm"]["maxModelLen"]
        <= profile.max_model_len
    )


def test_a_chat_template_is_mounted_and_passed_to_vllm() -> None:
    manifests = render({"vllm": {"chatTemplate": "{{ messages }}"}})
    vllm = container(one(manifests, "Deployment", "vllm"), "vllm")
    assert "--chat-template=/etc/vllm/chat-template.jinja" in vllm["args"]
    assert {"name": "chat-template", "mountPath": "/etc/vllm", "readOnly": True} in vllm["volumeMounts"]
    (template,) = [
        m for m in find(manifests, "ConfigMap") if m["metadata"]["name"].endswith("vllm-chat-template")
    ]
    assert template["data"]["chat-template.jinja"] == "{{ messages }}"


def test_vllm_as_uid_10001_has_a_user_name_and_writable_caches() -> None:
    vllm = container(one(render(), "Deployment", "vllm"), "vllm")
    env = env_of(vllm)
    assert env["USER"] and env["LOGNAME"]  # torch's getpass.getuser() without a passwd entry
    writable = [m["mountPath"] for m in vllm["volumeMounts"] if not m.get("readOnly")]
    for name in (
        "HOME",
        "XDG_CACHE_HOME",
        "HF_HOME",
        "VLLM_CACHE_ROOT",
        "TORCHINDUCTOR_CACHE_DIR",
        "TRITON_CACHE_DIR",
    ):
        assert any(env[name].startswith(path) for path in writable), name
    assert vllm["securityContext"]["readOnlyRootFilesystem"] is True


def test_keda_reads_queues_as_a_monitoring_user_and_the_job_as_admin() -> None:
    manifests = render()
    (ref,) = one(manifests, "TriggerAuthentication", "keda")["spec"]["secretTargetRef"]
    job_env = env_of(container(one(manifests, "Job", "rabbitmq-definitions"), "load-definitions"))
    assert ref["key"] == defaults()["broker"]["monitoringUrlKey"]
    assert (
        job_env["RABBITMQ_MANAGEMENT_URL"]["secretKeyRef"]["key"] == defaults()["broker"]["managementUrlKey"]
    )
    assert ref["key"] != job_env["RABBITMQ_MANAGEMENT_URL"]["secretKeyRef"]["key"]


def test_the_vhost_grants_the_application_user_its_permissions() -> None:
    manifests = render({"broker": {"vhost": "guichet", "user": "app"}})
    secret = next(
        m
        for m in manifests
        if m["kind"] == "Secret" and m["metadata"]["name"].endswith("rabbitmq-definitions")
    )
    loaded = json.loads(secret["stringData"]["load_definition.json"])
    assert {"name": "guichet"} in loaded["vhosts"]
    assert loaded["permissions"] == [
        {"user": "app", "vhost": "guichet", "configure": ".*", "write": ".*", "read": ".*"}
    ]


# --- the sizing file matches the capacity model for the model deployed ---------------------------------


def test_the_sizing_example_is_what_guichet_sizing_writes(tmp_path: Path) -> None:
    out = tmp_path / "sizing.yaml"
    guichet = Path(sys.executable).parent / "guichet"
    subprocess.run([str(guichet), "sizing", "--helm-values", str(out)], check=True, capture_output=True)
    committed = yaml.safe_load((EXAMPLES / "sizing-800k.yaml").read_text())
    assert yaml.safe_load(out.read_text()) == committed
    assert load_profile(DEFAULT_PROFILE).model == defaults()["vllm"]["model"]


# --- what the images run exists in them -----------------------------------------------------------------


def test_every_command_the_chart_runs_is_a_command_of_the_image_entry_point() -> None:
    """The images' ENTRYPOINT is the `guichet` script of pyproject (installed from the wheel of src/: the
    only code the images hold; functions/app.py is not in them). Each container's args must be one of its
    commands: `guichet <args> --help` exits 0."""
    containerfile = (ROOT / "containers" / "Containerfile").read_text()
    assert containerfile.count('ENTRYPOINT ["guichet"]') == 3
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^guichet = "guichet\.', pyproject, re.MULTILINE)
    guichet = Path(sys.executable).parent / "guichet"
    commands = {leading_words(c["args"]) for _, c in guichet_containers(render())}
    expected = {("function",), ("worker", "answer"), ("worker", "index"), ("reconcile",), ("purge",)}
    assert commands == expected
    for command in commands:
        result = subprocess.run([str(guichet), *command, "--help"], capture_output=True, text=True)
        assert result.returncode == 0, (command, result.stderr[-500:])


def leading_words(args: list[str]) -> tuple[str, ...]:
    """The subcommand path of a command line: the words before its first option."""
    words: list[str] = []
    for arg in args:
        if arg.startswith("-"):
            break
        words.append(arg)
    return tuple(words)


def test_the_reranker_is_configured_from_the_chart() -> None:
    # docs/decisions/0032: the embedded reranker by default, a TEI or Albert endpoint when set, its key
    # from a Secret for every guichet process (they all search).
    settings = Settings()
    assert defaults()["config"]["rerankEmbedded"] is settings.rerank_embedded
    assert defaults()["config"]["rerankApi"] == settings.rerank_api
    plain = one(render({}), "ConfigMap", "config")["data"]
    assert plain["GUICHET_RERANK_EMBEDDED"] == "true" and "GUICHET_RERANK_URL" not in plain
    values = {"rerankUrl": "https://albert.api.etalab.gouv.fr/v1", "rerankApi": "albert"}
    manifests = render(
        {"config": {**values, "rerankModel": "BAAI/bge-reranker-v2-m3", "rerankApiKeySecret": "albert"}}
    )
    config = one(manifests, "ConfigMap", "config")["data"]
    assert (config["GUICHET_RERANK_URL"], config["GUICHET_RERANK_API"]) == tuple(values.values())
    assert config["GUICHET_RERANK_MODEL"] == "BAAI/bge-reranker-v2-m3"
    for component, c in guichet_containers(manifests):
        assert env_of(c)["GUICHET_RERANK_API_KEY"] == {
            "secretKeyRef": {"name": "albert", "key": "api-key"}
        }, component
