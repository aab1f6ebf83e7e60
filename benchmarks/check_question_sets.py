#!/usr/bin/env python3
"""Validate the guichet question sets (stdlib only).

Checks benchmarks/questions_shared.jsonl against ../shared/fiches/MANIFEST.tsv and
src/guichet/samples/questions.jsonl against the sample fiches in src/guichet/samples/fiches/:
one JSON object per line, required keys and types, audience and difficulty enums, known
expected ids, no duplicate questions. With --facts, also reports expected_facts that do not
appear (case-insensitive) in the text of any expected fiche.

Usage: python3 benchmarks/check_question_sets.py [--facts] [--shared-root PATH]
Exit status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AUDIENCES = {"particuliers", "professionnels", "associations"}
DIFFICULTIES = {"facile", "moyen", "difficile"}
REQUIRED = {"question": str, "audience": str, "expected_sources": list, "difficulty": str, "theme": str}
OPTIONAL = {"situation": str, "expected_facts": list}


def manifest_ids(shared_root: Path) -> set[str]:
    path = shared_root / "fiches" / "MANIFEST.tsv"
    ids = set()
    with path.open(encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        col = header.index("ID")
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) > col and parts[col]:
                ids.add(parts[col])
    return ids


def sample_ids(fiche_dir: Path) -> set[str]:
    """Sample fiches are named by their service-public-like stem; their ids carry the EX- prefix."""
    return {f"EX-{p.stem}" for p in fiche_dir.glob("*.xml")}


def _norm(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").replace("\u00a0", " ").lower().split())


def fiche_text(path: Path) -> str:
    return _norm(" ".join(ET.parse(path).getroot().itertext()))


def check_file(
    path: Path, known: set[str], fiche_dir: Path | None, check_facts: bool, allow_empty_sources: bool
) -> tuple[list[str], list[dict]]:
    errors: list[str] = []
    cases: list[dict] = []
    seen: dict[str, int] = {}
    texts: dict[str, str] = {}
    if not path.exists():
        return [f"{path}: missing file"], cases
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{n}"
        if not raw.strip():
            errors.append(f"{where}: empty line")
            continue
        try:
            case = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}: invalid JSON ({exc})")
            continue
        if not isinstance(case, dict):
            errors.append(f"{where}: not a JSON object")
            continue
        for key, typ in REQUIRED.items():
            if key not in case:
                errors.append(f"{where}: missing key {key!r}")
            elif not isinstance(case[key], typ):
                errors.append(f"{where}: {key!r} must be {typ.__name__}")
        for key, typ in OPTIONAL.items():
            if key in case and not isinstance(case[key], typ):
                errors.append(f"{where}: {key!r} must be {typ.__name__}")
        extra = set(case) - set(REQUIRED) - set(OPTIONAL)
        if extra:
            errors.append(f"{where}: unknown keys {sorted(extra)}")
        if case.get("audience") not in AUDIENCES:
            errors.append(f"{where}: audience {case.get('audience')!r} not in {sorted(AUDIENCES)}")
        if case.get("difficulty") not in DIFFICULTIES:
            errors.append(f"{where}: difficulty {case.get('difficulty')!r} not in {sorted(DIFFICULTIES)}")
        question = case.get("question", "")
        if isinstance(question, str):
            if not question.strip():
                errors.append(f"{where}: empty question")
            key = _norm(question)
            if key in seen:
                errors.append(f"{where}: duplicate question (first at line {seen[key]})")
            seen.setdefault(key, n)
        sources = case.get("expected_sources", [])
        if isinstance(sources, list):
            if not sources and not allow_empty_sources:
                errors.append(f"{where}: expected_sources is empty")
            if not sources and allow_empty_sources and case.get("theme") != "hors corpus":
                errors.append(f"{where}: empty expected_sources requires theme 'hors corpus'")
            if len(sources) != len(set(sources)):
                errors.append(f"{where}: duplicate ids in expected_sources")
            for sid in sources:
                if not isinstance(sid, str) or sid not in known:
                    errors.append(f"{where}: unknown expected source {sid!r}")
        for fact in case.get("expected_facts", []) or []:
            if not isinstance(fact, str) or not fact.strip():
                errors.append(f"{where}: expected_facts entries must be non-empty strings")
        if check_facts and fiche_dir is not None and isinstance(sources, list) and sources:
            for fact in case.get("expected_facts", []) or []:
                found = False
                for sid in sources:
                    p = fiche_dir / f"{sid.removeprefix('EX-')}.xml"
                    if sid not in texts and p.exists():
                        texts[sid] = fiche_text(p)
                    if _norm(fact) in texts.get(sid, ""):
                        found = True
                        break
                if not found:
                    errors.append(f"{where}: fact {fact!r} not found in {sources}")
        cases.append(case)
    return errors, cases


def summary(name: str, cases: list[dict]) -> str:
    from collections import Counter

    aud = Counter(c.get("audience") for c in cases)
    diff = Counter(c.get("difficulty") for c in cases)
    theme = Counter(c.get("theme") for c in cases)
    situ = sum(1 for c in cases if c.get("situation"))
    return (
        f"{name}: {len(cases)} cases; audience {dict(aud)}; difficulty {dict(diff)}; "
        f"with situation {situ}; themes {dict(sorted(theme.items()))}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--facts", action="store_true", help="also check expected_facts against fiche text")
    ap.add_argument(
        "--shared-root",
        type=Path,
        default=REPO.parent / "shared",
        help="folder holding fiches/MANIFEST.tsv (default: ../shared)",
    )
    args = ap.parse_args()

    shared = REPO / "benchmarks" / "questions_shared.jsonl"
    sample = REPO / "src" / "guichet" / "samples" / "questions.jsonl"
    sample_dir = REPO / "src" / "guichet" / "samples" / "fiches"

    all_errors: list[str] = []
    manifest = args.shared_root / "fiches" / "MANIFEST.tsv"
    if manifest.exists():
        errs, shared_cases = check_file(
            shared, manifest_ids(args.shared_root), args.shared_root / "fiches" / "xml", args.facts, False
        )
        all_errors += errs
        print(summary(shared.name, shared_cases))
    else:
        print(f"skipping {shared.name}: {manifest} not found", file=sys.stderr)

    errs, sample_cases = check_file(sample, sample_ids(sample_dir), sample_dir, args.facts, True)
    all_errors += errs
    print(summary(sample.name, sample_cases))

    for e in all_errors:
        print("ERROR", e, file=sys.stderr)
    print("OK" if not all_errors else f"{len(all_errors)} error(s)")
    return 0 if not all_errors else 1


if __name__ == "__main__":
    sys.exit(main())
