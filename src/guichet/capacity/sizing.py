"""Capacity model behind `guichet sizing`: monthly démarches → peak asks/s → replicas and queue limits.

Traffic: asks per month = démarches × share with a question × questions per démarche, spread over the
working days and opening hours, times a peak-hour factor (and a spike factor for the autoscaling ceiling).

GPU: one vLLM replica is a pool of `max_num_seqs` batch slots (fewer if the KV cache holds fewer whole
requests). A request holds a slot for S(b) = prefill + output_tokens × t_step(b), where t_step(b) is the
profile's step time with b sequences decoding (guichet.capacity.simulator.profile). The mean batch b
of a replica receiving λ asks/s solves b = λ·S(b) (Little's law; linear in b, so closed form).
The wait for a free slot is taken from M/M/c (Erlang C) with c slots and that mean service time:
P(wait > t) = C(c, a)·e^-(cμ-λ)t.
M/M/c overstates the spread of service times (a generation's length varies less than an exponential), so
the p95 wait it gives is pessimistic; with hundreds of slots the wait is ~0 until the replica nears
saturation, and saturation is what the model really finds. First token p95 = wait p95 + queue wait in
RabbitMQ (none below worker capacity) + guichet's own path (POST, queue, retrieval, prompt, relay:
`pipeline_s`, measured at low load) stretched by 1 / (1 - cpu_target) as an M/M/1 server's response
time is at that utilisation (functions and workers are sized to run at cpu_target) + one prefill step at
the mean batch. The first version had no CPU term and 0.15 s of retrieval: validation showed guichet's
own processes, not the GPU, set the first-token time (docs/decisions/0012).

The replicas are the fewest meeting the first-token target at the peak, plus `spares` (N+1) so that one
replica can fail or be drained at the peak; the ceiling is the same computation for the spike.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from guichet.capacity.simulator.profile import Profile

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Assumption:
    value: float
    unit: str
    source: str


@dataclass(frozen=True)
class Inputs:
    """Every number the model uses; SOURCES says where each default comes from."""

    monthly_demarches: float = 800_000
    question_share: float = 0.5
    questions_per_demarche: float = 1.5
    working_days: float = 21
    opening_hours: float = 7
    peak_hour_factor: float = 2.0
    spike_factor: float = 3.0
    prompt_tokens: int = 2000
    output_tokens: int = 350
    ttft_p95_target_s: float = 2.0
    pipeline_s: float = 0.4
    worker_concurrency: int = 8
    function_cpu_s: float = 0.05
    worker_cpu_s: float = 0.10
    replica_cpus: float = 1.0
    cpu_target: float = 0.6
    function_streams: int = 1000
    max_queue_wait_s: float = 120.0
    spares: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "spares" and value < 0:
                raise ValueError("spares doit être ≥ 0")
            if f.name != "spares" and not value > 0:
                option = _OPTIONS.get(f.name, f.name.replace("_", "-"))
                raise ValueError(f"--{option} doit être strictement positif (reçu {value:g})")
        if self.question_share > 1:
            raise ValueError(f"--question-share est une part entre 0 et 1 (reçu {self.question_share:g})")
        if self.cpu_target > 1:
            raise ValueError(f"cpu_target est une part entre 0 et 1 (reçu {self.cpu_target:g})")
        if self.opening_hours > 24 or self.working_days > 31:
            raise ValueError("--opening-hours doit être ≤ 24 et --working-days ≤ 31")


# The first model ignored guichet's own CPU; validation on real RabbitMQ showed it saturating first (ADR 0012)
CPU_SOURCE = "mesuré : loadtests/validate_model.py, secondes CPU (utime + stime) par réponse complète"

_OPTIONS = {
    "monthly_demarches": "demarches",
    "peak_hour_factor": "peak-factor",
    "ttft_p95_target_s": "ttft-p95",
}

SOURCES: dict[str, tuple[str, str]] = {
    "monthly_demarches": ("démarches/mois", "objectif du déploiement national (issue 5)"),
    "question_share": (
        "part",
        "hypothèse : une démarche sur deux suscite une question ; à mesurer au pilote",
    ),
    "questions_per_demarche": (
        "questions",
        "hypothèse : question de départ + une relance ; à mesurer au pilote",
    ),
    "working_days": ("jours/mois", "≈ 252 jours ouvrés par an / 12"),
    "opening_hours": ("h/jour", "hypothèse : 35 h par semaine sur 5 jours (la charte impose au moins 24 h)"),
    "peak_hour_factor": ("× heure moyenne", "hypothèse : pointe du matin ≈ 2 × l'heure moyenne d'un guichet"),
    "spike_factor": ("× pointe", "marge demandée : pic exceptionnel à 3 × la pointe (issue 5)"),
    "prompt_tokens": (
        "jetons",
        "6 extraits (GUICHET_ANSWER_EXTRACTS) × ≤ 180 mots (GUICHET_CHUNK_MAX_WORDS) ≈ 1 400 jetons"
        " + consignes et question ≈ 600",
    ),
    "output_tokens": (
        "jetons",
        "réponse type ≈ 250 mots ≈ 350 jetons (plafond GUICHET_LLM_MAX_TOKENS = 700)",
    ),
    "ttft_p95_target_s": ("s", "objectif : premier mot en moins de 2 s pour 95 % des questions"),
    "pipeline_s": (
        "s",
        "mesuré (loadtests/validate_model.py, charge légère) : POST, file, recherche, prompt et relais du"
        " premier mot, hors GPU ; le premier modèle supposait 0,15 s (la recherche seule)",
    ),
    "worker_concurrency": ("générations/worker", "GUICHET_ANSWER_CONCURRENCY (défaut 8)"),
    "function_cpu_s": (
        "s CPU/question",
        CPU_SOURCE
        + " ; 0,048 à la pointe et 0,044 à 3 × avec le relais par réplica (ADR 0019), 0,09 → 0,14 avant",
    ),
    "worker_cpu_s": ("s CPU/question", CPU_SOURCE),
    "replica_cpus": ("cœurs/réplica", "requests.cpu d'un pod de fonctions ou de worker (chart Helm)"),
    "cpu_target": (
        "part",
        "utilisation CPU visée : au-delà, la file d'attente du CPU allonge le premier mot",
    ),
    "function_streams": (
        "flux SSE/réplica",
        "plafond GUICHET_STREAMS_PER_REPLICA ; mesuré (benchmarks/sse_relay.py) : 1 000 flux ouverts sur un"
        " processus, 43 fils, 63 Kio par flux (ADR 0019)",
    ),
    "max_queue_wait_s": ("s", "au-delà, mieux vaut refuser (503) que faire attendre l'usager au guichet"),
    "spares": ("réplicas", "N+1 : une panne ou un déploiement à la pointe sans dégrader le service"),
}


@dataclass(frozen=True)
class GpuLoad:
    """One replica's state at a given arrival rate."""

    replicas: int
    mean_batch: float
    step_s: float
    wait_p95_s: float
    ttft_p95_s: float
    generation_s: float
    stable: bool


