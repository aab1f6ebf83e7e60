"""Index implementations. WeaviateIndex is imported from its module so that the embedded default
never pays for the weaviate-client import."""

from guichet.ports.indexes.embedded import EmbeddedIndex

__all__ = ["EmbeddedIndex"]
