"""Object store port: where documents (and later answer records) are durably kept.

Implementations: stores/local.py (a folder, embedded default), stores/s3.py (S3/MinIO through boto3).
Semantics every implementation honours (tests/contracts/test_store_contract.py):
- put() is durable when it returns and returns the stored object's metadata (etag = quoted-free md5 hex
  for single-part uploads, like S3).
- get() of a missing key raises ObjectNotFound; delete() of a missing key is not an error.
- list() yields every object under a prefix, in key order, across pages.
- Keys are any UTF-8 string without a leading "/" and without ".." segments; others raise InvalidKey.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


class StoreError(Exception):
    """The store could not be reached or refused the operation."""


class ObjectNotFound(StoreError):
    pass


class InvalidKey(StoreError, ValueError):
    pass


class KeyConflict(StoreError):
    """The key cannot be stored beside an existing one (local folders: "a" is a file, "a/b" wanted)."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    etag: str
    last_modified: str = ""  # ISO 8601


def check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\x00" in key:
        raise InvalidKey(f"clé d'objet invalide : {key!r}")
    return key


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> StoredObject: ...

    def get(self, key: str) -> bytes: ...

    def head(self, key: str) -> StoredObject | None: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "") -> Iterator[StoredObject]: ...

    def ping(self) -> bool: ...
