"""Choosing the parser for an object-store key, by its extension."""

from __future__ import annotations

from pathlib import PurePosixPath

from guichet.corpus.errors import DocumentError
from guichet.corpus.fiche import parse_fiche
from guichet.corpus.model import Document
from guichet.corpus.partner import parse_partner

FICHE_SUFFIXES = (".xml",)
PARTNER_SUFFIXES = (".md", ".markdown", ".html", ".htm", ".pdf", ".txt")
SUPPORTED_SUFFIXES: tuple[str, ...] = FICHE_SUFFIXES + PARTNER_SUFFIXES


def parse_document(key: str, data: bytes, *, max_bytes: int) -> Document:
    """Parse the object stored under key; DocumentError when the format is unknown or the content bad."""
    suffix = PurePosixPath(key).suffix.lower()
    # Checked here too so that an oversize object is refused before any parser touches it.
    if len(data) > max_bytes:
        raise DocumentError(f"document trop volumineux : {len(data)} octets (maximum {max_bytes})")
    if suffix in FICHE_SUFFIXES:
        return parse_fiche(data, max_bytes=max_bytes)
    if suffix in PARTNER_SUFFIXES:
        return parse_partner(key, data, max_bytes=max_bytes)
    raise DocumentError(f"format non pris en charge : {suffix or key}")
