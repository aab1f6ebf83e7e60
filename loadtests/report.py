"""The HTML report of a headless Locust run, from its CSV files: a summary table and two PNG charts
(latency percentiles over time, throughput over time). `python -m loadtests.report PREFIX OUT.html`."""

from __future__ import annotations

import csv
import html
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from loadtests.png import PALETTE, line_chart

SSE = "SSE"  # request type of the "ttft" and "answer" events fired by the locustfile


@dataclass(frozen=True)
class Summary:
    name: str
    kind: str
    requests: int
    failures: int
    per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def read_summary(prefix: Path) -> dict[str, Summary]:
    """The `<prefix>_stats.csv` rows by name ("ttft", "answer", "/v1/ask", …, "Aggregated")."""
    rows: dict[str, Summary] = {}
    with open(f"{prefix}_stats.csv", encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            rows[row["Name"]] = Summary(
                row["Name"],
                row["Type"],
                int(row["Request Count"]),
                int(row["Failure Count"]),
                float(row["Requests/s"]),
                _number(row["50%"]),
                _number(row["95%"]),
                _number(row["99%"]),
            )
    return rows


def read_history(prefix: Path) -> list[dict[str, str]]:
    with open(f"{prefix}_stats_history.csv", encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # "N/A" before the first request
        return 0.0


def series(
    history: list[dict[str, str]], name: str, column: str, scale: float = 1.0
) -> list[tuple[float, float]]:
    rows = [r for r in history if r["Name"] == name]
    if not rows:
        return []
    start = float(rows[0]["Timestamp"])
    return [(float(r["Timestamp"]) - start, _number(r[column]) * scale) for r in rows]


def write_report(prefix: Path, out: Path, title: str = "Test de charge guichet") -> None:
    summary, history = read_summary(prefix), read_history(prefix)
    latency = out.with_name(out.stem + "-latency.png")
    throughput = out.with_name(out.stem + "-throughput.png")
    latency_series = [
        ("ttft p50", series(history, "ttft", "50%", 0.001)),
        ("ttft p95", series(history, "ttft", "95%", 0.001)),
        ("réponse p50", series(history, "answer", "50%", 0.001)),
        ("réponse p95", series(history, "answer", "95%", 0.001)),
    ]
    rate_series = [
        ("questions envoyées /s", series(history, "/v1/ask", "Requests/s")),
        ("réponses complètes /s", series(history, "answer", "Requests/s")),
        ("utilisateurs / 10", series(history, "Aggregated", "User Count", 0.1)),
    ]
    line_chart([s for _, s in latency_series], latency)
    line_chart([s for _, s in rate_series], throughput)
    body = [
        f"<h1>{html.escape(title)}</h1>",
        _table(summary.values()),
        "<h2>Latences (s), fenêtre glissante de Locust</h2>",
        _legend(latency_series),
        f'<img src="{latency.name}" alt="latences">',
        "<h2>Débit (par seconde)</h2>",
        _legend(rate_series),
        f'<img src="{throughput.name}" alt="débit">',
    ]
    page = '<!doctype html><html lang="fr"><meta charset="utf-8"><title>{}</title><body>{}</body></html>'
    out.write_text(page.format(html.escape(title), "\n".join(body)), encoding="utf-8")


def _legend(named: list[tuple[str, list[tuple[float, float]]]]) -> str:
    items = [
        f'<span style="color:rgb{PALETTE[n % len(PALETTE)]}">■ {html.escape(label)}</span>'
        for n, (label, _) in enumerate(named)
    ]
    return "<p>" + " &nbsp; ".join(items) + " &nbsp; (abscisse : secondes depuis le début)</p>"


def _table(rows: Iterable[Summary]) -> str:
    columns = ("nom", "type", "n", "échecs", "/s", "p50 ms", "p95 ms", "p99 ms")
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>"
    cells = [
        f"<tr><td>{html.escape(r.name)}</td><td>{r.kind}</td><td>{r.requests}</td><td>{r.failures}</td>"
        f"<td>{r.per_s:.2f}</td><td>{r.p50_ms:.0f}</td><td>{r.p95_ms:.0f}</td><td>{r.p99_ms:.0f}</td></tr>"
        for r in rows
    ]
    return "<table border=1 cellpadding=4>" + head + "".join(cells) + "</table>"


if __name__ == "__main__":
    write_report(Path(sys.argv[1]), Path(sys.argv[2]))
