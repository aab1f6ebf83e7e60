"""MinIO bucket notifications: a typed view for the index worker, and a builder for the embedded store.

MinIO (AMQP target) publishes one JSON document per event:
``{"EventName": ..., "Key": "<bucket>/<decoded key>", "Records": [<S3 event record>]}``.
In a record, ``s3.object.key`` is URL-encoded the way Go's ``url.QueryEscape`` does it ("+" for space,
"%2F" for "/"); ``unquote_plus`` undoes it (as Powertools' S3 event wrapper does).
``sequencer`` is the event time in nanoseconds, upper-case hex: it orders events of the same key.

The parser is fed whatever arrives on the queue, so it raises MalformedEvent and nothing else.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote_plus, unquote_plus

Action = Literal["created", "removed", "other"]

# Only events that change an object's content reindex it; tagging, retention, legal-hold and
# access events also arrive as ObjectCreated/ObjectAccessed and must be ignored.
_CREATED = frozenset(
    {
        "s3:ObjectCreated:Put",
        "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Copy",
        "s3:ObjectCreated:CompleteMultipartUpload",
    }
)
# MinIO's names (pkg/event/name.go): DeleteAllVersions is a forced delete of every version (mc rm
# --versions --force, or a DELETE with x-minio-force-delete). s3:ObjectRemoved:NoOP (a delete that
# removed nothing) and s3:LifecycleDelMarkerExpiration:Delete (a delete marker expired) change nothing.
_REMOVED = frozenset(
    {"s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRemoved:DeleteAllVersions"}
)

_PRINCIPAL = "guichet"


class MalformedEvent(ValueError):
    """The body is not a bucket notification we can read."""


@dataclass(frozen=True)
class ObjectEvent:
    action: Action
    event_name: str
    bucket: str
    key: str  # decoded
    size: int
    etag: str
    version_id: str
    sequencer: str
    event_time: str


def action_of(event_name: str) -> Action:
    if event_name in _CREATED:
        return "created"
    if event_name in _REMOVED:
        return "removed"
    return "other"


def sequencer_is_newer(a: str, b: str) -> bool:
    """True when sequencer ``a`` is strictly newer than ``b``; "" (unknown) is the oldest."""
    return _sequencer_value(a) > _sequencer_value(b)


def _sequencer_value(sequencer: str) -> int:
    if not sequencer:
        return -1
    try:
        return int(sequencer, 16)
    except ValueError:
        return -1  # an unreadable sequencer orders like an unknown one


# --- parsing ---------------------------------------------------------------------------------------


def parse_bucket_notification(body: bytes) -> list[ObjectEvent]:
    try:
        document = json.loads(body)
    except (ValueError, TypeError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedEvent(f"notification illisible : ce n'est pas du JSON ({exc})") from None
    if not isinstance(document, dict):
        raise MalformedEvent("notification illisible : un objet JSON est attendu")
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        raise MalformedEvent("notification illisible : champ « Records » absent ou vide")
    return [_parse_record(record, index) for index, record in enumerate(records)]


def _parse_record(record: Any, index: int) -> ObjectEvent:
    where = f"enregistrement {index}"
    record = _mapping(record, where)
    event_name = _text(record, "eventName", where, required=True)
    s3 = _mapping(record.get("s3"), f"{where} : s3")
    bucket = _mapping(s3.get("bucket"), f"{where} : s3.bucket")
    obj = _mapping(s3.get("object"), f"{where} : s3.object")
    raw_key = _text(obj, "key", f"{where} : s3.object", required=True)
    return ObjectEvent(
        action=action_of(event_name),
        event_name=event_name,
        bucket=_text(bucket, "name", f"{where} : s3.bucket", required=True),
        key=unquote_plus(raw_key),
        size=_size(obj.get("size", 0), where),
        etag=_text(obj, "eTag", where).strip('"'),
        version_id=_text(obj, "versionId", where),
        sequencer=_text(obj, "sequencer", where),
        event_time=_text(record, "eventTime", where),
    )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedEvent(f"notification illisible : {where} doit être un objet")
    return value


def _text(mapping: dict[str, Any], name: str, where: str, *, required: bool = False) -> str:
    value = mapping.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise MalformedEvent(f"notification illisible : {where} : « {name} » doit être un texte non vide")
    return value


def _size(value: Any, where: str) -> int:
    # bool is an int in Python; a size of true is not a size.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedEvent(f"notification illisible : {where} : « size » doit être un entier positif")
    return value


# --- building (the embedded store emits exactly what MinIO would) -----------------------------------


def build_bucket_notification(
    event_name: str,
    bucket: str,
    key: str,
    *,
    size: int = 0,
    etag: str = "",
    sequencer: str,
    content_type: str = "",
    region: str = "",
) -> bytes:
    """One MinIO notification document (``event.Log``) for one event, as MinIO serialises it."""
    now = time.time()
    record = {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": region,
        "eventTime": _amz_time(now),
        "eventName": event_name,
        "userIdentity": {"principalId": _PRINCIPAL},
        "requestParameters": {"principalId": _PRINCIPAL, "region": region, "sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-id-2": "",
            "x-amz-request-id": sequencer,
            "x-minio-deployment-id": "",
            "x-minio-origin-endpoint": "",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": _PRINCIPAL},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": _object_fields(key, size, etag, content_type, sequencer),
        },
        "source": {"host": "127.0.0.1", "port": "", "userAgent": "guichet"},
    }
    # The top-level Key is NOT encoded in MinIO: "<bucket>/<object name>".
    document = {"EventName": event_name, "Key": f"{bucket}/{key}", "Records": [record]}
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _object_fields(key: str, size: int, etag: str, content_type: str, sequencer: str) -> dict[str, Any]:
    # MinIO omits empty size/eTag/contentType/userMetadata (Go "omitempty"), e.g. on removals.
    fields: dict[str, Any] = {"key": quote_plus(key)}
    if size:
        fields["size"] = size
    if etag:
        fields["eTag"] = etag
    if content_type:
        fields["contentType"] = content_type
        fields["userMetadata"] = {"content-type": content_type}
    fields["sequencer"] = sequencer
    return fields


def _amz_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
