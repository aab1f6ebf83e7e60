"""The guichet command as a user runs it: exit codes, JSON shapes, one shared data folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def guichet(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GUICHET_DATA_DIR": str(data_dir)}
    env.pop("GUICHET_BROKER_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "guichet", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    docs = root / "docs"
    docs.mkdir()
    (docs / "cheque.txt").write_text(
        "Le chèque énergie est envoyé automatiquement chaque année aux foyers modestes.", encoding="utf-8"
    )
    (docs / "passeport.md").write_text(
        "# Passeport\n\n## Délais\n\nLe délai de fabrication d'un passeport dépend de la période.",
        encoding="utf-8",
    )
    data = root / "data"
    first = guichet(data, "ingest", str(docs))
    assert first.returncode == 0, first.stderr
    assert "2 documents (2 indexés) ;" in first.stdout, "one language"
    return data, docs


def test_second_ingest_is_idempotent(corpus: tuple[Path, Path]) -> None:
    data, docs = corpus
    again = guichet(data, "ingest", str(docs), "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["embedded"] == 0 and report["outcomes"] == {"unchanged": 2}


def test_search_json_shape_sees_the_same_index(corpus: tuple[Path, Path]) -> None:
    data, _ = corpus
    result = guichet(data, "search", "chèque énergie", "-k", "1", "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert len(hits) == 1
    assert set(hits[0]) == {"id", "title", "url", "branch", "score", "text"}
    assert hits[0]["id"] == "docs/cheque.txt"


def test_missing_path_fails_with_one_line(tmp_path: Path) -> None:
    result = guichet(tmp_path, "ingest", str(tmp_path / "absent"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "introuvable" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert guichet(tmp_path, "search", "x", "--mode", "magique").returncode == 2
    assert guichet(tmp_path, "search", "x", "--audience", "martiens").returncode == 2
    assert guichet(tmp_path, "ingest").returncode == 2
    assert guichet(tmp_path, "inconnue").returncode == 2


def test_unparsable_document_is_reported_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "cassé.xml"
    bad.write_text("<Publication>", encoding="utf-8")
    result = guichet(tmp_path / "data", "ingest", str(bad))
    assert result.returncode == 1
    assert "cassé.xml" in result.stderr


def test_search_on_an_empty_index_says_what_to_do(tmp_path: Path) -> None:
    result = guichet(tmp_path, "search", "carte grise")
    assert result.returncode == 1
    assert "guichet ingest" in result.stderr and result.stderr.count("\n") == 1


def test_usage_error_is_one_line(tmp_path: Path) -> None:
    result = guichet(tmp_path, "search", "x", "-k", "abc")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("guichet: ")


def test_ask_on_the_local_stack_prints_the_sourced_answer(corpus: tuple[Path, Path]) -> None:
    data, _ = corpus
    result = guichet(data, "ask", "Le chèque énergie est-il envoyé automatiquement ?", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "done" and record["mode"] == "extractive"
    assert record["sources"][0]["id"] == "docs/cheque.txt" and "[1]" in record["answer"]
    assert "GUICHET_LLM_URL" in result.stderr  # how to get drafted answers
    text = guichet(data, "ask", "Le chèque énergie est-il envoyé automatiquement ?")
    assert text.returncode == 0 and "Sources" in text.stdout and "docs/cheque.txt" in text.stdout
    assert (text.stdout + text.stderr).count("GUICHET_LLM_URL") == 1, "the no-LLM hint once"


def test_help_is_french_down_to_typer_own_strings(tmp_path: Path) -> None:
    result = guichet(tmp_path, "ingest", "--help")
    assert result.returncode == 0
    for english in ("Show this message", "Usage:", "[required]", "[default:"):
        assert english not in result.stdout, english
    assert "Affiche cette aide" in result.stdout and "--replace-samples" in result.stdout


def test_replace_samples_drops_the_demo_fiches(tmp_path: Path) -> None:
    samples, real = tmp_path / "samples", tmp_path / "real"
    samples.mkdir()
    real.mkdir()
    (samples / "exemple.txt").write_text("La zorglubine d'exemple se demande en mairie.", encoding="utf-8")
    (real / "vraie.txt").write_text("Le chèque énergie est envoyé chaque année.", encoding="utf-8")
    data = tmp_path / "data"
    assert guichet(data, "ingest", str(samples), "--prefix", "exemples").returncode == 0
    kept = guichet(data, "ingest", str(real))
    assert kept.returncode == 0 and "--replace-samples" in kept.stderr, "says how to drop them"
    dropped = guichet(data, "ingest", "--replace-samples", str(real))
    assert dropped.returncode == 0 and "Fiches d'exemple retirées : 1." in dropped.stdout
    found = json.loads(guichet(data, "search", "zorglubine", "-k", "5", "--json").stdout)
    assert all(not hit["id"].startswith("exemples/") for hit in found)


def test_ask_refuses_bad_input_and_an_empty_index(tmp_path: Path) -> None:
    empty = guichet(tmp_path, "ask", "   ")
    assert empty.returncode == 2 and len(empty.stderr.strip().splitlines()) == 1
    unknown = guichet(tmp_path, "ask", "question", "--audience", "touristes")
    assert unknown.returncode == 2
    nothing = guichet(tmp_path, "ask", "Comment renouveler mon passeport ?")
    assert nothing.returncode == 1 and "guichet ingest" in nothing.stderr
