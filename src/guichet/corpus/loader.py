"""Choosing the parser for an object-store key, by its extension."""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath

from guichet.corpus.errors import DocumentError
from guichet.corpus.fiche import parse_fiche
from guichet.corpus.model import Document
from guichet.corpus.partner import parse_partner

FICHE_SUFFIXES = (".xml",)
PARTNER_SUFFIXES = (".md", ".markdown", ".html", ".htm", ".pdf", ".txt")
SUPPORTED_SUFFIXES: tuple[str, ...] = FICHE_SUFFIXES + PARTNER_SUFFIXES
# Above this share of control or replacement characters, the "text" is binary or mis-decoded.
MAX_GARBLED_RATIO = 0.02


def parse_document(key: str, data: bytes, *, max_bytes: int) -> Document:
    """Parse the object stored under key; DocumentError when the format is unknown or the content bad.

    Documents come from object storage, i.e. from anyone allowed to upload: whatever goes wrong while
    parsing one (a parser bug, absurd nesting) is that document's fault and becomes a DocumentError,
    so the index worker dead-letters it with a reason instead of crash-looping.
    """
    suffix = PurePosixPath(key).suffix.lower()
    # Checked here too so that an oversize object is refused before any parser touches it.
    if len(data) > max_bytes:
        raise DocumentError(f"document trop volumineux : {len(data)} octets (maximum {max_bytes})")
    try:
        doc = _parse(suffix, key, data, max_bytes)
    except DocumentError:  # IgnoredDocument included
        raise
    except RecursionError as exc:
        raise DocumentError("document trop profondément imbriqué") from exc
    except Exception as exc:
        raise DocumentError(f"document illisible ({type(exc).__name__})") from exc
    _check_text(doc)
    return doc


def _parse(suffix: str, key: str, data: bytes, max_bytes: int) -> Document:
    if suffix in FICHE_SUFFIXES:
        return parse_fiche(data, max_bytes=max_bytes)
    if suffix in PARTNER_SUFFIXES:
        return parse_partner(key, data, max_bytes=max_bytes)
    raise DocumentError(f"format non pris en charge : {suffix or key}")


def _check_text(doc: Document) -> None:
    text = "".join(block.text for block in doc.blocks)
    if not text.strip():
        raise DocumentError("aucun texte exploitable dans le document")
    garbled = sum(
        1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\n\r\t")
    )
    if garbled > MAX_GARBLED_RATIO * len(text):
        raise DocumentError("texte illisible (fichier binaire ou encodage inconnu ?)")
