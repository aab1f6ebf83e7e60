"""Embedder implementations: bundled (default) and OpenAI-compatible HTTP. The hashing embedder used by
tests lives in guichet.testing."""

from guichet.ports.embedders.bundled import BundledE5Embedder
from guichet.ports.embedders.openai_compat import OpenAICompatEmbedder

__all__ = ["BundledE5Embedder", "OpenAICompatEmbedder"]
