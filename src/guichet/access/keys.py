"""API keys of the France services sites: created once, kept hashed in the answer store, cached per replica.

A key reads "gk_<id>_<secret>": the id (public, in `guichet keys list`) names the record
access/keys/<id>.json; the record holds the SHA-256 of the whole key, never the key. The answer store is
shared by every replica and never announces its writes, so the index worker never sees the records.
Each replica keeps every record in memory and lists the folder again every auth_refresh seconds (only
changed records are fetched again): a key revoked anywhere stops working everywhere within that delay.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Literal

from guichet.ports.store import ObjectNotFound, ObjectStore, StoreError

log = logging.getLogger(__name__)

Role = Literal["advisor", "operator", "admin"]
ROLES: tuple[Role, ...] = ("advisor", "operator", "admin")  # each role can do what the previous ones can
PREFIX = "access/keys/"
KEY_ID = re.compile(r"^[0-9a-f]{12}$")
SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MISS_REFRESH_S = 1.0  # an unknown key triggers a reload (a key just created elsewhere), at most this often


def role_allows(role: str, required: Role) -> bool:
    return role in ROLES and ROLES.index(role) >= ROLES.index(required)


def digest(key: str) -> str:
    """SHA-256 is enough: keys are 256-bit random secrets, nothing to slow a guess down for (ADR 0014)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    id: str
    site: str
    role: Role
    hash: str
    label: str = ""
    created_at: float = 0.0
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public(self) -> dict[str, object]:
        """What `guichet keys list` shows: everything but the hash."""
        data = asdict(self)
        del data["hash"]
        return data

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes) -> ApiKey:
        raw = json.loads(body)
        revoked = raw.get("revoked_at")
        return cls(
            id=str(raw["id"]),
            site=str(raw["site"]),
            role=raw["role"] if raw["role"] in ROLES else "advisor",
            hash=str(raw["hash"]),
            label=str(raw.get("label", "")),
            created_at=float(raw.get("created_at", 0.0)),
            revoked_at=float(revoked) if revoked is not None else None,
        )


def split_key(key: str) -> str | None:
    """The id of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "gk" or not KEY_ID.match(parts[1]) or len(parts[2]) < 32:
        return None
    return parts[1]


class KeyRepository:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def create(self, site: str, role: Role, label: str = "") -> tuple[ApiKey, str]:
        """The record and the key itself, which is shown once and never stored."""
        if not SITE_ID.match(site):
            raise ValueError(
                "identifiant de site invalide : lettres, chiffres, « . », « _ », « - » (64 au plus)"
            )
        if role not in ROLES:
            raise ValueError(f"rôle inconnu : {role} (advisor, operator ou admin)")
        key_id = secrets.token_hex(6)
        key = f"gk_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id, site, role, digest(key), label.strip(), created_at=time.time())
        self._put(record)
        return record, key

    def get(self, key_id: str) -> ApiKey | None:
        if not KEY_ID.match(key_id):
            return None
        try:
            return ApiKey.from_json(self._store.get(f"{PREFIX}{key_id}.json"))
        except ObjectNotFound:
            return None

    def list(self) -> list[ApiKey]:
        return sorted(self.load({})[0].values(), key=lambda k: k.created_at)

    def revoke(self, key_id: str) -> ApiKey | None:
        record = self.get(key_id)
        if record is None:
            return None
        if record.active:
            record = replace(record, revoked_at=time.time())
            self._put(record)
        return record

    def load(
        self, known: dict[str, tuple[str, ApiKey]]
    ) -> tuple[dict[str, ApiKey], dict[str, tuple[str, ApiKey]]]:
        """Every record by id, fetching only those whose etag differs from known (id -> (etag, record))."""
        fresh: dict[str, tuple[str, ApiKey]] = {}
        for obj in self._store.list(PREFIX):
            key_id = obj.key.removeprefix(PREFIX).removesuffix(".json")
            cached = known.get(key_id)
            if cached is not None and cached[0] == obj.etag:
                fresh[key_id] = cached
                continue
            try:
                fresh[key_id] = (obj.etag, ApiKey.from_json(self._store.get(obj.key)))
            except ObjectNotFound:
                continue  # deleted between the listing and the read
            except (ValueError, KeyError, TypeError):
                log.warning("API key %s: unreadable record, ignored", key_id)
        return {k: v[1] for k, v in fresh.items()}, fresh

    def _put(self, record: ApiKey) -> None:
        self._store.put(f"{PREFIX}{record.id}.json", record.to_json(), "application/json")


class KeyRing:
    """The keys as one replica knows them: authenticate() never waits for the store; refresh() does."""

    def __init__(
        self, repository: KeyRepository, *, refresh_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._repository = repository
        self._refresh_s = refresh_s
        self._clock = clock
        self._keys: dict[str, ApiKey] = {}
        self._etags: dict[str, tuple[str, ApiKey]] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._loaded_at is not None

    def stale(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at >= self._refresh_s

    def may_reload_for_unknown(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at >= MISS_REFRESH_S

    def refresh(self) -> None:
        """Raises StoreError only while nothing was ever loaded; afterwards the last known keys stay."""
        with self._lock:
            self._load()

    def refresh_if_stale(self) -> None:
        """For concurrent requests that all found the keys stale: the first reloads, the others reuse."""
        with self._lock:
            if self.stale():
                self._load()

    def reload_for_unknown(self) -> None:
        with self._lock:
            if self.may_reload_for_unknown():
                self._load()

    def _load(self) -> None:
        try:
            keys, etags = self._repository.load(self._etags)
        except StoreError:
            if self._loaded_at is None:
                raise
            log.warning("API keys: store unreachable, the known keys stay in force")
            self._loaded_at = self._clock()  # retried after the next refresh delay, not on every request
            return
        if not any(k.active for k in keys.values()) and (self._loaded_at is None or self._keys):
            log.warning("no active API key: create one with `guichet keys create`")
        self._keys, self._etags, self._loaded_at = keys, etags, self._clock()

    def authenticate(self, key: str) -> ApiKey | None:
        key_id = split_key(key)
        record = self._keys.get(key_id) if key_id else None
        if record is None or not record.active:
            return None
        return record if hmac.compare_digest(record.hash, digest(key)) else None

    def knows(self, key: str) -> bool:
        key_id = split_key(key)
        return key_id is not None and key_id in self._keys
