"""The evidence an answer is built from: retrieved passages, numbered, with their fiche's metadata.

The index keeps each document's metadata as JSON beside its chunks (ingestion.document_metadata);
DocumentMeta reads back the part answers need and tolerates missing keys (partner documents, older
indexes). When the advisor describes the citizen's situation, gather_evidence puts first the passages
whose Situation/Cas branch matches it and last those of a sibling branch that contradicts it: that is
how an answer follows "vous êtes né à l'étranger" rather than "vous êtes né en France".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from guichet.answer.case_blocs import CaseLayout
from guichet.answer.overlap import with_continuations
from guichet.answer.situation import Situation, deciding_case, on_path, situation_order
from guichet.corpus.model import Contact, Document, Link, OnlineService, RelatedQuestion, ServiceType
from guichet.lexical import fold
from guichet.ports.index import VectorIndex
from guichet.ports.records import Chunk, SearchHit

FICHES_JUDGED_WHOLE = 2
_SERVICE_TYPES: tuple[ServiceType, ...] = ("teleservice", "simulateur", "formulaire", "autre")


@dataclass(frozen=True)
class DocumentMeta:
    id: str = ""
    title: str = ""
    url: str = ""
    fiche_type: str = ""
    audience: tuple[str, ...] = ()
    services: tuple[OnlineService, ...] = ()
    questions: tuple[RelatedQuestion, ...] = ()
    see_also: tuple[Link, ...] = ()
    contacts: tuple[Contact, ...] = ()
    updated: str = ""  # ISO date of the document's last update
    # Which of its cases exclude each other (case_blocs.py): read only for a fiche whose extracts show
    # cases that part, never stored
    cases: CaseLayout = field(default_factory=CaseLayout)

    @property
    def is_question(self) -> bool:
        """A question-réponse fiche: its title is a question an advisor may ask next."""
        return "question-reponse" in fold(self.fiche_type)

    @classmethod
    def from_metadata_json(cls, s: str) -> DocumentMeta:
        try:
            raw = json.loads(s or "{}")
        except ValueError:
            return cls()
        if not isinstance(raw, dict):
            return cls()
        return cls(
            id=_str(raw, "id"),
            title=_str(raw, "title"),
            url=_str(raw, "url"),
            fiche_type=_str(raw, "fiche_type"),
            audience=tuple(str(a) for a in _list(raw, "audience")),
            services=tuple(_service(d) for d in _dicts(raw, "services")),
            questions=tuple(
                RelatedQuestion(_str(d, "id"), _str(d, "question"), _str(d, "url"))
                for d in _dicts(raw, "questions")
            ),
            see_also=tuple(
                Link(_str(d, "title"), _str(d, "url"), _str(d, "target_id")) for d in _dicts(raw, "see_also")
            ),
            contacts=tuple(
                Contact(_str(d, "title"), _str(d, "kind"), _str(d, "url"), _str(d, "text"))
                for d in _dicts(raw, "contacts")
            ),
            updated=_str(raw, "date_modified"),
        )

    @classmethod
    def from_document(cls, doc: Document) -> DocumentMeta:
        return cls(
            doc.id, doc.title, doc.url, doc.fiche_type, tuple(doc.audience), doc.services, doc.questions,
            doc.see_also, doc.contacts, doc.date_modified,
        )  # fmt: skip


def _list(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    return value if isinstance(value, list) else []


def _dicts(raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [d for d in _list(raw, key) if isinstance(d, dict)]


def _str(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    return str(value) if value is not None else ""


def _service_type(raw: str) -> ServiceType:
    for known in _SERVICE_TYPES:
        if known == raw:
            return known
    return "autre"


def _service(d: dict[str, Any]) -> OnlineService:
    return OnlineService(
        id=_str(d, "id"),
        type=_service_type(_str(d, "type")),
        title=_str(d, "title"),
        url=_str(d, "url"),
        cerfa=_str(d, "cerfa"),
        institution=_str(d, "institution"),
        notice_url=_str(d, "notice_url"),
        branch=_str(d, "branch"),
    )


@dataclass(frozen=True)
class Extract:
    """One passage given to the model as [n] (1-based), with its fiche's metadata."""

    n: int
    chunk: Chunk
    score: float
    document: DocumentMeta
    matches_situation: bool = False
    continues: bool = False  # its first line repeats the end of the passage before (answer/overlap.py)

    @property
    def doc_id(self) -> str:
        return self.document.id or self.chunk.doc_id

    @property
    def title(self) -> str:
        return self.document.title or self.chunk.title

    @property
    def url(self) -> str:
        return self.document.url or self.chunk.url

    @property
    def branch(self) -> str:
        return self.chunk.branch

    @property
    def text(self) -> str:
        """The passage without its first line when that line repeats the passage before."""
        return (
            self.chunk.text.split("\n", 1)[1]
            if self.continues and "\n" in self.chunk.text
            else self.chunk.text
        )

    @property
    def in_decided_case(self) -> bool:
        """A passage of the case the citizen's situation decides (not the fiche's common text)."""
        return self.matches_situation and bool(self.branch)


