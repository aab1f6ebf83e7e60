"""`guichet sizing`: the capacity model's options, its table, its JSON and its Helm values file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from guichet.capacity.sizing import Inputs, Sizing, helm_values, size


def sizing(
    demarches: Annotated[float, typer.Option(help="Démarches par mois (tout le réseau)")] = 800_000,
    question_share: Annotated[float, typer.Option(help="Part des démarches avec une question (0–1)")] = 0.5,
    questions_per_demarche: Annotated[float, typer.Option(help="Questions par démarche")] = 1.5,
    working_days: Annotated[float, typer.Option(help="Jours ouvrés par mois")] = 21,
    opening_hours: Annotated[float, typer.Option(help="Heures d'ouverture par jour")] = 7,
    peak_factor: Annotated[float, typer.Option(help="Heure de pointe / heure moyenne")] = 2.0,
    spike_factor: Annotated[float, typer.Option(help="Pic exceptionnel / pointe")] = 3.0,
    prompt_tokens: Annotated[int, typer.Option(help="Jetons d'entrée par réponse")] = 2000,
    output_tokens: Annotated[int, typer.Option(help="Jetons générés par réponse")] = 350,
    ttft_p95: Annotated[float, typer.Option(help="Objectif p95 du premier mot (s)")] = 2.0,
    worker_concurrency: Annotated[int, typer.Option(help="Générations en parallèle par worker")] = 8,
    function_cpu: Annotated[
        float, typer.Option(help="Secondes CPU par question, fonctions")
    ] = Inputs.function_cpu_s,
    worker_cpu: Annotated[
        float, typer.Option(help="Secondes CPU par question, workers")
    ] = Inputs.worker_cpu_s,
    profile: Annotated[str, typer.Option(help="Profil GPU mesuré : nom fourni ou fichier JSON")] = "",
    max_num_seqs: Annotated[int | None, typer.Option(help="Remplace max_num_seqs du profil")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON")] = False,
    helm_file: Annotated[
        Path | None, typer.Option("--helm-values", help="Écrit les valeurs Helm ici")
    ] = None,
) -> None:
    """Dimensionnement : questions/s à la pointe, GPU, réplicas, files ; chaque hypothèse et sa source."""
    from guichet.capacity.simulator.profile import DEFAULT_PROFILE, ProfileError, load_profile

    try:
        gpu = load_profile(profile or DEFAULT_PROFILE)
        if max_num_seqs is not None:
            gpu = dataclasses.replace(gpu, max_num_seqs=max_num_seqs)
        inputs = Inputs(
            monthly_demarches=demarches,
            question_share=question_share,
            questions_per_demarche=questions_per_demarche,
            working_days=working_days,
            opening_hours=opening_hours,
            peak_hour_factor=peak_factor,
            spike_factor=spike_factor,
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            ttft_p95_target_s=ttft_p95,
            worker_concurrency=worker_concurrency,
            function_cpu_s=function_cpu,
            worker_cpu_s=worker_cpu,
        )
        result = size(inputs, gpu)
    except (ValueError, ProfileError) as exc:  # ProfileError is a ValueError: named for the reader
        raise typer.BadParameter(str(exc)) from exc
    if helm_file is not None:
        helm_file.parent.mkdir(parents=True, exist_ok=True)
        helm_file.write_text(helm_yaml(result, inputs), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo(table(result))


def table(s: Sizing) -> str:
    rows = [
        ("questions/s à la pointe", f"{s.peak_asks_per_s:.2f}"),
        ("questions/s au pic (×spike)", f"{s.spike_asks_per_s:.2f}"),
        ("générations simultanées (Little)", f"{s.concurrent_generations:.1f}"),
        ("lot moyen par GPU à la pointe", f"{s.peak.mean_batch:.1f} / {s.gpu_slots} places"),
        ("capacité d'un GPU (saturé)", f"{s.replica_max_asks_per_s:.1f} questions/s"),
        ("premier mot p95 prévu", f"{s.peak.ttft_p95_s:.2f} s"),
        ("réponse complète p95 prévue", f"{s.answer_p95_s:.1f} s"),
        (
            "GPU (vLLM) : capacité / N+1 / max",
            f"{s.gpu_capacity_replicas} / {s.gpu_replicas} / {s.gpu_max_replicas}",
        ),
        ("fonctions HTTP : min / max", f"{s.function_replicas} / {s.function_max_replicas}"),
        ("workers de réponse : min / max", f"{s.answer_worker_replicas} / {s.answer_worker_max_replicas}"),
        ("workers d'indexation", str(s.index_worker_replicas)),
        ("file ask : longueur max", str(s.ask_queue_max_length)),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    lines += ["", "Hypothèses :"]
    for name, a in s.assumptions.items():
        lines.append(f"  {name} = {a.value:g} {a.unit} — {a.source}")
    return "\n".join(lines)


def helm_yaml(s: Sizing, inputs: Inputs) -> str:
    """Helm values (YAML, written by hand: PyYAML is not a runtime dependency), assumptions in comments."""
    header = [
        "# Generated by `guichet sizing`: edit the inputs and run it again rather than this file.",
        f"# peak {s.peak_asks_per_s:.2f} asks/s, spike {s.spike_asks_per_s:.2f} asks/s, "
        f"{s.concurrent_generations:.1f} concurrent generations, first token p95 {s.peak.ttft_p95_s:.2f} s",
    ]
    header += [f"#   {name}: {a.value:g} {a.unit} ({a.source})" for name, a in s.assumptions.items()]
    return "\n".join(header) + "\n" + "".join(_yaml(helm_values(s, inputs), 0))


def _yaml(mapping: dict[str, Any], indent: int) -> list[str]:
    lines: list[str] = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            lines.append(f"{' ' * indent}{key}:\n")
            lines += _yaml(value, indent + 2)
        else:
            lines.append(f"{' ' * indent}{key}: {value}\n")
    return lines
