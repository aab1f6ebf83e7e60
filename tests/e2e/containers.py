"""The chart's workloads in containers, end to end (scripts/e2e-containers.sh run; issue 16).

Renders helm/guichet, turns each Deployment, Job and CronJob pod template into a Pod for
`podman kube play` and checks: the definitions Job loads RabbitMQ's topology, a document uploaded through
the functions container is indexed by the index-worker container, a question asked through the functions
container is answered by the answer-worker container, the maintenance CronJobs succeed, and every
container runs as the chart says (non-root UID, read-only root filesystem, probes answering).

What stands in for what (kube play is not a cluster):
- RabbitMQ: a private node on this machine (management plugin on, guest from loopback), one per run.
- MinIO: moto's S3 server. moto sends no bucket notifications: MinioEvents below publishes MinIO's exact
  notification JSON (guichet.indexing.notifications.build_bucket_notification) to the documents exchange
  for each object written, and the buckets are made here as the minio-notifications Job's `mc mb` would
  (its `mc admin` half needs a real MinIO: that Job is not run).
- vLLM: the chart's vLLM pod (its security context, env, volumes and probes) with the engine simulator
  (python -m guichet.capacity.simulator, from the functions image) in place of the vLLM image and command:
  no GPU here. Its PersistentVolumeClaim is an empty host folder.
- Weaviate: the embedded index in a host folder shared by the pods (GUICHET_INDEX_URL overridden).
- Services: host networking (hostNetwork: true); ports shifted to free ones where two pods would collide.
- The kubelet's env resolution (configMapRef, secretKeyRef) is done here; emptyDir and Secret volumes are
  host folders; probes are run from here against the containers (kube play runs no readiness probe).
- KEDA, HPA, PDB and NetworkPolicies: not run (scaling and isolation are checked on the rendered objects
  by tests/helm).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pika
import yaml

from guichet.indexing.notifications import build_bucket_notification
from guichet.testing.helpers import free_port
from tests.faults.rabbitmq_node import RABBITMQ_BIN, PrivateRabbitMQ
from tests.helm.chart import render

ROOT = Path(__file__).resolve().parents[2]
FICHES = ROOT.parent / "shared" / "fiches" / "xml"
CURL_IMAGE = "localhost/guichet-e2e-curl:latest"
MODEL = "e2e-model"
Manifest = dict[str, Any]


def log(message: str) -> None:
    print(f"[e2e] {message}", flush=True)


class Failure(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)
    log(f"ok: {message}")


def wait_until(what: str, probe: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise Failure(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


# --- stand-ins ------------------------------------------------------------------------------------------


class ManagedRabbitMQ(PrivateRabbitMQ):
    """A private node with the management API (the definitions Job and KEDA use it)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.management_port = free_port()
        (root / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
            f"management.tcp.port = {self.management_port}\nmanagement.tcp.ip = 127.0.0.1\n"
        )
        (root / "enabled_plugins").write_text("[rabbitmq_management].\n")

    def management_url(self) -> str:
        return f"http://guest:guest@127.0.0.1:{self.management_port}/"


class MinioEvents:
    """Polls the documents bucket and publishes one MinIO notification per new or changed object."""

    def __init__(self, s3: Any, bucket: str, amqp_url: str, exchange: str, routing_key: str) -> None:
        self.s3, self.bucket = s3, bucket
        self.amqp_url, self.exchange, self.routing_key = amqp_url, exchange, routing_key
        self.seen: dict[str, str] = {}

    def poll(self) -> int:
        published = 0
        listing = self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        for item in listing:
            key, etag = item["Key"], item["ETag"].strip('"')
            if self.seen.get(key) == etag:
                continue
            body = build_bucket_notification(
                "s3:ObjectCreated:Put",
                self.bucket,
                key,
                size=item["Size"],
                etag=etag,
                sequencer=f"{time.time_ns():016X}",
                content_type="application/xml",
            )
            with contextlib.closing(pika.BlockingConnection(pika.URLParameters(self.amqp_url))) as conn:
                channel = conn.channel()
                channel.confirm_delivery()
                channel.basic_publish(
                    self.exchange, self.routing_key, body, pika.BasicProperties(delivery_mode=2)
                )
            self.seen[key] = etag
            published += 1
        return published