def gather_evidence(
    hits: Sequence[SearchHit], index: VectorIndex, *, limit: int, situation: str = ""
) -> list[Extract]:
    """At most `limit` extracts, without duplicate chunks, situation-matching branches first.

    With a situation, the cases of the fiches among the first `limit` hits are judged against all their
    fiche's cases, retrieved or not; a fiche none of whose retrieved passages the situation matches, while
    it decides another of its cases, gets that case's passage in its first place (_with_deciding_cases)."""
    unique: list[SearchHit] = []
    seen: set[str] = set()
    for hit in hits:
        if hit.chunk.id not in seen:
            seen.add(hit.chunk.id)
            unique.append(hit)
    read = Situation.read(situation) if situation else None  # read once: its label scores are kept
    read_fiches = _judged_fiches(unique, index) if read is not None else {}
    fiches = {key: chunks for key, chunks in read_fiches.items() if any(c.branch for c in chunks)}
    if read is not None:
        unique = _with_deciding_cases(unique, fiches, read)
    retrieved = {h.chunk.id for h in unique}
    siblings = [c for chunks in fiches.values() for c in chunks if c.id not in retrieved]
    order = situation_order([h.chunk for h in unique], read or "", siblings)
    metas: dict[str, DocumentMeta] = {}
    extracts: list[Extract] = []
    for position, matched in order[: max(limit, 0)]:
        hit = unique[position]
        meta = metas.get(hit.chunk.doc_key)
        if meta is None:
            meta = metas[hit.chunk.doc_key] = _load_meta(index, hit.chunk)
        extracts.append(Extract(len(extracts) + 1, hit.chunk, hit.score, meta, matched))

    def passages(key: str) -> list[Chunk]:  # each fiche read once, whoever asks first
        if key not in read_fiches:
            read_fiches[key] = [chunk for chunk, _ in index.document_chunks(key)]
        return read_fiches[key]

    return with_continuations(_with_case_layouts(extracts, passages), passages)


def _with_case_layouts(extracts: list[Extract], passages: Callable[[str], list[Chunk]]) -> list[Extract]:
    """Each fiche whose extracts lie in cases that part gets its CaseLayout, from all its passages."""
    branches: dict[str, set[str]] = {}
    for extract in extracts:
        if extract.branch:
            branches.setdefault(extract.chunk.doc_key, set()).add(extract.branch)
    documents: dict[str, DocumentMeta] = {}  # one per fiche, shared by its extracts
    for extract in extracts:
        key, found = extract.chunk.doc_key, branches.get(extract.chunk.doc_key, set())
        if key not in documents and any(not on_path(a, b) for a in found for b in found):
            documents[key] = replace(extract.document, cases=CaseLayout.of(passages(key)))
    return [
        replace(e, document=documents[e.chunk.doc_key]) if e.chunk.doc_key in documents else e
        for e in extracts
    ]


def _judged_fiches(hits: Sequence[SearchHit], index: VectorIndex) -> dict[str, list[Chunk]]:
    """doc_key -> all the fiche's chunks, for the fiches a situation may decide a case of: those of hits
    with a passage in a case, and the first two fiches whatever their passages: the opening passage of
    F1444 says nothing of "Décès à l'étranger", which "décédé en Espagne" decides. (Two: an answer quotes
    at most two fiches; a deciding case of a farther one would take their room.) The caller keeps those
    that have cases."""
    first = list(dict.fromkeys(h.chunk.doc_key for h in hits))[:FICHES_JUDGED_WHOLE]
    keys = dict.fromkeys([*first, *(h.chunk.doc_key for h in hits if h.chunk.branch)])
    return {key: [chunk for chunk, _ in index.document_chunks(key)] for key in keys}


def _with_deciding_cases(
    hits: list[SearchHit], fiches: dict[str, list[Chunk]], situation: Situation
) -> list[SearchHit]:
    """hits, plus the passage of the case the situation decides in each fiche whose retrieved passages
    it does not match: in the fiche's first place, with its best hit's score."""
    out = list(hits)
    for key, chunks in fiches.items():
        retrieved = {h.chunk.id for h in hits if h.chunk.doc_key == key}
        case = deciding_case(chunks, situation, retrieved)
        if case is not None:
            first = next(i for i, h in enumerate(out) if h.chunk.doc_key == key)
            out.insert(first, SearchHit(case, out[first].score))
    return out


def _load_meta(index: VectorIndex, chunk: Chunk) -> DocumentMeta:
    state = index.document_state(chunk.doc_key)
    meta = DocumentMeta.from_metadata_json(state.metadata_json if state is not None else "{}")
    return replace(
        meta,
        id=meta.id or chunk.doc_id,
        title=meta.title or chunk.title,
        url=meta.url or chunk.url,
        audience=meta.audience or chunk.audience,
    )


def chosen_branches(extracts: Sequence[Extract]) -> dict[str, str]:
    """Fiche id -> the case its answer follows: the branch of its best (first) extract.

    "" (no case chosen) when that extract is outside any branch, or when it did not match the situation
    while the fiche's extracts show sibling cases: the model was then told to give each case.
    """
    by_doc: dict[str, list[Extract]] = {}
    for extract in sorted(extracts, key=lambda e: e.n):
        by_doc.setdefault(extract.doc_id, []).append(extract)
    chosen: dict[str, str] = {}
    for doc_id, items in by_doc.items():
        best = items[0]
        single_case = all(on_path(best.branch, e.branch) for e in items)
        chosen[doc_id] = best.branch if best.matches_situation or single_case else ""
    return chosen


def allowed_texts(extracts: Sequence[Extract]) -> list[str]:
    """Where a URL, phone number, amount or cerfa number may come from: the passages and their fiche's
    own links (its URL, online services with their cerfa and notice, who can help)."""
    texts: list[str] = []
    for e in extracts:
        # The whole passage, a line repeated from the passage before included: it is the fiche's text.
        texts += [e.chunk.context, e.chunk.text, e.chunk.url, e.document.url]
        for s in e.document.services:
            texts += [s.title, s.url, s.cerfa, s.notice_url]
        for c in e.document.contacts:
            texts += [c.title, c.url, c.text]
    return [t for t in texts if t]
