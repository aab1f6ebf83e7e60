"""`guichet sites import|list` and `guichet stats [rebuild]` as an operator runs them (subprocesses)."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from guichet.answer.record import AnswerRecord, AskJob, Timings, new_answer_id
from guichet.answer.store import AnswerRepository, Feedback
from guichet.pilotage.store import month_of
from guichet.ports.stores.local import LocalObjectStore
from tests.unit.test_cli import guichet

SITES_CSV = Path(__file__).resolve().parents[2] / "docs" / "samples" / "sites.csv"


def test_sites_import_is_checked_and_idempotent(tmp_path: Path) -> None:
    first = guichet(tmp_path, "sites", "import", str(SITES_CSV))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "6 site(s) lus : 6 ajouté(s), 0 modifié(s)."
    again = guichet(tmp_path, "sites", "import", str(SITES_CSV))
    assert again.stdout.strip() == "6 site(s) lus : 0 ajouté(s), 0 modifié(s)."
    listed = json.loads(guichet(tmp_path, "sites", "list", "--json").stdout)
    assert {s["id"]: s["departement"] for s in listed}["fs-ajaccio"] == "2A"

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id;nom;commune;code_insee;departement;region\n"
        "fs-a;A;Albi;81004;81;Occitanie\nfs-b;B;Brest;2900;29;Bretagne\n",
        encoding="utf-8",
    )
    refused = guichet(tmp_path, "sites", "import", str(bad))
    assert refused.returncode == 1 and "ligne 3 : code INSEE invalide" in refused.stderr
    missing = tmp_path / "columns.csv"
    missing.write_text("id,nom\nfs-a,A\n", encoding="utf-8")
    assert "colonnes manquantes : commune" in guichet(tmp_path, "sites", "import", str(missing)).stderr
    assert guichet(tmp_path, "sites", "import", str(tmp_path / "absent.csv")).returncode == 1
    assert len(json.loads(guichet(tmp_path, "sites", "list", "--json").stdout)) == 6  # nothing half-imported


def test_stats_rebuild_then_read(tmp_path: Path) -> None:
    answers = AnswerRepository(LocalObjectStore(tmp_path / "answers"))
    now = time.time()
    for site in ("fs-paris-15", "fs-paris-15", "fs-lyon-8"):
        job = AskJob(new_answer_id(), "Une question", created_at=now, site=site)
        done = AnswerRecord.queued(job)
        answers.put(replace(done, status="done", mode="extractive", timings=Timings(first_token_s=0.5)))
        last = job.id
    answers.add_feedback(Feedback(last, "down", ("hors sujet",), "un commentaire"))
    assert guichet(tmp_path, "sites", "import", str(SITES_CSV)).returncode == 0

    rebuilt = guichet(tmp_path, "stats", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "3 réponse(s) et 1 avis lus, 4 nouveau(x)" in rebuilt.stdout
    assert "0 nouveau(x)" in guichet(tmp_path, "stats", "rebuild").stdout

    shown = guichet(tmp_path, "stats", "--json", "--group-by", "region")
    assert shown.returncode == 0, shown.stderr
    body = json.loads(shown.stdout)
    assert body["period"]["to"] == month_of(now)
    assert {g["key"]: g["answers"] for g in body["groups"]} == {"Île-de-France": 2, "Auvergne-Rhône-Alpes": 1}
    lyon = next(g for g in body["groups"] if g["key"] == "Auvergne-Rhône-Alpes")
    assert lyon["down"] == 1 and lyon["top_down_reasons"][0]["code"] == "hors_sujet"
    table = guichet(tmp_path, "stats", "--departement", "75")
    assert table.returncode == 0 and "moins de 5 avis" in table.stdout
    assert guichet(tmp_path, "stats", "--csv").stdout.startswith("\ufeffgroupe;libelle")
    assert guichet(tmp_path, "stats", "--from", "2026-13").returncode == 2
