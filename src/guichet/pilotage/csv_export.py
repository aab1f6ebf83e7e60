"""The statistics as CSV for a spreadsheet: ";" separated, decimal commas, UTF-8 with a BOM (French
spreadsheets open it as is). A small group's rate reads "moins de 5 avis", never a number."""

from __future__ import annotations

import csv
import io

from guichet.pilotage.stats import MIN_RATINGS, StatsResult, StatsRow

HEADER = (
    "groupe", "libelle", "reponses", "echecs", "avis", "avis_positifs", "avis_negatifs", "part_evaluee",
    "taux_satisfaction", "motifs_negatifs", "part_extractive", "part_non_couverte",
    "premier_jeton_p50_s", "premier_jeton_p95_s",
)  # fmt: skip
SMALL = f"moins de {MIN_RATINGS} avis"


def stats_csv(result: StatsResult) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in (*result.groups, result.total):
        writer.writerow(_cells(row))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cells(row: StatsRow) -> list[str]:
    reasons = ", ".join(f"{r.label} ({r.count})" for r in row.top_down_reasons)
    return [
        row.key, row.label, str(row.answers), str(row.failed), str(row.ratings), str(row.up), str(row.down),
        _num(row.share_rated), SMALL if row.small_group else _num(row.satisfaction), reasons,
        _num(row.extractive_share), _num(row.not_covered_share),
        _num(row.first_token_p50_s), _num(row.first_token_p95_s),
    ]  # fmt: skip


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}".replace(".", ",")
