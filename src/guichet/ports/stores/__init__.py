"""ObjectStore implementations: LocalObjectStore (a folder) and S3ObjectStore (S3/MinIO)."""

from guichet.ports.stores.local import LocalObjectStore

__all__ = ["LocalObjectStore"]
