"""Cutting a Document into retrievable Chunks that follow its structure.

One chunk per block (a Chapitre, a Situation, a Cas, a note) so that a hit points at one case of
a fiche; very short neighbours of the same section and branch are merged (a two-line Cas alone
embeds poorly), and long blocks are split on line, then sentence boundaries, with some overlap so
that a sentence cut from its antecedent still reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guichet.corpus.model import Block, Document
from guichet.ports.records import Chunk, chunk_uuid

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[A-ZÀ-ÖØ-Þ0-9«(\"-])")


@dataclass(frozen=True)
class _Piece:
    """A block, or several merged blocks, before splitting."""

    kind: str
    text: str
    title_path: tuple[str, ...]
    branch: tuple[str, ...]
    condition: str

    @property
    def words(self) -> int:
        return len(self.text.split())


def chunk_document(doc: Document, key: str, *, max_words: int = 180, overlap_words: int = 30) -> list[Chunk]:
    """Chunks of doc in document order; ids are uuid5(key, ordinal), so stable for the same content."""
    if max_words < 1 or not 0 <= overlap_words < max_words:
        raise ValueError("max_words must be ≥ 1 and 0 ≤ overlap_words < max_words")
    pieces = _merge_short([_piece(b) for b in doc.blocks if b.text.strip()], max_words)
    if not pieces:  # a theme or dossier page without text must still be findable
        fallback = doc.description or doc.title or doc.id
        pieces = [_Piece("summary", fallback, (), (), "")]
    chunks: list[Chunk] = []
    for piece in pieces:
        for text in split_text(piece.text, max_words, overlap_words):
            chunks.append(_chunk(doc, key, len(chunks), piece, text))
    return chunks


def _piece(block: Block) -> _Piece:
    return _Piece(block.kind, block.text.strip(), block.title_path, block.branch, block.condition)


def _merge_short(pieces: list[_Piece], max_words: int) -> list[_Piece]:
    short = max(20, max_words // 4)
    merged: list[_Piece] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if (
            last is not None
            and (last.title_path, last.branch, last.condition)
            == (piece.title_path, piece.branch, piece.condition)
            and (last.words < short or piece.words < short)
            and last.words + piece.words <= max_words
        ):
            # A note merged into its section keeps the section's kind: it is text of that section.
            kind = piece.kind if last.kind == "note" else last.kind
            merged[-1] = _Piece(
                kind, f"{last.text}\n{piece.text}", last.title_path, last.branch, last.condition
            )
        else:
            merged.append(piece)
    return merged


def split_text(text: str, max_words: int, overlap_words: int) -> list[str]:
    """Windows of ≤ max_words words (plus ≤ overlap_words repeated from the previous window)."""
    if len(text.split()) <= max_words:
        return [text]
    windows: list[list[str]] = [[]]
    size = 0
    for segment in _segments(text, max_words):
        count = len(segment.split())
        if size and size + count > max_words:
            windows.append([])
            size = 0
        windows[-1].append(segment)
        size += count
    out: list[str] = []
    previous_words: list[str] = []
    for window in windows:
        body = "\n".join(window)
        overlap = previous_words[-overlap_words:] if overlap_words else []
        out.append(" ".join(overlap) + ("\n" if overlap else "") + body)
        previous_words = body.split()
    return out


def _segments(text: str, max_words: int) -> list[str]:
    """Lines; lines too long become sentences; sentences too long become word runs."""
    segments: list[str] = []
    for line in (ln.strip() for ln in text.split("\n")):
        if not line:
            continue
        if len(line.split()) <= max_words:
            segments.append(line)
            continue
        for sentence in _SENTENCE_END.split(line):
            words = sentence.split()
            segments.extend(" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words))
    return segments


def _chunk(doc: Document, key: str, ordinal: int, piece: _Piece, text: str) -> Chunk:
    section = " > ".join(piece.title_path)
    branch = " > ".join(piece.branch)
    parts = [doc.title, section, branch]
    if piece.condition:
        parts.append(f"Condition : {piece.condition}")
    return Chunk(
        id=chunk_uuid(key, ordinal),
        doc_key=key,
        doc_id=doc.id,
        ordinal=ordinal,
        title=doc.title,
        url=doc.url,
        audience=tuple(doc.audience),
        section=section,
        branch=branch,
        kind=piece.kind,
        text=text,
        context=" — ".join(p for p in parts if p),
    )
