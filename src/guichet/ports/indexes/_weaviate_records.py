"""Chunk and DocumentState to and from the properties of Weaviate objects."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from guichet.lexical import analyzed_text
from guichet.ports.records import Chunk, DocumentState, Vector

STATE_NAMESPACE = uuid.UUID("0b9d3c1e-7f4a-4c55-8f0e-2a6d9e4b1c37")


def state_uuid(key: str) -> str:
    return str(uuid.uuid5(STATE_NAMESPACE, key))


def chunk_to_properties(chunk: Chunk) -> dict[str, Any]:
    return {
        "doc_key": chunk.doc_key, "doc_id": chunk.doc_id, "url": chunk.url, "kind": chunk.kind,
        "text_hash": chunk.text_hash, "title": chunk.title, "section": chunk.section,
        "branch": chunk.branch, "text": chunk.text, "context": chunk.context, "ordinal": chunk.ordinal,
        "audience": list(chunk.audience), "analyzed": analyzed_text(chunk.indexed_text),
    }  # fmt: skip


def chunk_from_object(obj: Any) -> Chunk:
    p = obj.properties
    return Chunk(
        id=str(obj.uuid), doc_key=_text(p, "doc_key"), doc_id=_text(p, "doc_id"),
        ordinal=int(p.get("ordinal") or 0), title=_text(p, "title"), url=_text(p, "url"),
        audience=tuple(p.get("audience") or ()), section=_text(p, "section"), branch=_text(p, "branch"),
        kind=_text(p, "kind"), text=_text(p, "text"), context=_text(p, "context"),
    )  # fmt: skip


def state_to_properties(state: DocumentState) -> dict[str, Any]:
    return {
        "key": state.key, "doc_id": state.doc_id, "content_hash": state.content_hash, "etag": state.etag,
        "sequencer": state.sequencer, "deleted": state.deleted, "chunk_count": state.chunk_count,
        "metadata_json": state.metadata_json, "embedder": state.embedder,
    }  # fmt: skip


def state_from_properties(p: Mapping[str, Any]) -> DocumentState:
    return DocumentState(
        key=_text(p, "key"), doc_id=_text(p, "doc_id"), content_hash=_text(p, "content_hash"),
        etag=_text(p, "etag"), sequencer=_text(p, "sequencer"), deleted=bool(p.get("deleted")),
        chunk_count=int(p.get("chunk_count") or 0), metadata_json=p.get("metadata_json") or "{}",
        embedder=_text(p, "embedder"),
    )  # fmt: skip


def _text(p: Mapping[str, Any], name: str) -> str:
    # The client decodes a null property as None and leaves out one the server did not send; our
    # empty strings ("" branch, tombstone content_hash, unknown embedder) must come back as "" in both
    # cases (a state written before `embedder` existed has no such property).
    return str(p.get(name) or "")


def flat(vector: Any) -> Vector:
    # Our vectors are single (not multi-vector): each one is a flat list of floats.
    return [float(x) for x in vector]
