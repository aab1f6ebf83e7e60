"""What matters in the rendered chart: autoscaling on the right signals with the configured thresholds,
GPUs only where vLLM runs, probes, non-root pods, disruption budgets, network isolation, graceful
shutdown, RabbitMQ topology identical to the application's, and no credential in clear."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from guichet.capacity.simulator.profile import DEFAULT_PROFILE, load_profile
from guichet.ports.answer_streams.rabbitmq import stream_arguments
from guichet.ports.broker import retry_delays
from guichet.ports.brokers.rabbitmq import delay_name, delay_queue_arguments, work_queue_arguments
from guichet.settings import Settings
from tests.helm.chart import (
    EXAMPLES,
    Manifest,
    container,
    containers,
    deep_merge,
    defaults,
    find,
    one,
    pod_spec,
    production_values,
    render,
    strings,
)

WORKLOADS = ("Deployment", "Job", "CronJob")


@pytest.fixture(scope="module", params=["defaults", "production"])
def case(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[Manifest]]:
    """(the effective values, the rendered manifests) for the default values and the production example."""
    overrides = {} if request.param == "defaults" else production_values()
    return deep_merge(defaults(), overrides), render(overrides)


def workloads(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m["kind"] in WORKLOADS]


# --- autoscaling ---------------------------------------------------------------------------------------


def test_workers_scale_on_queue_length_through_the_management_api(
    case: tuple[dict[str, Any], list[Manifest]],
) -> None:
    values, manifests = case
    auth = one(manifests, "TriggerAuthentication", "keda")
    (host,) = auth["spec"]["secretTargetRef"]
    # KEDA reads queue lengths as a `monitoring` user, never with the definitions Job's admin URL
    assert host == {"parameter": "host", "name": values["broker"]["existingSecret"], "key": "monitoring-url"}
    for component, key, queue in (
        ("answer-worker", "answerWorker", "ask"),
        ("index-worker", "indexWorker", "index"),
    ):
        scaled = one(manifests, "ScaledObject", component)
        keda = values[key]["keda"]
        assert (
            scaled["spec"]["scaleTargetRef"]["name"]
            == one(manifests, "Deployment", component)["metadata"]["name"]
        )
        assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (
            keda["minReplicaCount"],
            keda["maxReplicaCount"],
        )
        (trigger,) = scaled["spec"]["triggers"]
        assert (
            trigger["type"] == "rabbitmq" and trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
        )
        meta = trigger["metadata"]
        # protocol http: the management API counts unacknowledged jobs too (AMQP would see only ready ones)
        assert meta["protocol"] == "http" and meta["mode"] == "QueueLength"
        assert (
            meta["value"] == str(keda["queueLength"]) and meta["queueName"] == values["queues"][queue]["name"]
        )
        # KEDA owns the replica count: a Deployment's own count would fight it at each upgrade
        assert "replicas" not in one(manifests, "Deployment", component)["spec"]


def test_vllm_scales_on_waiting_requests_of_its_model(case: tuple[dict[str, Any], list[Manifest]]) -> None:
    values, manifests = case
    (trigger,) = one(manifests, "ScaledObject", "vllm")["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    query = trigger["metadata"]["query"]
    assert "vllm:num_requests_waiting" in query and f'model_name="{values["vllm"]["model"]}"' in query
    assert trigger["metadata"]["threshold"] == str(values["vllm"]["keda"]["numRequestsWaitingThreshold"])


def test_the_production_example_carries_the_capacity_models_figures() -> None:
    sizing_file = EXAMPLES / "sizing-800k.yaml"
    if not sizing_file.exists():
        pytest.skip("helm/examples/sizing-800k.yaml not generated yet (guichet sizing --helm-values)")
    sizing = yaml.safe_load(sizing_file.read_text())
    manifests = render(production_values())
    answer = one(manifests, "ScaledObject", "answer-worker")["spec"]
    assert answer["triggers"][0]["metadata"]["value"] == str(sizing["answerWorker"]["keda"]["queueLength"])
    assert answer["maxReplicaCount"] == sizing["answerWorker"]["keda"]["maxReplicaCount"]
    vllm = one(manifests, "Deployment", "vllm")
    assert f"--max-num-seqs={sizing['vllm']['maxNumSeqs']}" in container(vllm, "vllm")["args"]
    hpa = one(manifests, "HorizontalPodAutoscaler", "functions")["spec"]
    assert hpa["maxReplicas"] == sizing["functions"]["autoscaling"]["maxReplicas"]
    config = one(manifests, "ConfigMap", "config")["data"]
    assert config["GUICHET_ANSWER_CONCURRENCY"] == str(sizing["answerWorker"]["concurrency"])
    # every key the capacity model writes exists in the chart (the schema refuses unknown keys anyway)
    render(sizing)


# --- GPUs and the model --------------------------------------------------------------------------------


def gpus(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        c["name"]: c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu")
        for c in containers(spec)
        if c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu")
    }


def test_gpus_only_on_the_vllm_pods(case: tuple[dict[str, Any], list[Manifest]]) -> None:
    values, manifests = case
    vllm = one(manifests, "Deployment", "vllm")
    spec = pod_spec(vllm)
    assert spec is not None and gpus(spec) == {"vllm": values["vllm"]["gpus"]}
    assert container(vllm, "vllm")["resources"]["requests"]["nvidia.com/gpu"] == values["vllm"]["gpus"]
    assert any(t.get("key") == "nvidia.com/gpu" for t in spec["tolerations"])
    for other in workloads(manifests):
        if other is not vllm:
            other_spec = pod_spec(other)
            assert other_spec is not None and not gpus(other_spec), other["metadata"]["name"]


def test_vllm_serves_the_profiled_instruct_model_from_the_volume_offline(
    case: tuple[dict[str, Any], list[Manifest]],
) -> None:
    values, manifests = case
    vllm = container(one(manifests, "Deployment", "vllm"), "vllm")
    assert vllm["image"].startswith("docker.io/vllm/vllm-openai:v")
    assert values["vllm"]["model"] == load_profile(DEFAULT_PROFILE).model  # what guichet sizing models
    args = vllm["args"]
    assert args[0] == f"/models/{values['vllm']['volume']['path']}"
    assert f"--served-model-name={values['vllm']['model']}" in args
    assert f"--max-num-seqs={values['vllm']['maxNumSeqs']}" in args
    env = {e["name"]: e.get("value") for e in vllm["env"]}
    assert env["HF_HUB_OFFLINE"] == "1"
    config = one(manifests, "ConfigMap", "config")["data"]
    assert config["GUICHET_LLM_MODEL"] == values["vllm"]["model"]
    assert config["GUICHET_LLM_URL"].endswith(":8000/v1")


def test_vllm_as_a_sidecar_puts_the_gpu_on_the_answer_worker_pod() -> None:
    manifests = render({"vllm": {"mode": "sidecar", "nodeSelector": {"gpu": "h100"}}})
    assert not find(manifests, "Deployment", "vllm") and not find(manifests, "ScaledObject", "vllm")
    worker = one(manifests, "Deployment", "answer-worker")
    spec = pod_spec(worker)
    assert spec is not None and gpus(spec) == {"vllm": 1}
    (sidecar,) = spec["initContainers"]  # a native sidecar: outlives the worker's own shutdown
    assert sidecar["restartPolicy"] == "Always" and sidecar["startupProbe"]["httpGet"]["path"] == "/health"
    assert spec["nodeSelector"] == {"gpu": "h100"}
    assert any(t.get("key") == "nvidia.com/gpu" for t in spec["tolerations"])
    assert one(manifests, "ConfigMap", "config")["data"]["GUICHET_LLM_URL"] == "http://127.0.0.1:8000/v1"


def test_a_model_from_the_registry_is_downloaded_not_offline() -> None:
    manifests = render({"vllm": {"source": "registry", "registry": {"tokenSecret": "hf"}}})
    vllm = container(one(manifests, "Deployment", "vllm"), "vllm")
    assert vllm["args"][0] == defaults()["vllm"]["model"]
    names = {e["name"] for e in vllm["env"]}
    assert "HF_HUB_OFFLINE" not in names and "HF_TOKEN" in names
    assert not any(v["name"] == "models" for v in pod_spec(one(manifests, "Deployment", "vllm"))["volumes"])  # type: ignore[index]


# --- probes, security, disruption, shutdown ------------------------------------------------------------


def test_probes(case: tuple[dict[str, Any], list[Manifest]]) -> None:
    values, manifests = case
    functions = container(one(manifests, "Deployment", "functions"), "functions")
    assert functions["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert functions["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    for component in ("answer-worker", "index-worker"):
        worker = container(one(manifests, "Deployment", component), component)
        assert worker["ports"] == [
            {"name": "metrics", "containerPort": values["config"]["metricsPort"], "protocol": "TCP"}
        ]
        assert worker["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
        assert worker["readinessProbe"]["tcpSocket"] == {"port": "metrics"}
    vllm = container(one(manifests, "Deployment", "vllm"), "vllm")
    assert {vllm[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")} == {
        "/health"
    }


def test_every_pod_runs_non_root_read_only_without_privileges(
    case: tuple[dict[str, Any], list[Manifest]],
) -> None:
    _, manifests = case
    checked = 0
    for workload in workloads(manifests):
        spec = pod_spec(workload)
        assert spec is not None
        pod = spec.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True and pod.get("runAsUser", 0) > 0, workload["metadata"]["name"]
        assert spec.get("automountServiceAccountToken") is False
        for c in containers(spec):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsNonRoot"] is True, c["name"]
            checked += 1
    assert checked >= 6


def test_disruption_budgets_cover_every_long_running_component(
    case: tuple[dict[str, Any], list[Manifest]],
) -> None:
    _, manifests = case
    for component in ("functions", "answer-worker", "index-worker", "vllm"):
        pdb = one(manifests, "PodDisruptionBudget", component)
        labels = pod_spec_labels(one(manifests, "Deployment", component))
        assert pdb["spec"]["maxUnavailable"] >= 1  # never blocks a node drain outright
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def pod_spec_labels(manifest: Manifest) -> dict[str, str]:
    return dict(manifest["spec"]["template"]["metadata"]["labels"])


def test_answer_workers_outlive_the_longest_generation(case: tuple[dict[str, Any], list[Manifest]]) -> None:
    values, manifests = case
    spec = pod_spec(one(manifests, "Deployment", "answer-worker"))
    assert spec is not None
    assert spec["terminationGracePeriodSeconds"] >= values["config"]["llmMaxDuration"] + 30 >= 330
    vllm = pod_spec(one(manifests, "Deployment", "vllm"))
    assert vllm is not None and vllm["terminationGracePeriodSeconds"] > values["vllm"]["drainSeconds"]
    functions = container(one(manifests, "Deployment", "functions"), "functions")
    assert functions["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"


def test_a_grace_period_shorter_than_a_generation_is_refused() -> None:
    with pytest.raises(Exception, match="terminationGracePeriodSeconds"):
        render({"config": {"llmMaxDuration": 600}, "answerWorker": {"terminationGracePeriodSeconds": 400}})


# --- network -------------------------------------------------------------------------------------------


def policies_for(manifests: list[Manifest], labels: dict[str, str]) -> list[Manifest]:
    def selects(policy: Manifest) -> bool:
        selector = policy["spec"]["podSelector"]
        if not selector.get("matchLabels", {}).items() <= labels.items():
            return False
        return all(
            labels.get(e["key"]) in e["values"]
            for e in selector.get("matchExpressions", [])
            if e["operator"] == "In"
        )

    return [p for p in find(manifests, "NetworkPolicy") if selects(p)]


def egress_ports(policy: Manifest) -> set[int]:
    return {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}


def test_every_pod_is_isolated_both_ways_with_dns(case: tuple[dict[str, Any], list[Manifest]]) -> None:
    _, manifests = case
    for workload in workloads(manifests):
        labels = workload["spec"].get("template", {}).get("metadata", {}).get("labels")
        if labels is None:  # CronJob
            labels = workload["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        (policy,) = policies_for(manifests, labels)
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"], workload["metadata"]["name"]
        assert 53 in egress_ports(policy)


def test_only_answer_workers_reach_vllm(case: tuple[dict[str, Any], list[Manifest]]) -> None:
    _, manifests = case
    vllm_labels = pod_spec_labels(one(manifests, "Deployment", "vllm"))
    (vllm_policy,) = policies_for(manifests, vllm_labels)
    sources = [peer for rule in vllm_policy["spec"]["ingress"] for peer in rule["from"]]
    worker_source = {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "guichet",
                "app.kubernetes.io/instance": "guichet",
                "app.kubernetes.io/component": "answer-worker",
            }
        }
    }
    assert worker_source in sources
    assert all(p == worker_source or "namespaceSelector" in p for p in sources)  # else: Prometheus only
    (worker_policy,) = policies_for(manifests, pod_spec_labels(one(manifests, "Deployment", "answer-worker")))
    assert 8000 in egress_ports(worker_policy)
    for component in ("functions", "index-worker"):
        (policy,) = policies_for(manifests, pod_spec_labels(one(manifests, "Deployment", component)))
        assert 8000 not in egress_ports(policy), component
        assert {5672, 9000, 8080} <= egress_ports(policy)
    (functions_policy,) = policies_for(manifests, pod_spec_labels(one(manifests, "Deployment", "functions")))
    assert [p["port"] for rule in functions_policy["spec"]["ingress"] for p in rule["ports"]] == [8000, 8000]


# --- RabbitMQ topology ---------------------------------------------------------------------------------


def definitions(manifests: list[Manifest]) -> dict[str, Any]:
    secret = one(manifests, "Secret", "rabbitmq")
    return dict(json.loads(secret["stringData"]["load_definition.json"]))


def test_definitions_declare_the_queues_exactly_as_the_application(
    case: tuple[dict[str, Any], list[Manifest]],
) -> None:
    values, manifests = case
    q = values["queues"]
    loaded = definitions(manifests)
    queues = {queue["name"]: queue["arguments"] for queue in loaded["queues"]}
    for name in (q["ask"]["name"], q["index"]["name"]):
        assert queues[name] == work_queue_arguments(name, q["maxDeliveries"], q["deadLetterExchange"])
        assert queues[f"{name}.dead"] == {"x-queue-type": "quorum"}
    for shard in range(values["config"]["answerStreamShards"]):
        assert queues[f"guichet.answers.{shard}"] == stream_arguments(
            values["config"]["answerStreamRetention"]
        )
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in loaded["bindings"]}
    assert (q["documentsExchange"], q["index"]["name"], q["index"]["name"]) in bindings
    assert (q["deadLetterExchange"], f"{q['ask']['name']}.dead", q["ask"]["name"]) in bindings
    parked = f"{q['ask']['name']}.dead.dead"
    assert (q["deadLetterExchange"], parked, f"{q['ask']['name']}.dead") in bindings
    exchanges = {x["name"]: x["type"] for x in loaded["exchanges"]}
    for seconds in retry_delays(q["maxDeliveries"], 1.0, 30.0):  # the application's default backoff
        name = delay_name("guichet.delay", seconds)
        assert queues[name] == delay_queue_arguments(seconds)
        assert exchanges[name] == "fanout" and (name, name, "") in bindings
    assert "users" not in loaded  # no password in the chart: only the app user's permissions
    assert loaded["permissions"] == [
        {"user": values["broker"]["user"], "vhost": values["broker"]["vhost"],
         "configure": ".*", "write": ".*", "read": ".*"}
    ]  # fmt: skip


def test_queue_limits_are_policies_with_reject_publish(case: tuple[dict[str, Any], list[Manifest]]) -> None:
    values, manifests = case
    policies = {p["pattern"]: p for p in definitions(manifests)["policies"]}
    ask = policies[f"^{re.escape(values['queues']['ask']['name'])}$"]
    assert ask["definition"] == {
        "max-length": values["queues"]["ask"]["maxLength"],
        "overflow": "reject-publish",
    }
    assert re.fullmatch(ask["pattern"], values["queues"]["ask"]["name"])
    assert not re.fullmatch(ask["pattern"], values["queues"]["ask"]["name"] + ".dead")


def test_minio_notifications_are_persistent_and_confirmed(
    case: tuple[dict[str, Any], list[Manifest]],
) -> None:
    values, manifests = case
    job = one(manifests, "Job", "minio-notifications")
    script = container(job, "configure")["args"][0]
    for setting in ("delivery_mode=2", "publisher_confirms=on", "durable=on", "mandatory=on"):
        assert setting in script
    assert f"queue_dir={values['objectStore']['notifications']['queueDir']}" in script
    assert f"exchange={values['queues']['documentsExchange']}" in script
    subscribe = one(manifests, "ConfigMap", "minio-notifications")["data"]["subscribe.sh"]
    assert "arn=arn:minio:sqs::GUICHET:amqp" in subscribe and '"$arn" --event put,delete' in subscribe


# --- credentials ---------------------------------------------------------------------------------------

CREDENTIAL_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")
SECRET_NAMES = re.compile(
    r"(^|_)(PASSWORD|SECRET|TOKEN|API_KEY|ACCESS_KEY|BROKER_URL|AMQP_URL|MANAGEMENT_URL)(_|$)"
)


def test_no_credential_in_clear(case: tuple[dict[str, Any], list[Manifest]]) -> None:
    _, manifests = case
    for manifest in manifests:
        for path, text in strings(manifest):
            assert not CREDENTIAL_URL.search(text), f"{manifest['kind']}{path}: credentials in a URL"
        if manifest["kind"] == "ConfigMap":
            assert not any(SECRET_NAMES.search(key) for key in manifest["data"]), manifest["metadata"]["name"]
    for workload in workloads(manifests):
        spec = pod_spec(workload)
        assert spec is not None
        for c in containers(spec):
            for env in c.get("env", []):
                if SECRET_NAMES.search(env["name"]):
                    assert "value" not in env and "secretKeyRef" in env["valueFrom"], (c["name"], env["name"])
    # The only Secret the chart writes is the RabbitMQ definitions (no user, no password).
    assert [s["metadata"]["name"] for s in find(manifests, "Secret")] == ["guichet-rabbitmq-definitions"]


def test_the_credential_checks_catch_a_leak() -> None:
    leaked = render({"config": {"extraEnv": {"GUICHET_LLM_URL_X": "http://user:hunter2@llm:8000/v1"}}})
    config = one(leaked, "ConfigMap", "config")
    assert any(CREDENTIAL_URL.search(text) for _, text in strings(config))


# --- values schema -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"functions": {"mode": "lambda"}}, "functions/mode"),
        ({"vllm": {"mode": "gpu"}}, "vllm/mode"),
        ({"answerWorker": {"concurrency": "8"}}, "answerWorker/concurrency"),
        ({"answerWorker": {"keda": {"queueLength": 0}}}, "queueLength"),
        ({"queues": {"ask": {"maxLength": -1}}}, "maxLength"),
        ({"answerWorker": {"replicas": 3}}, "replicas"),
        ({"brokerUrl": "amqp://guest:guest@rabbitmq:5672/"}, "brokerUrl"),
        ({"config": {"extraEnv": {"GUICHET_BROKER_URL": "amqp://guest:guest@rabbitmq/"}}}, "extraEnv"),
        ({"vllm": {"image": {"tag": "latest"}}}, "vllm/image/tag"),
        ({"vllm": {"mode": "external"}}, "url"),
    ],
)
def test_values_violating_the_schema_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):  # helm_python's HelmValuesError is a ValueError
        render(values)


def test_knative_mode_replaces_deployment_service_and_hpa() -> None:
    manifests = render(
        {"functions": {"mode": "knative", "autoscaling": {"minReplicas": 3, "maxReplicas": 7}}}
    )
    assert not find(manifests, "Deployment", "functions") and not find(manifests, "HorizontalPodAutoscaler")
    (service,) = [m for m in manifests if m["apiVersion"] == "serving.knative.dev/v1"]
    annotations = service["spec"]["template"]["metadata"]["annotations"]
    assert (
        annotations["autoscaling.knative.dev/min-scale"],
        annotations["autoscaling.knative.dev/max-scale"],
    ) == ("3", "7")
    (c,) = service["spec"]["template"]["spec"]["containers"]
    assert (
        c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["securityContext"]["runAsNonRoot"] is True
    )


def test_ingress_terminates_tls_for_the_functions() -> None:
    values = production_values()
    (ingress,) = find(render(values), "Ingress")
    assert ingress["spec"]["tls"] == [
        {"hosts": [values["ingress"]["host"]], "secretName": values["ingress"]["tlsSecret"]}
    ]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "guichet-functions", "port": {"name": "http"}}


# --- maintenance ---------------------------------------------------------------------------------------


def test_maintenance_jobs_reconcile_hourly_and_purge_with_the_configured_retention() -> None:
    manifests = render({"purge": {"answerRetentionDays": 7, "feedbackRetentionDays": 90}})
    reconcile = one(manifests, "CronJob", "reconcile")
    assert container(reconcile, "reconcile")["args"] == ["reconcile", "--json"]
    purge = one(manifests, "CronJob", "purge")
    purger = container(purge, "purge")
    assert purger["args"] == ["purge", "--json"]
    env = {e["name"]: e.get("value") for e in purger["env"]}
    assert env["GUICHET_ANSWER_RETENTION_DAYS"] == "7"
    assert env["GUICHET_FEEDBACK_RETENTION_DAYS"] == "90"
    assert not find(render({"purge": {"enabled": False}}), "CronJob", "purge")


# --- open SSE streams ----------------------------------------------------------------------------------


def test_the_stream_caps_are_set_per_replica_from_the_chart() -> None:
    # Each function replica counts its own open streams (docs/decisions/0030): the chart names its values
    # per replica, passes them to the functions, and starts from the settings' own defaults.
    streams = defaults()["functions"]["streams"]
    settings = Settings()
    assert (streams["perReplica"], streams["perSitePerReplica"]) == (
        settings.streams_per_replica,
        settings.streams_per_site,
    )
    config = one(render({"functions": {"streams": {"perSitePerReplica": 25}}}), "ConfigMap", "config")["data"]
    assert (config["GUICHET_STREAMS_PER_SITE"], config["GUICHET_STREAMS_PER_REPLICA"]) == ("25", "1000")
