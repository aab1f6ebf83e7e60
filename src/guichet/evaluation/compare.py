"""`guichet eval --compare OLD.json`: what got better and what got worse since an earlier report.

Metrics are compared one by one (the direction of "better" comes from report.HIGHER_IS_BETTER). Cases
are matched by question, audience and situation; a case is worse when its expected fiche ranks lower
or any problem count grew, better when something improved and nothing got worse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from guichet.answer.citations import trim
from guichet.evaluation.report import HIGHER_IS_BETTER


class ReportError(Exception):
    pass


def load_report(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path} : rapport illisible ({exc})") from exc
    if not isinstance(report, dict) or not isinstance(report.get("metrics"), dict):
        raise ReportError(f"{path} : ce n'est pas un rapport JSON de « guichet eval »")
    return report


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    metrics = {}
    for name, value in new["metrics"].items():
        before = old["metrics"].get(name)
        if isinstance(value, int | float) and isinstance(before, int | float) and name != "k":
            delta = round(value - before, 4)
            improved = None if delta == 0 else (delta > 0) == (name in HIGHER_IS_BETTER)
            metrics[name] = {"old": before, "new": value, "delta": delta, "better": improved}
    old_cases = {_key(c): c for c in old.get("cases", [])}
    new_cases = {_key(c): c for c in new.get("cases", [])}
    better: list[dict[str, Any]] = []
    worse: list[dict[str, Any]] = []
    for key, case in new_cases.items():
        if key not in old_cases:
            continue
        gains, losses = case_changes(old_cases[key], case)
        entry = {"line": case["line"], "question": case["question"], "changes": losses + gains}
        if losses:
            worse.append(entry)
        elif gains:
            better.append(entry)
    return {
        "metrics": metrics,
        "better": better,
        "worse": worse,
        "added": len(new_cases.keys() - old_cases.keys()),
        "removed": len(old_cases.keys() - new_cases.keys()),
    }


def _key(case: Mapping[str, Any]) -> str:
    return f"{case.get('question')}\n{case.get('audience')}\n{case.get('situation', '')}"


def case_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(improvements, regressions) of one case, in words."""
    gains: list[str] = []
    losses: list[str] = []
    before, after = _rank_value(old.get("rank")), _rank_value(new.get("rank"))
    if before != after:
        (gains if after < before else losses).append(f"rang {old.get('rank')} → {new.get('rank')}")
    old_counts, new_counts = old.get("counts", {}), new.get("counts", {})
    for name, n in new_counts.items():
        was = old_counts.get(name, 0)
        if n != was:
            (gains if n < was else losses).append(f"{name} {was} → {n}")
    return gains, losses


def _rank_value(rank: object) -> float:
    return float(rank) if isinstance(rank, int) else float("inf")


def render_comparison(diff: Mapping[str, Any]) -> str:
    lines = ["## Comparaison avec le rapport précédent", "", "| mesure | avant | après | écart |"]
    lines.append("| --- | --- | --- | --- |")
    for name, m in diff["metrics"].items():
        if m["delta"]:
            sign = "✅" if m["better"] else "❌"
            lines.append(f"| {name} | {m['old']} | {m['new']} | {m['delta']:+} {sign} |")
    if len(lines) == 4:
        lines.append("| (aucun écart) | | | |")
    for title, entries in (("Moins bien", diff["worse"]), ("Mieux", diff["better"])):
        lines += ["", f"### {title} ({len(entries)})", ""]
        lines += [
            f"- l.{e['line']} « {trim(e['question'], 90)} » : {', '.join(e['changes'])}" for e in entries
        ]
    if diff["added"] or diff["removed"]:
        lines += ["", f"Cas ajoutés : {diff['added']}, retirés : {diff['removed']}."]
    return "\n".join(lines) + "\n"
