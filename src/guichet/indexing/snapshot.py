"""Index snapshots: the passages, metadata and vectors of an index in one file, with the embedder's name.

A national team embeds the dump once (on a GPU embedder if it has one) and every site imports the
snapshot instead of spending hours re-embedding on 2 cores. The file is a zip (stdlib, deflate):

- manifest.json: format, version, embedder name, dimension, counts;
- documents.jsonl: one line per live document: its DocumentState and its chunks, in ordinal order;
- vectors.f32: the chunks' vectors, float32 little-endian rows, in the order of documents.jsonl.

Import goes through the VectorIndex port (replace_document), so it fills the embedded index or
Weaviate alike (Weaviate receives the vectors we provide, in batches of its adapter's size). A
document the index already holds with the same content and embedder is skipped: an interrupted
import is resumed by running it again. Import refuses a snapshot made by another embedder than the
configured one: vectors of two models never mix in one index.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from guichet.ports.index import VectorIndex
from guichet.ports.records import Chunk, DocumentState, Vector

FORMAT = "guichet-index-snapshot"
VERSION = 1
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
VECTORS = "vectors.f32"

Progress = Callable[[int], object]


class SnapshotError(Exception):
    """A snapshot that cannot be read or does not fit the configured index (message in French)."""


@dataclass(frozen=True)
class Manifest:
    embedder: str
    dimension: int
    documents: int
    passages: int
    format: str = FORMAT
    version: int = VERSION


@dataclass(frozen=True)
class ImportReport:
    documents: int = 0
    imported: int = 0
    unchanged: int = 0
    passages: int = 0

    def summary(self) -> str:
        return (
            f"{self.documents} documents ({self.imported} importés, {self.unchanged} inchangés), "
            f"{self.passages} passages"
        )


def export_index(index: VectorIndex, path: Path, *, embedder: str, dimension: int) -> Manifest:
    """Write every live document of index to path; the embedder is the one the index was built with."""
    path.parent.mkdir(parents=True, exist_ok=True)
    documents = passages = 0
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        vectors_file = Path(tmp) / VECTORS
        partial = Path(tmp) / path.name
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            with archive.open(DOCUMENTS, "w", force_zip64=True) as lines, vectors_file.open("wb") as raw:
                for state in index.documents():
                    if state.deleted:
                        continue
                    _check_embedder(state, embedder)
                    pairs = index.document_chunks(state.key)
                    lines.write(_document_line(state, [c for c, _ in pairs]))
                    for _, vector in pairs:
                        raw.write(_row(vector, dimension, state.key))
                    documents += 1
                    passages += len(pairs)
            archive.write(vectors_file, VECTORS)
            manifest = Manifest(embedder, dimension, documents, passages)
            archive.writestr(MANIFEST, json.dumps(asdict(manifest), ensure_ascii=False, indent=1))
        shutil.move(partial, path)  # never a half-written snapshot under the final name
    return manifest


def _check_embedder(state: DocumentState, embedder: str) -> None:
    if state.embedder and state.embedder != embedder:
        raise SnapshotError(
            f"{state.key} a été vectorisé par {state.embedder!r}, pas par {embedder!r} : "
            "réindexez-le avant d'exporter"
        )


def _document_line(state: DocumentState, chunks: list[Chunk]) -> bytes:
    record = {"state": asdict(state), "chunks": [asdict(c) for c in chunks]}
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def _row(vector: Vector, dimension: int, key: str) -> bytes:
    array = np.asarray(vector, dtype="<f4")
    if array.shape != (dimension,):
        raise SnapshotError(f"{key} : vecteur de forme {array.shape}, attendu ({dimension},)")
    return array.tobytes()


def read_manifest(path: Path) -> Manifest:
    try:
        with zipfile.ZipFile(path) as archive:
            raw = json.loads(archive.read(MANIFEST))
        manifest = Manifest(**raw)
    except FileNotFoundError as exc:
        raise SnapshotError(f"instantané introuvable : {path}") from exc
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise SnapshotError(f"{path} n'est pas un instantané d'index guichet lisible") from exc
    if manifest.format != FORMAT or manifest.version != VERSION:
        raise SnapshotError(
            f"{path} : format {manifest.format} v{manifest.version} non pris en charge "
            f"(attendu {FORMAT} v{VERSION})"
        )
    return manifest


def check_compatible(manifest: Manifest, *, embedder: str, dimension: int) -> None:
    if manifest.embedder != embedder or manifest.dimension != dimension:
        raise SnapshotError(
            f"instantané vectorisé par {manifest.embedder!r} (dimension {manifest.dimension}), "
            f"mais le modèle configuré est {embedder!r} (dimension {dimension}) : import refusé, "
            "les vecteurs de deux modèles ne se mélangent pas (changez GUICHET_EMBED_MODEL ou "
            "utilisez un instantané fait avec ce modèle)"
        )


def import_snapshot(
    index: VectorIndex, path: Path, *, embedder: str, dimension: int, progress: Progress | None = None
) -> ImportReport:
    """Load path into index; documents already there with the same content and embedder are skipped."""
    manifest = read_manifest(path)
    check_compatible(manifest, embedder=embedder, dimension=dimension)
    imported = unchanged = passages = 0
    for state, chunks, vectors in _entries(path, dimension):
        current = index.document_state(state.key)
        if _same(current, state):
            unchanged += 1
        else:
            index.replace_document(state, chunks, vectors)
            imported += 1
        passages += len(chunks)
        if progress is not None:
            progress(1)
    return ImportReport(imported + unchanged, imported, unchanged, passages)


def _same(current: DocumentState | None, state: DocumentState) -> bool:
    return (
        current is not None
        and not current.deleted
        and current.content_hash == state.content_hash
        and current.embedder == state.embedder
        and current.chunk_count == state.chunk_count
    )


def _entries(path: Path, dimension: int) -> Iterator[tuple[DocumentState, list[Chunk], list[Vector]]]:
    row_bytes = 4 * dimension
    try:
        with zipfile.ZipFile(path) as archive, archive.open(DOCUMENTS) as lines, archive.open(VECTORS) as raw:
            for number, line in enumerate(lines, 1):
                state, chunks = _parse_line(line, number)
                yield state, chunks, _read_rows(raw, len(chunks), row_bytes, dimension, state.key)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise SnapshotError(f"{path} : instantané illisible ({exc})") from exc


def _parse_line(line: bytes, number: int) -> tuple[DocumentState, list[Chunk]]:
    try:
        record: dict[str, Any] = json.loads(line)
        state = DocumentState(**record["state"])
        chunks = [Chunk(**{**c, "audience": tuple(c["audience"])}) for c in record["chunks"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"instantané : ligne {number} de {DOCUMENTS} invalide ({exc})") from exc
    return state, chunks


def _read_rows(raw: IO[bytes], count: int, row_bytes: int, dimension: int, key: str) -> list[Vector]:
    data = raw.read(count * row_bytes)
    if len(data) != count * row_bytes:
        raise SnapshotError(f"instantané tronqué : vecteurs manquants pour {key}")
    matrix = np.frombuffer(data, dtype="<f4").reshape(count, dimension)
    return [row.tolist() for row in matrix]
