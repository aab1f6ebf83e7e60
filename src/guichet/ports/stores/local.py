"""LocalObjectStore: the object store as a folder (embedded default).

Each key is a file under root; writes are atomic (temp file in the same folder, fsync, os.replace) so a
crash leaves either the old or the new object, never half of one. Temp file names start with a reserved
prefix that list() skips and keys may not use. Content types are not kept (nothing reads them back).
Unlike S3, a key cannot be both an object and a "folder" of other keys ("a" and "a/b"): StoreError.

After each successful put/delete the store calls notify(body) with the MinIO bucket notification MinIO
would have sent, so the embedded stack indexes from the same events as production. If notify raises,
the write has happened but its event is lost: the error reaches the caller (who may retry; puts are
idempotent) and `guichet reconcile` repairs whatever was missed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from guichet.indexing.notifications import build_bucket_notification
from guichet.ports.store import InvalidKey, KeyConflict, ObjectNotFound, StoredObject, StoreError, check_key

_TMP_PREFIX = ".guichet-tmp-"
_NAME_MAX = 255  # bytes in one file name (ext4, xfs, btrfs)


class LocalObjectStore:
    def __init__(
        self, root: Path, *, bucket: str = "guichet", notify: Callable[[bytes], None] | None = None
    ) -> None:
        self.root = Path(root).resolve()
        self.bucket = bucket
        self._notify = notify
        self._lock = threading.Lock()
        self._last_sequencer = 0
        self.root.mkdir(parents=True, exist_ok=True)

    # --- ObjectStore ---------------------------------------------------------------------------------

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> StoredObject:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, data)
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
            raise KeyConflict(f"la clé {key!r} entre en conflit avec un document existant") from exc
        except OSError as exc:
            raise StoreError(f"écriture impossible de {key!r} : {exc}") from exc
        stored = StoredObject(key, len(data), hashlib.md5(data).hexdigest(), _mtime_iso(path))
        self._emit("s3:ObjectCreated:Put", key, stored.size, stored.etag, content_type)
        return stored

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StoreError(f"lecture impossible de {key!r} : {exc}") from exc

    def head(self, key: str) -> StoredObject | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            data = path.read_bytes()  # md5 needs the content; documents are small
        except FileNotFoundError:
            return None
        return StoredObject(key, len(data), hashlib.md5(data).hexdigest(), _mtime_iso(path))

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return  # deleting a missing key is not an error, and (like S3) emits nothing here
        except OSError as exc:
            raise StoreError(f"suppression impossible de {key!r} : {exc}") from exc
        self._prune_empty_parents(path.parent)
        self._emit("s3:ObjectRemoved:Delete", key, 0, "", "")

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        keys = sorted(k for k in self._all_keys() if k.startswith(prefix))
        for key in keys:
            found = self.head(key)
            if found is not None:  # deleted between the walk and now
                yield found

    def ping(self) -> bool:
        return self.root.is_dir() and os.access(self.root, os.W_OK)

    # --- internals -----------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        check_key(key)
        if any(part.startswith(_TMP_PREFIX) for part in key.split("/")):
            raise InvalidKey(f"clé d'objet réservée : {key!r}")
        if any(len(part.encode()) > _NAME_MAX for part in key.split("/")):
            # Valid on S3, but no file can have this name: refused, not an OSError on every call.
            raise InvalidKey(f"clé d'objet trop longue pour un dossier ({_NAME_MAX} octets par segment)")
        path = self.root / key
        # check_key already forbids "..", this guards against anything the OS resolves differently.
        if not path.resolve().is_relative_to(self.root):
            raise InvalidKey(f"clé d'objet hors du magasin : {key!r}")
        return path

    def _all_keys(self) -> Iterator[str]:
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if not name.startswith(_TMP_PREFIX):
                    yield (Path(folder) / name).relative_to(self.root).as_posix()

    def _prune_empty_parents(self, folder: Path) -> None:
        # S3 has no folders: remove the ones a delete left empty so list()/walks stay cheap.
        while folder != self.root:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def _emit(self, event_name: str, key: str, size: int, etag: str, content_type: str) -> None:
        if self._notify is None:
            return
        body = build_bucket_notification(
            event_name,
            self.bucket,
            key,
            size=size,
            etag=etag,
            sequencer=self._next_sequencer(),
            content_type=content_type,
        )
        self._notify(body)

    def _next_sequencer(self) -> str:
        # MinIO's sequencer is the event time in ns as hex; make it strictly increasing even when the
        # clock does not move between two events (or goes back).
        with self._lock:
            self._last_sequencer = max(time.time_ns(), self._last_sequencer + 1)
            return f"{self._last_sequencer:016X}"


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)  # make the rename itself durable


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not supported on every platform; the file content is already synced
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mtime_iso(path: Path) -> str:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
    except OSError:
        return ""
