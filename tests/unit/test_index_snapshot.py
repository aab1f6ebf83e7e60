"""`guichet index export` / `guichet index import` as a user runs them, with the bundled embedder.

Three sample fiches are ingested (real parsing, chunking, embedding), exported, and imported into an
empty data folder: the new index answers searches exactly as the original, a second import changes
nothing, and a snapshot made by another embedder or a damaged file is refused with exit code 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from guichet.indexing.snapshot import MANIFEST

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "guichet" / "samples" / "fiches"
FICHES = ("F1341.xml", "F12006.xml", "F1427.xml")


def guichet(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GUICHET_DATA_DIR": str(data_dir)}
    env.pop("GUICHET_BROKER_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "guichet", *args], env=env, capture_output=True, text=True, timeout=300
    )


def search_ids(data_dir: Path, query: str) -> list[tuple[str, str]]:
    result = guichet(data_dir, "search", query, "-k", "5", "--json")
    assert result.returncode == 0, result.stderr
    return [(hit["id"], hit["text"]) for hit in json.loads(result.stdout)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("snapshot")
    docs = root / "docs"
    docs.mkdir()
    for name in FICHES:
        (docs / name).write_bytes((SAMPLES / name).read_bytes())
    source = root / "source"
    assert guichet(source, "ingest", str(docs)).returncode == 0
    snapshot = root / "national.zip"
    result = guichet(source, "index", "export", str(snapshot))
    assert result.returncode == 0, result.stderr
    assert "3 documents" in result.stdout
    return source, snapshot


def test_import_gives_the_same_answers(exported: tuple[Path, Path], tmp_path: Path) -> None:
    source, snapshot = exported
    target = tmp_path / "target"
    result = guichet(target, "index", "import", str(snapshot))
    assert result.returncode == 0, result.stderr
    assert "3 importés" in result.stdout
    for query in ("carte d'identité perdue", "aide au logement", "congé maternité"):
        assert search_ids(target, query) == search_ids(source, query)


def test_second_import_changes_nothing(exported: tuple[Path, Path], tmp_path: Path) -> None:
    _, snapshot = exported
    assert guichet(tmp_path, "index", "import", str(snapshot)).returncode == 0
    again = guichet(tmp_path, "index", "import", str(snapshot))
    assert again.returncode == 0, again.stderr
    assert "0 importés, 3 inchangés" in again.stdout


def test_ingest_after_import_embeds_nothing(exported: tuple[Path, Path], tmp_path: Path) -> None:
    # `make national`: import the vectors, then store the documents; the index finds them current.
    _, snapshot = exported
    assert guichet(tmp_path, "index", "import", str(snapshot)).returncode == 0
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in FICHES:
        (docs / name).write_bytes((SAMPLES / name).read_bytes())
    result = guichet(tmp_path, "ingest", str(docs), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["embedded"] == 0 and report["outcomes"] == {"unchanged": 3}


def test_snapshot_of_another_embedder_is_refused(exported: tuple[Path, Path], tmp_path: Path) -> None:
    _, snapshot = exported
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(snapshot) as src, zipfile.ZipFile(other, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == MANIFEST:
                manifest = json.loads(data)
                data = json.dumps({**manifest, "embedder": "openai:text-embedding-3-small"}).encode()
            dst.writestr(item, data)
    result = guichet(tmp_path / "data", "index", "import", str(other))
    assert result.returncode == 1
    assert "import refusé" in result.stderr and "text-embedding-3-small" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert search_ids_or_empty(tmp_path / "data") == []


def search_ids_or_empty(data_dir: Path) -> list[str]:
    result = guichet(data_dir, "search", "logement", "--json")
    return [] if result.returncode != 0 else [h["id"] for h in json.loads(result.stdout)]


def test_damaged_or_missing_snapshot_is_refused(tmp_path: Path) -> None:
    damaged = tmp_path / "cassé.zip"
    damaged.write_bytes(b"PK\x03\x04 pas un zip")
    result = guichet(tmp_path / "data", "index", "import", str(damaged))
    assert result.returncode == 1 and "instantané" in result.stderr
    missing = guichet(tmp_path / "data", "index", "import", str(tmp_path / "absent.zip"))
    assert missing.returncode == 1 and "introuvable" in missing.stderr