# --- chart → pods -----------------------------------------------------------------------------------------


def e2e_values(repository: str, tag: str, s3_endpoint: str) -> dict[str, Any]:
    return {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "objectStore": {"endpoint": s3_endpoint, "notifications": {"job": False}},
        "broker": {"vhost": "guichet", "user": "guest", "definitions": {"image": CURL_IMAGE}},
        "vllm": {"model": MODEL},
        "config": {"extraEnv": {"GUICHET_AUTH": "off"}, "answerStreamShards": 1},
        "networkPolicy": {"enabled": False},
    }


def pod_template(manifest: Manifest) -> dict[str, Any]:
    spec = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"])


class PodFactory:
    def __init__(self, manifests: list[Manifest], secrets: dict[str, dict[str, str]], work: Path) -> None:
        self.config_maps = {
            m["metadata"]["name"]: m.get("data", {}) for m in manifests if m["kind"] == "ConfigMap"
        }
        self.secrets = dict(secrets)
        for m in manifests:
            if m["kind"] == "Secret":
                self.secrets[m["metadata"]["name"]] = m.get("stringData", {})
        self.work = work
        self.ports: dict[str, dict[str, int]] = {}  # pod → named port → host port

    def pod(self, manifest: Manifest, env: dict[str, str]) -> tuple[str, Manifest]:
        template = pod_template(manifest)
        name = manifest["metadata"]["name"]
        spec = json.loads(json.dumps(template["spec"]))
        pod_security = spec.pop("securityContext", {})
        for key in ("serviceAccountName", "automountServiceAccountToken", "terminationGracePeriodSeconds"):
            spec.pop(key, None)
        spec["hostNetwork"] = True
        spec["volumes"] = [self._volume(name, v) for v in spec.get("volumes", [])]
        self.ports[name] = {}
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            self._container(name, c, pod_security, env)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
        return name, pod

    def _container(
        self, pod: str, c: dict[str, Any], pod_security: dict[str, Any], env: dict[str, str]
    ) -> None:
        resolved: dict[str, str] = {}
        for source in c.pop("envFrom", []):
            resolved.update(self.config_maps[source["configMapRef"]["name"]])
        for item in c.pop("env", []):
            if "value" in item:
                resolved[item["name"]] = str(item["value"])
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                resolved[item["name"]] = self.secrets[ref["name"]][ref["key"]]
        resolved.update(env)
        # hostNetwork: every pod shares the host's ports; give each one a free port.
        for port in c.get("ports", []):
            host_port = free_port()
            self.ports[pod][str(port["containerPort"])] = host_port  # probes that name the number
            if "args" in c and str(port["containerPort"]) in c["args"]:
                c["args"] = [str(host_port) if a == str(port["containerPort"]) else a for a in c["args"]]
            if resolved.get("GUICHET_METRICS_PORT") == str(port["containerPort"]):
                resolved["GUICHET_METRICS_PORT"] = str(host_port)
            port["containerPort"] = host_port
            self.ports[pod][port.get("name", str(port["containerPort"]))] = host_port
        c.pop("ports", None)  # host networking: podman maps no port (the process listens on the host)
        c["env"] = [{"name": k, "value": v} for k, v in resolved.items()]
        security = c.setdefault("securityContext", {})
        for key in ("runAsUser", "runAsGroup", "runAsNonRoot"):  # what the kubelet inherits from the pod
            if key in pod_security:
                security.setdefault(key, pod_security[key])
        c.pop("resources", None)
        c.pop("lifecycle", None)
        c.pop("restartPolicy", None)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            c.pop(f"_{probe}", None)
            if probe in c:
                c[f"x-{probe}"] = c.pop(probe)  # run from here (see module docstring)

    def _volume(self, pod: str, volume: dict[str, Any]) -> dict[str, Any]:
        folder = self.work / "volumes" / pod / volume["name"]
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, 10001, 10001)
        if "secret" in volume:
            for key, value in self.secrets[volume["secret"]["secretName"]].items():
                (folder / key).write_text(value)
                os.chmod(folder / key, 0o644)
        elif "configMap" in volume:
            for key, value in self.config_maps[volume["configMap"]["name"]].items():
                (folder / key).write_text(value)
        return {"name": volume["name"], "hostPath": {"path": str(folder), "type": "Directory"}}


