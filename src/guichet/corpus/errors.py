"""The one error a parser raises for a document it refuses, with a reason an advisor can read."""

from __future__ import annotations


class DocumentError(ValueError):
    """A document that cannot be parsed (invalid, unsafe, too large, unsupported).

    reason is in French because it ends up in ingestion reports read by France services staff.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IgnoredDocument(DocumentError):
    """A well-formed file that is not meant to be indexed (DILA's ServiceComplementaire records, which
    describe online services already carried by the fiches that cite them; drafts titled "**…").
    Skipped, not dead-lettered."""
