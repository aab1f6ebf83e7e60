"""Helpers of the evaluation tests: hand-made answer records and cases, the guichet command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from guichet.answer.record import AnswerRecord, PracticalLink, SourceRef
from guichet.evaluation.cases import EvalCase


def record(answer: str, *sources: tuple[str, str], links: tuple[str, ...] = ()) -> AnswerRecord:
    """sources: (fiche id, branch) pairs, numbered 1, 2… in order."""
    return AnswerRecord(
        id="0" * 32,
        status="done",
        question="q",
        audience="particuliers",
        situation="",
        created_at=0.0,
        answer=answer,
        sources=tuple(
            SourceRef(n, fid, f"titre {fid}", f"https://sp/{fid}", "", branch)
            for n, (fid, branch) in enumerate(sources, 1)
        ),
        links=tuple(PracticalLink("teleservice", "lien", url) for url in links),
        mode="extractive",
    )


def case(**fields: object) -> EvalCase:
    values: dict[str, object] = {
        "line": 1,
        "question": "Combien coûte le passeport ?",
        "expected_sources": ("F1",),
    }
    values.update(fields)
    return EvalCase(**values)  # type: ignore[arg-type]


def guichet(
    data_dir: Path, *args: str, timeout: float = 180, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The command on the embedded stack in data_dir, in extractive mode whatever the environment says
    (unless env_extra names a model)."""
    env = {**os.environ, "GUICHET_DATA_DIR": str(data_dir)}
    for name in ("GUICHET_BROKER_URL", "GUICHET_LLM_URL", "GUICHET_INDEX_URL", "GUICHET_EMBED_URL"):
        env.pop(name, None)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "guichet", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