def simulate_vllm(pod: Manifest, ports: dict[str, int], image: str) -> int:
    """The chart's vLLM pod as rendered (user, read-only root, env, volumes, probes on /health) running the
    engine simulator from the functions image instead of `vllm serve` (no GPU, no vLLM image here)."""
    (vllm,) = pod["spec"]["containers"]
    port = ports["http"]
    vllm["image"] = image
    vllm["command"] = ["python", "-m", "guichet.capacity.simulator"]
    vllm["args"] = ["--host", "127.0.0.1", "--port", str(port), "--speed", "10", "--served-model-name", MODEL]
    return port


def strip_probes(pod: Manifest) -> tuple[Manifest, dict[str, dict[str, Any]]]:
    probes: dict[str, dict[str, Any]] = {}
    for c in pod["spec"]["containers"]:
        for key in [k for k in c if k.startswith("x-")]:
            probes.setdefault(c["name"], {})[key[2:]] = c.pop(key)
    return pod, probes


# --- podman -----------------------------------------------------------------------------------------------


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise Failure(f"podman {' '.join(args)}: {result.stderr.strip()[-2000:]}")
    return result


class Pods:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.names: list[str] = []

    def play(self, name: str, pod: Manifest) -> None:
        path = self.work / f"{name}.yaml"
        path.write_text(yaml.safe_dump(pod, sort_keys=False))
        podman("kube", "play", str(path), timeout=300)
        self.names.append(name)
        log(f"kube play {name}")

    def container(self, pod: str, container: str) -> str:
        return f"{pod}-{container}"

    def exit_code(self, pod: str, container: str, timeout: float) -> int:
        result = podman("wait", self.container(pod, container), timeout=timeout)
        return int(result.stdout.strip().splitlines()[-1])

    def logs(self, pod: str, container: str) -> str:
        result = podman("logs", self.container(pod, container), check=False)
        return result.stdout + result.stderr

    def down(self) -> None:
        for name in reversed(self.names):
            podman("pod", "rm", "--force", "--time", "10", name, check=False, timeout=120)


def check_runs_as_the_chart_says(pods: Pods, pod: str, container: dict[str, Any]) -> None:
    name = pods.container(pod, container["name"])
    security = container["securityContext"]
    inspect = json.loads(podman("inspect", name).stdout)[0]
    uid = podman("exec", name, "python3", "-c", "import os; print(os.getuid(), os.getgid())").stdout.split()
    check(uid == [str(security["runAsUser"]), str(security["runAsGroup"])], f"{name} runs as {'/'.join(uid)}")
    check(uid[0] != "0", f"{name} is not root")
    readonly = bool(inspect["HostConfig"].get("ReadonlyRootfs"))
    check(readonly == bool(security.get("readOnlyRootFilesystem")), f"{name} read-only root: {readonly}")
    write = podman("exec", name, "python3", "-c", "open('/probe', 'w')", check=False)
    check(write.returncode != 0, f"{name} cannot write its root filesystem")
    caps = inspect.get("EffectiveCaps") or []
    check(not caps, f"{name} holds no capability ({caps})")


def run_probe(kind: str, probe: dict[str, Any], ports: dict[str, int]) -> bool:
    if "httpGet" in probe:
        get = probe["httpGet"]
        port = ports[str(get["port"])]
        return httpx.get(f"http://127.0.0.1:{port}{get['path']}", timeout=3).status_code < 400
    if "tcpSocket" in probe:
        import socket

        port_ref = probe["tcpSocket"]["port"]
        port = ports[str(port_ref)]
        with socket.create_connection(("127.0.0.1", port), timeout=3):
            return True
    raise Failure(f"{kind}: unsupported probe {probe}")


