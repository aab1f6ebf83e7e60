"""The fault-injection and fuzzing figures, as Markdown tables, from what the tests wrote.

Usage: python benchmarks/fault_table.py [--artifacts artifacts]

Run the tests first (`python -m pytest -m "faults or fuzz"`): tests/faults/ writes one row per fault to
artifacts/faults.json (asks submitted, accepted, refused with 503, answered, lost, duplicated, counted
from every version of every answer record, and a note of what else the test measured: the time a
refusal took under a RabbitMQ alarm, the messages parked by the dead-letter consumer...), tests/fuzz/
writes artifacts/fuzz.json (inputs tried per target; written only when every test passed, i.e. with
zero crashes and zero 5xx).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ASK_COLUMNS = ("submitted", "accepted", "refused", "answered", "failed", "lost", "duplicated", "extractive")
INDEX_COLUMNS = ("events", "dead_lettered", "with_reason", "indexed", "lost", "worker_alive")


def table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[str]:
    lines = ["| fault | " + " | ".join(columns) + " |", "| --- |" + " ---: |" * len(columns)]
    for row in rows:
        cells = ("yes" if row[c] is True else "no" if row[c] is False else str(row[c]) for c in columns)
        lines.append(f"| {row['fault']} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=Path(__file__).resolve().parents[1] / "artifacts")
    args = parser.parse_args()
    faults_path, fuzz_path = args.artifacts / "faults.json", args.artifacts / "fuzz.json"
    if faults_path.exists():
        rows = json.loads(faults_path.read_text())
        asks = [r for r in rows if "accepted" in r]
        index = [r for r in rows if "events" in r]
        print("\n".join(table(asks, ASK_COLUMNS)))
        totals = {c: sum(r[c] for r in asks) for c in ("accepted", "answered", "lost", "duplicated")}
        print(f"\nasks accepted {totals['accepted']}, answered {totals['answered']}, lost {totals['lost']}, "
              f"duplicated {totals['duplicated']}\n")  # fmt: skip
        for row in asks:
            if row.get("note"):
                print(f"- {row['fault']}: {row['note']}")
        print()
        print("\n".join(table(index, INDEX_COLUMNS)))
    else:
        print(f"{faults_path} absent: run python -m pytest -m faults")
    if fuzz_path.exists():
        fuzz = json.loads(fuzz_path.read_text())
        print("\n| fuzz target | inputs tried |\n| --- | ---: |")
        for target, count in fuzz["inputs"].items():
            print(f"| {target} | {count} |")
        print(f"\ninputs tried {fuzz['total']}, crashes {fuzz['crashes']}")
    else:
        print(f"{fuzz_path} absent: run python -m pytest -m fuzz")


if __name__ == "__main__":
    main()
