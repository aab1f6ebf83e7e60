"""`guichet eval` in generated mode against a real OpenAI-compatible server we did not write: llama.cpp
serving Gemma 3 270M (tests/llama_server.py). The model writes nonsense, so this checks the mechanics of a
generated-mode evaluation (issue 15: at least one such run in CI), not answer quality: every case reaches
the model, is timed to its first token, checked, and no invented fact survives the output guard."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from guichet.answer.drafting import CUT_UNUSABLE_NOTICE, UNUSABLE_NOTICE
from guichet.evaluation.corpus import index_fiches
from guichet.evaluation.embed_cache import default_cache_path
from guichet.settings import Settings
from tests.eval.support import guichet
from tests.llama_server import LLAMA_ALIAS, llama_server

pytestmark = pytest.mark.slow

SAMPLES = Path(str(resources.files("guichet") / "samples"))
# Sample questions the extractive run answers (an out-of-corpus decision is taken before any drafting):
# a few minutes of CPU generation.
QUESTIONS = (
    "combien coûte le renouvellement d'une carte d'identité perdue ?",
    "Prix d'un passeport pour un ado de 16 ans ?",
)


def test_a_generated_mode_evaluation_drafts_every_case_with_the_model(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    fiches = sorted((SAMPLES / "fiches").glob("*.xml"))
    index_fiches(settings, fiches, default_cache_path(), description="corpus d'exemple")
    lines = [x for x in (SAMPLES / "questions.jsonl").read_text("utf-8").splitlines() if x.strip()]
    questions = tmp_path / "generated.jsonl"
    chosen = [x for x in lines if json.loads(x)["question"] in QUESTIONS]
    questions.write_text("".join(f"{line}\n" for line in chosen), "utf-8")
    with llama_server(4096, tmp_path) as base:
        model = {
            "GUICHET_LLM_URL": base, "GUICHET_LLM_MAX_TOKENS": "120", "GUICHET_LLM_TEMPERATURE": "0",
            "GUICHET_LLM_RETRIES": "0", "GUICHET_LLM_TIMEOUT": "240", "GUICHET_LLM_MAX_DURATION": "900",
            "GUICHET_LLM_PROMPT_CHARS": "9000",  # ≈ 2,500 tokens: the prompt and the answer fit in 4,096
        }  # fmt: skip
        result = guichet(settings.data_dir, "eval", str(questions), "--json", timeout=1200, env_extra=model)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["setup"]["mode"] == f"génératif ({LLAMA_ALIAS})"
    assert len(report["cases"]) == len(QUESTIONS)
    for case in report["cases"]:  # drafted by the model, or its draft refused: never "model unreachable"
        drafted = case["mode"] == "generated"
        refused = case["mode"] == "extractive" and case.get("notice") in (
            UNUSABLE_NOTICE,
            CUT_UNUSABLE_NOTICE,
        )
        assert drafted or refused, (case["mode"], case.get("notice"), case["coverage"])
        assert case["stages"]["first_token"] > 0, case
    assert report["metrics"].get("unsupported_facts", 0) == 0  # no URL, amount, phone or cerfa invented
