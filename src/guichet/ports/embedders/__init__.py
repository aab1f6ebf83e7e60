"""Embedder implementations: bundled (default), OpenAI-compatible HTTP, hashing (tests only)."""

from guichet.ports.embedders.bundled import BundledE5Embedder
from guichet.ports.embedders.fake import HashingEmbedder
from guichet.ports.embedders.openai_compat import OpenAICompatEmbedder

__all__ = ["BundledE5Embedder", "HashingEmbedder", "OpenAICompatEmbedder"]
