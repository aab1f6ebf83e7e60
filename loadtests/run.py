"""A headless Locust run and its report: `python -m loadtests.run --host URL --shape peak --rate 2.3`.

Writes <out>/locust_stats*.csv, <out>/locust.html (Locust's own page) and <out>/report.html with its PNG
charts; exits with Locust's code: 1 when an SLO is missed or a request failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from loadtests.report import write_report

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.run", description=__doc__)
    parser.add_argument("--host", required=True, help="URL des fonctions guichet")
    parser.add_argument("--shape", default="peak", choices=("peak", "spike", "day"))
    parser.add_argument("--rate", type=float, required=True, help="questions/s à la pointe")
    parser.add_argument("--duration", type=float, default=60.0, help="secondes")
    parser.add_argument(
        "--pacing", type=float, default=30.0, help="secondes entre deux questions d'un conseiller"
    )
    parser.add_argument("--slo-ttft", type=float, default=2.0, help="p95 du premier mot (s)")
    parser.add_argument("--slo-answer", type=float, default=30.0, help="p95 de la réponse complète (s)")
    parser.add_argument("--out", type=Path, default=Path("loadtests/reports/run"))
    parser.add_argument("--ids", type=Path, default=None, help="fichier des identifiants acceptés")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    prefix = args.out / "locust"
    env = os.environ | {
        "LOADTEST_SHAPE": args.shape,
        "LOADTEST_RATE": str(args.rate),
        "LOADTEST_DURATION": str(args.duration),
        "LOADTEST_PACING_S": str(args.pacing),
        "LOADTEST_SLO_TTFT_P95_S": str(args.slo_ttft),
        "LOADTEST_SLO_ANSWER_P95_S": str(args.slo_answer),
        "LOADTEST_IDS": str(args.ids or args.out / "ids.txt"),
    }
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", args.host,
        "--csv", str(prefix), "--csv-full-history", "--html", str(args.out / "locust.html"),
        "--stop-timeout", "60", "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    code = subprocess.run(command, env=env, check=False).returncode
    write_report(
        prefix, args.out / "report.html", f"guichet — charge {args.shape} à {args.rate:g} questions/s"
    )
    return code


if __name__ == "__main__":
    sys.exit(run(parse()))