@dataclass(frozen=True)
class Sizing:
    peak_asks_per_s: float
    spike_asks_per_s: float
    concurrent_generations: float
    gpu_capacity_replicas: int
    gpu_replicas: int
    gpu_max_replicas: int
    gpu_slots: int
    replica_max_asks_per_s: float
    peak: GpuLoad
    answer_p95_s: float
    function_replicas: int
    function_max_replicas: int
    answer_worker_replicas: int
    answer_worker_max_replicas: int
    index_worker_replicas: int
    ask_queue_max_length: int
    waiting_threshold: int
    assumptions: dict[str, Assumption] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["assumptions"] = {k: asdict(v) for k, v in self.assumptions.items()}
        return body


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c (c = servers, offered load a = λ/μ in erlangs).

    Through Erlang B's recursion, which stays finite for hundreds of servers (factorials would not).
    """
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    b = 1.0
    for k in range(1, servers + 1):
        b = offered * b / (k + offered * b)
    return servers * b / (servers - offered * (1 - b))


def wait_quantile(servers: int, offered: float, service_s: float, q: float = 0.95) -> float:
    """The q-quantile of the wait in M/M/c: 0 when fewer than 1 - q of the arrivals wait at all."""
    if offered >= servers:
        return math.inf
    waits = erlang_c(servers, offered)
    if waits <= 1 - q:
        return 0.0
    drain = (servers - offered) / service_s  # cμ - λ
    return math.log(waits / (1 - q)) / drain


def replica_slots(profile: Profile, inputs: Inputs) -> int:
    """Sequences one replica holds at once: max_num_seqs, or fewer when the KV cache is the limit."""
    per_request = inputs.prompt_tokens + inputs.output_tokens
    return max(1, min(profile.max_num_seqs, profile.kv_cache_tokens // per_request))


def gpu_load(
    profile: Profile, inputs: Inputs, rate: float, replicas: int, cpu_busy: float | None = None
) -> GpuLoad:
    """cpu_busy: utilisation of the CPUs guichet's own path runs on (default: the cpu_target it is sized
    for); that path's time is stretched by 1 / (1 - cpu_busy), as an M/M/1 server's response time is."""
    busy = inputs.cpu_target if cpu_busy is None else min(cpu_busy, 0.95)
    slots = replica_slots(profile, inputs)
    per_replica = rate / replicas
    out = inputs.output_tokens
    prefill = profile.prefill_seconds(inputs.prompt_tokens)
    # b = λ (prefill + out (base + per_seq b))  →  b = λ (prefill + out base) / (1 - λ out per_seq)
    denominator = 1 - per_replica * out * profile.decode_per_seq_s
    batch = (
        per_replica * (prefill + out * profile.decode_base_s) / denominator if denominator > 0 else math.inf
    )
    stable = batch < slots
    batch = min(batch, float(slots))
    step = profile.step_seconds(round(batch))
    service = prefill + out * step
    wait = wait_quantile(slots, per_replica * service, service) if stable else math.inf
    first = step + inputs.prompt_tokens * profile.prefill_per_token_s
    ttft = wait + inputs.pipeline_s / (1 - busy) + first
    return GpuLoad(replicas, batch, step, wait, ttft, service, stable)


def gpu_replicas_for(profile: Profile, inputs: Inputs, rate: float) -> GpuLoad:
    """The fewest replicas keeping first-token p95 under target at this rate (at most 10,000)."""
    replicas = max(1, math.ceil(rate / replica_max_rate(profile, inputs)))
    while replicas < 10_000:
        load = gpu_load(profile, inputs, rate, replicas)
        if load.stable and load.ttft_p95_s <= inputs.ttft_p95_target_s:
            return load
        replicas += 1
    raise ValueError("objectif de premier mot inatteignable avec ce profil (prefill trop long ?)")


def replica_max_rate(profile: Profile, inputs: Inputs) -> float:
    """Asks/s one replica completes with every slot busy (its saturation throughput)."""
    slots = replica_slots(profile, inputs)
    service = profile.prefill_seconds(inputs.prompt_tokens) + inputs.output_tokens * profile.step_seconds(
        slots
    )
    return slots / service


def peak_rate(inputs: Inputs) -> float:
    asks = inputs.monthly_demarches * inputs.question_share * inputs.questions_per_demarche
    mean = asks / (inputs.working_days * inputs.opening_hours * SECONDS_PER_HOUR)
    return mean * inputs.peak_hour_factor


def size(inputs: Inputs, profile: Profile) -> Sizing:
    peak = peak_rate(inputs)
    spike = peak * inputs.spike_factor
    at_peak = gpu_replicas_for(profile, inputs, peak)
    at_spike = gpu_replicas_for(profile, inputs, spike)
    generations = peak * at_peak.generation_s  # Little: L = λ W
    answer_s = at_peak.ttft_p95_s + inputs.output_tokens * at_peak.step_s

    def cpus(rate: float, cpu_s: float) -> int:
        return math.ceil(rate * cpu_s / (inputs.replica_cpus * inputs.cpu_target))

    def workers(rate: float, load: GpuLoad) -> int:
        slots = math.ceil(rate * (inputs.pipeline_s + load.generation_s) / inputs.worker_concurrency)
        return max(slots, cpus(rate, inputs.worker_cpu_s))

    def functions(rate: float) -> int:
        streams = rate * answer_s  # every advisor keeps the answer's SSE stream open while it is written
        return max(cpus(rate, inputs.function_cpu_s), math.ceil(streams / inputs.function_streams))

    replica_rate = replica_max_rate(profile, inputs)
    return Sizing(
        peak_asks_per_s=peak,
        spike_asks_per_s=spike,
        concurrent_generations=generations,
        gpu_capacity_replicas=at_peak.replicas,
        gpu_replicas=at_peak.replicas + inputs.spares,
        gpu_max_replicas=at_spike.replicas + inputs.spares,
        gpu_slots=replica_slots(profile, inputs),
        replica_max_asks_per_s=replica_rate,
        peak=at_peak,
        answer_p95_s=answer_s,
        function_replicas=functions(peak) + inputs.spares,
        function_max_replicas=functions(spike) + inputs.spares,
        answer_worker_replicas=workers(peak, at_peak) + inputs.spares,
        answer_worker_max_replicas=workers(spike, at_spike) + inputs.spares,
        index_worker_replicas=1,  # a monthly dump and a few partner documents: latency is not at stake
        ask_queue_max_length=math.ceil(spike * inputs.max_queue_wait_s),
        # Waiting requests in vLLM worth another replica: half the first-token budget of queueing.
        waiting_threshold=max(1, math.floor(0.5 * inputs.ttft_p95_target_s * replica_rate)),
        assumptions=assumptions(inputs, profile),
    )


def assumptions(inputs: Inputs, profile: Profile) -> dict[str, Assumption]:
    stated = {k: Assumption(float(getattr(inputs, k)), *SOURCES[k]) for k in SOURCES}
    origin = f"profil {profile.name} ({profile.gpu}) : sources dans le profil et l'ADR 0012"
    stated["max_num_seqs"] = Assumption(profile.max_num_seqs, "séquences", origin)
    stated["decode_base_s"] = Assumption(profile.decode_base_s, "s/pas", origin)
    stated["decode_per_seq_s"] = Assumption(profile.decode_per_seq_s, "s/pas/séquence", origin)
    stated["prefill_per_token_s"] = Assumption(profile.prefill_per_token_s, "s/jeton", origin)
    stated["kv_cache_tokens"] = Assumption(profile.kv_cache_tokens, "jetons", origin)
    return stated


def helm_values(s: Sizing, inputs: Inputs) -> dict[str, Any]:
    return {
        "functions": {
            "replicaCount": s.function_replicas,
            "autoscaling": {"minReplicas": s.function_replicas, "maxReplicas": s.function_max_replicas},
        },
        "answerWorker": {
            "replicaCount": s.answer_worker_replicas,
            "concurrency": inputs.worker_concurrency,
            "keda": {
                "minReplicaCount": s.answer_worker_replicas,
                "maxReplicaCount": s.answer_worker_max_replicas,
                "queueLength": inputs.worker_concurrency,  # backlog per replica before another starts
            },
        },
        "vllm": {
            "replicaCount": s.gpu_replicas,
            "maxNumSeqs": s.gpu_slots,
            "keda": {
                "minReplicaCount": s.gpu_replicas,
                "maxReplicaCount": s.gpu_max_replicas,
                "numRequestsWaitingThreshold": s.waiting_threshold,
            },
        },
        "indexWorker": {"replicaCount": s.index_worker_replicas},
        "queues": {"ask": {"maxLength": s.ask_queue_max_length}},
    }
