"""The evaluation report as Markdown: what a reviewer reads in a pull request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from guichet.answer.citations import trim
from guichet.evaluation.run import RANKING_DEPTH

_LABELS = {
    "hit_at_1": "hit@1",
    "hit_at_3": "hit@3",
    "hit_at_5": "hit@5",
    "hit_at_k": "hit@k",
    "mrr": "MRR",
    "evidence_recall": "fiche attendue parmi les passages de la réponse",
    "cited_expected": "fiche attendue citée",
    "claims": "affirmations",
    "ungrounded_claims": "affirmations non étayées (total)",
    "unsupported_citations": "phrases citées sans appui dans leur source",
    "uncited_claims": "affirmations sans citation",
    "outside_citations": "citations hors des sources retrouvées",
    "unsupported_facts": "URL / téléphones / montants / cerfa absents des sources",
    "missing_facts": "faits attendus absents",
    "facts_present": "faits attendus présents (part)",
    "duplicated_lines": "lignes répétées",
    "orphan_lines": "extraits illisibles seuls (pronom sans antécédent, liste omise)",
    "missing_links": "liens attendus absents",
    "wrong_branches": "mauvais cas (situation)",
    "coverage_errors": "erreurs de couverture",
    "branch_ok": "bon cas suivi",
    "not_covered_ok": "« hors corpus » bien signalé",
    "declined_in_corpus": "couvertes mais déclinées à tort",
    "judge_mean": "juge LLM (0 à 2)",
}
_PROBLEMS = {
    "outside_citations": "citation hors sources",
    "unsupported_citations": "phrase non étayée",
    "uncited_claims": "sans citation",
    "unsupported_facts": "fait non sourcé",
    "missing_facts": "fait attendu absent",
    "missing_links": "lien attendu absent",
    "wrong_branches": "mauvais cas",
    "duplicated_lines": "ligne répétée",
    "orphan_lines": "extrait illisible seul",
}
MAX_PROBLEM_CASES = 40


def render(report: Mapping[str, Any]) -> str:
    m = report["metrics"]
    lines = [f"# Évaluation guichet — {report['n_cases']} cas", "", _setup(report), ""]
    lines += ["| mesure | valeur |", "| --- | --- |"]
    for key, label in _LABELS.items():
        if key in m:
            value = m[key]
            if key == "branch_ok":
                value = f"{value} / {m['branch_cases']}"
            elif key == "not_covered_ok":
                value = f"{value} / {m['not_covered_cases']}"
            elif key == "declined_in_corpus":
                value = f"{value} / {m['ranked_cases']}"
            elif key == "hit_at_k":
                if m["k"] in (1, 3, 5):
                    continue
                label = f"hit@{m['k']}"
            lines.append(f"| {label} | {value} |")
    lines += ["", "Latence par étape (secondes) :", "", "| étape | p50 | p95 |", "| --- | --- | --- |"]
    lines += [f"| {stage} | {v['p50']} | {v['p95']} |" for stage, v in report["latency"].items()]
    lines += _by_split(report.get("by_split", {}))
    if report["by_difficulty"]:
        lines += ["", "| difficulté | cas | hit@5 | MRR |", "| --- | --- | --- | --- |"]
        for level, v in report["by_difficulty"].items():
            lines.append(f"| {level} | {v['cases']} | {v.get('hit_at_5', '–')} | {v.get('mrr', '–')} |")
    lines += ["", *_problems(report["cases"], m.get("k", 5))]
    return "\n".join(lines) + "\n"


def _by_split(by_split: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Thresholds are tuned on dev and reported on held-out: both, side by side."""
    if not by_split:
        return []
    head = "| partie | hit@5 | MRR | hors corpus déclinés | déclinés à tort | bon cas | faits présents |"
    lines = ["", head]
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for split, m in by_split.items():
        lines.append(
            f"| {split} | {m.get('hit_at_5', '–')} | {m.get('mrr', '–')}"
            f" | {m['not_covered_ok']} / {m['not_covered_cases']}"
            f" | {m['declined_in_corpus']} / {m.get('ranked_cases', '–')}"
            f" | {m['branch_ok']} / {m['branch_cases']} | {m['facts_present']} |"
        )
    return lines


def _setup(report: Mapping[str, Any]) -> str:
    corpus, setup = report["corpus"], report["setup"]
    where = corpus.get("description") or "index de la pile configurée"
    size = f"{corpus.get('fiches', '?')} fiches, {corpus.get('passages', '?')} passages"
    knobs = ", ".join(f"{k} = {v}" for k, v in setup.items())
    return f"Corpus : {where} ({size}). {knobs}. Généré le {report['generated_at']}."


def _problems(cases: list[dict[str, Any]], k: int) -> list[str]:
    flagged = [c for c in cases if _issues(c, k)]
    if not flagged:
        return ["Aucun problème relevé."]
    lines = [f"## Cas à regarder ({len(flagged)})", ""]
    for case in flagged[:MAX_PROBLEM_CASES]:
        lines.append(
            f"- l.{case['line']} « {trim(case['question'], 100)} » : " + " ; ".join(_issues(case, k))
        )
    if len(flagged) > MAX_PROBLEM_CASES:
        lines.append(f"- … et {len(flagged) - MAX_PROBLEM_CASES} autres (voir le JSON)")
    return lines


def _issues(case: Mapping[str, Any], k: int) -> list[str]:
    issues = []
    rank = case["rank"]
    if case["expected_sources"] and (rank is None or rank > k):
        where = f"au rang {rank}" if rank else f"absente des {RANKING_DEPTH} premiers passages"
        issues.append(f"{'/'.join(case['expected_sources'])} {where} (top : {', '.join(case['top'])})")
    if case["coverage"] == "answered_out_of_corpus":
        issues.append("répond alors que le corpus ne couvre pas la question")
    elif case["coverage"] == "said_not_covered":
        issues.append("dit ne pas pouvoir répondre")
    for name, label in _PROBLEMS.items():
        values = case["problems"].get(name, [])
        if values:
            issues.append(
                f"{label} : "
                + " | ".join(trim(str(v), 90) for v in values[:2])
                + ("…" if len(values) > 2 else "")
            )
    return issues