# --- the run ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def process(args: list[str], logfile: Path) -> Iterator[subprocess.Popen[bytes]]:
    with logfile.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def run(args: argparse.Namespace) -> None:
    work = Path(args.work) / f"run-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    index_dir = work / "index"
    index_dir.mkdir()
    os.chown(index_dir, 10001, 10001)
    bin_dir = Path(sys.executable).parent
    s3_port = free_port()
    rabbit = ManagedRabbitMQ(work / "rabbitmq")
    pods = Pods(work)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        stack.callback(rabbit.stop)
        rabbit.start()
        log(f"RabbitMQ (private node) on {rabbit.port}, management on {rabbit.management_port}")
        stack.enter_context(
            process([str(bin_dir / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)], work / "moto.log")
        )
        stack.callback(pods.down)
        values = e2e_values(args.repository, args.tag, f"http://127.0.0.1:{s3_port}")
        manifests = render(values)
        config = next(
            m for m in manifests if m["kind"] == "ConfigMap" and m["metadata"]["name"].endswith("-config")
        )
        data = config["data"]
        amqp_url = f"amqp://guest:guest@127.0.0.1:{rabbit.port}/guichet"
        secrets = {
            "guichet-rabbitmq": {"url": amqp_url, "management-url": rabbit.management_url(),
                                 "monitoring-url": rabbit.management_url()},
            "guichet-s3": {"access-key": "e2e", "secret-key": "e2e-secret"},
        }  # fmt: skip
        s3 = boto3.client(
            "s3", endpoint_url=f"http://127.0.0.1:{s3_port}", region_name="us-east-1",
            aws_access_key_id="e2e", aws_secret_access_key="e2e-secret",
        )  # fmt: skip
        wait_until("moto's S3 server", lambda: s3.list_buckets() is not None, 30)
        documents, answers = data["GUICHET_STORE_URL"][5:], data["GUICHET_ANSWERS_URL"][5:]
        for bucket in (documents, answers):  # what the minio-notifications Job's `mc mb` does
            s3.create_bucket(Bucket=bucket)
        factory = PodFactory(manifests, secrets, work)
        functions_image = f"{args.repository}-functions:{args.tag}"
        overrides = {"GUICHET_INDEX_URL": "/data/index", "GUICHET_DATA_DIR": "/tmp/guichet"}

        def with_index(pod: Manifest) -> Manifest:
            pod["spec"]["volumes"].append(
                {"name": "index", "hostPath": {"path": str(index_dir), "type": "Directory"}}
            )
            for c in pod["spec"]["containers"]:
                c.setdefault("volumeMounts", []).append({"name": "index", "mountPath": "/data/index"})
            return pod

        # 1. the definitions Job: queues, exchanges, policies, vhost and the app user's permissions
        (definitions,) = [
            m for m in manifests if m["kind"] == "Job" and "rabbitmq-definitions" in m["metadata"]["name"]
        ]
        name, pod = factory.pod(definitions, {})
        pod, _ = strip_probes(pod)
        pods.play(name, pod)
        code = pods.exit_code(name, "load-definitions", 180)
        check(code == 0, f"definitions Job exited {code}: {pods.logs(name, 'load-definitions')[-500:]}")

        # 2. the Deployments
        probes: dict[str, dict[str, dict[str, Any]]] = {}
        specs: dict[str, list[dict[str, Any]]] = {}
        deployments = [m for m in manifests if m["kind"] == "Deployment"]
        components = {m["metadata"]["labels"]["app.kubernetes.io/component"] for m in deployments}
        check(components == {"functions", "answer-worker", "index-worker", "vllm"}, "four Deployments")
        # vLLM first: the answer workers dial it (through its Service in a cluster, its host port here)
        deployments.sort(key=lambda m: m["metadata"]["labels"]["app.kubernetes.io/component"] != "vllm")
        for deployment in deployments:
            component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
            if component == "vllm":
                name, pod = factory.pod(deployment, {})
                llm_port = simulate_vllm(pod, factory.ports[name], functions_image)
                overrides["GUICHET_LLM_URL"] = f"http://127.0.0.1:{llm_port}/v1"
            else:
                name, pod = factory.pod(deployment, overrides)
                pod = with_index(pod)
            pod, probes[name] = strip_probes(pod)
            specs[name] = pod["spec"]["containers"]
            pods.play(name, pod)
        for name, containers in probes.items():
            for container, kinds in containers.items():
                for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                    if kind in kinds:
                        probe, ports = kinds[kind], factory.ports[name]
                        wait_until(
                            f"{name}/{container} {kind}",
                            lambda k=kind, p=probe, n=ports: run_probe(k, p, n),  # type: ignore[misc]
                            180,
                        )
                        log(f"ok: {name}/{container} {kind} answers")
        for name, containers in specs.items():
            for container in containers:
                check_runs_as_the_chart_says(pods, name, container)
        functions = next(n for n in specs if n.endswith("-functions"))
        index_worker = next(n for n in specs if n.endswith("-index-worker"))
        answer_worker = next(n for n in specs if n.endswith("-answer-worker"))
        api = f"http://127.0.0.1:{factory.ports[functions]['http']}"

        # 3. a document through the API, indexed by the index-worker container
        fiche = sorted(FICHES.glob("*.xml"))[0] if FICHES.exists() else None
        check(fiche is not None, f"a real fiche to upload ({FICHES})")
        assert fiche is not None
        upload = httpx.post(
            f"{api}/v1/documents",
            files={"file": (fiche.name, fiche.read_bytes(), "application/xml")},
            timeout=30,
        )
        check(upload.status_code == 201, f"POST /v1/documents → {upload.status_code} {upload.text[:200]}")
        minio = MinioEvents(
            s3,
            documents,
            amqp_url,
            data.get("GUICHET_DOCUMENTS_EXCHANGE", "guichet.documents"),
            data["GUICHET_INDEX_QUEUE"],
        )
        check(minio.poll() == 1, "one MinIO notification published for the uploaded object (stand-in)")
        metrics_port = factory.ports[index_worker]["metrics"]

        def indexed() -> bool:
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=3).text
            return any(
                line.startswith('guichet_index_events_total{outcome="indexed"}') and not line.endswith(" 0.0")
                for line in text.splitlines()
            )

        wait_until("the index-worker container to index the document", indexed, 300, every=2)
        log("ok: the index-worker container indexed the document")
        title = fiche.stem
        hits = httpx.get(f"{api}/v1/search", params={"q": "carte", "k": 3}, timeout=30)
        check(
            hits.status_code == 200 and fiche.stem in hits.text,
            f"GET /v1/search finds {title} through the functions container",
        )

        # 4. a question through the functions container, answered by the answer-worker container
        asked = httpx.post(
            f"{api}/v1/ask", json={"question": "Quelles démarches pour cette situation ?"}, timeout=30
        )
        check(asked.status_code == 202, f"POST /v1/ask → {asked.status_code} {asked.text[:200]}")
        answer_id = asked.json()["id"]

        def done() -> dict[str, Any] | None:
            record = httpx.get(f"{api}/v1/answers/{answer_id}", timeout=10).json()
            return record if record.get("status") in ("done", "failed") else None

        record = wait_until("the answer", done, 300, every=2)
        check(record["status"] == "done", f"answer {answer_id}: {record.get('status')} {str(record)[:300]}")
        check(
            record.get("mode") == "generated",
            f"answer drafted by the model (simulator): mode {record.get('mode')}",
        )
        worker_metrics = httpx.get(
            f"http://127.0.0.1:{factory.ports[answer_worker]['metrics']}/metrics", timeout=3
        ).text
        check(
            'guichet_answers_total{mode="generated",status="done"} 1.0' in worker_metrics,
            "the answer-worker container recorded it",
        )

        # 5. the CronJobs, once each
        for cron in [m for m in manifests if m["kind"] == "CronJob"]:
            name, pod = factory.pod(cron, overrides)
            pod, _ = strip_probes(with_index(pod))
            pod["metadata"]["name"] = name = f"{name}-once"
            pods.play(name, pod)
            container = pod["spec"]["containers"][0]["name"]
            code = pods.exit_code(name, container, 300)
            check(
                code == 0,
                f"CronJob {cron['metadata']['name']} exited {code}: {pods.logs(name, container)[-500:]}",
            )
        log(f"everything held in {time.monotonic() - started:.0f} s (work folder {work})")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repository", required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    if not (RABBITMQ_BIN / "rabbitmq-server").exists() or shutil.which("podman") is None:
        print("podman and rabbitmq-server are needed", file=sys.stderr)
        return 2
    try:
        run(args)
    except Failure as exc:
        print(f"[e2e] FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
