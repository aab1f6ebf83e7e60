"""MinIO bucket notifications: parsing real shapes, building them, ordering sequencers; fuzzed parser."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guichet.indexing.notifications import (
    MalformedEvent,
    ObjectEvent,
    build_bucket_notification,
    parse_bucket_notification,
    sequencer_is_newer,
)

# As MinIO's AMQP target publishes it (abridged only in ids), for "dossier/Carte d'identité.xml".
MINIO_PUT = {
    "EventName": "s3:ObjectCreated:Put",
    "Key": "documents/dossier/Carte d'identité.xml",
    "Records": [
        {
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": "2024-05-02T09:27:27.123Z",
            "eventName": "s3:ObjectCreated:Put",
            "userIdentity": {"principalId": "minioadmin"},
            "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "172.18.0.1"},
            "responseElements": {
                "x-amz-id-2": "dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8",
                "x-amz-request-id": "17CB6A9C2B5A4F2E",
                "x-minio-deployment-id": "0170a4cc-dca6-4e72-86f1-c0cc760dff7f",
                "x-minio-origin-endpoint": "http://172.18.0.2:9000",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": {
                    "name": "documents",
                    "ownerIdentity": {"principalId": "minioadmin"},
                    "arn": "arn:aws:s3:::documents",
                },
                "object": {
                    "key": "dossier/Carte+d%27identit%C3%A9.xml",
                    "size": 5123,
                    "eTag": "5fc7298143efe1276d39a3466d4e255f",
                    "contentType": "application/xml",
                    "userMetadata": {"content-type": "application/xml"},
                    "sequencer": "17CB6A9C2B8D1C40",
                },
            },
            "source": {
                "host": "172.18.0.1",
                "port": "",
                "userAgent": "MinIO (linux; amd64) minio-go/v7.0.70",
            },
        }
    ],
}


def with_record(event_name: str, **object_fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(MINIO_PUT))
    body["EventName"] = body["Records"][0]["eventName"] = event_name
    body["Records"][0]["s3"]["object"] = {
        "key": "dossier/a.xml",
        "sequencer": "17CB6A9C2B8D1C41",
        **object_fields,
    }
    return body


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_minio_put_is_decoded() -> None:
    [event] = parse_bucket_notification(encode(MINIO_PUT))
    assert event == ObjectEvent(
        action="created",
        event_name="s3:ObjectCreated:Put",
        bucket="documents",
        key="dossier/Carte d'identité.xml",
        size=5123,
        etag="5fc7298143efe1276d39a3466d4e255f",
        version_id="",
        sequencer="17CB6A9C2B8D1C40",
        event_time="2024-05-02T09:27:27.123Z",
    )


def test_bare_records_document_is_accepted() -> None:
    [event] = parse_bucket_notification(encode({"Records": MINIO_PUT["Records"]}))
    assert event.key == "dossier/Carte d'identité.xml"


def test_plus_is_a_space_and_encoded_slash_is_a_slash() -> None:
    [event] = parse_bucket_notification(
        encode(with_record("s3:ObjectCreated:Put", key="a%2Fmon+fichier%2B1.txt"))
    )
    assert event.key == "a/mon fichier+1.txt"


@pytest.mark.parametrize(
    ("event_name", "action"),
    [
        ("s3:ObjectCreated:Put", "created"),
        ("s3:ObjectCreated:Post", "created"),
        ("s3:ObjectCreated:Copy", "created"),
        ("s3:ObjectCreated:CompleteMultipartUpload", "created"),
        ("s3:ObjectRemoved:Delete", "removed"),
        ("s3:ObjectRemoved:DeleteMarkerCreated", "removed"),
        ("s3:ObjectRemoved:DeleteAllVersions", "removed"),  # a forced delete of every version
        ("s3:ObjectRemoved:NoOP", "other"),
        ("s3:LifecycleDelMarkerExpiration:Delete", "other"),
        ("s3:ObjectCreated:PutTagging", "other"),
        ("s3:ObjectCreated:PutRetention", "other"),
        ("s3:ObjectCreated:PutLegalHold", "other"),
        ("s3:ObjectCreated:DeleteTagging", "other"),  # MinIO's names only (pkg/event/name.go)
        ("s3:ObjectAccessed:Get", "other"),
        ("s3:ObjectAccessed:Head", "other"),
        ("s3:Replication:OperationFailedReplication", "other"),
    ],
)
def test_actions(event_name: str, action: str) -> None:
    [event] = parse_bucket_notification(encode(with_record(event_name)))
    assert (event.action, event.event_name) == (action, event_name)


def test_minio_removal_has_no_size_or_etag() -> None:
    [event] = parse_bucket_notification(encode(with_record("s3:ObjectRemoved:Delete", versionId="v-2")))
    assert (event.action, event.size, event.etag, event.version_id) == ("removed", 0, "", "v-2")


def test_quoted_etag_is_unquoted() -> None:
    [event] = parse_bucket_notification(encode(with_record("s3:ObjectCreated:Put", eTag='"abc"')))
    assert event.etag == "abc"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b"null",
        b'"Records"',
        b"{}",
        b'{"Records": []}',
        b'{"Records": {}}',
        b'{"Records": [1]}',
        b'{"Records": [{}]}',
        b'{"Records": [{"eventName": "s3:ObjectCreated:Put"}]}',
        b'{"Records": [{"eventName": "s3:x", "s3": {"bucket": {"name": "b"}, "object": {}}}]}',
        b'{"Records": [{"eventName": 3, "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}',
        b'{"not": "a bucket notification"}',
        b"[" * 100_000,
    ],
)
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(MalformedEvent) as raised:
        parse_bucket_notification(body)
    assert "notification" in str(raised.value)


@pytest.mark.parametrize("size", [-1, "12", 1.5, True, None])
def test_bad_sizes_are_malformed(size: Any) -> None:
    with pytest.raises(MalformedEvent):
        parse_bucket_notification(encode(with_record("s3:ObjectCreated:Put", size=size)))


def test_build_produces_minio_shape() -> None:
    body = build_bucket_notification(
        "s3:ObjectCreated:Put",
        "documents",
        "dossier/Carte d'identité.xml",
        size=5,
        etag="abc",
        sequencer="0A",
    )
    document = json.loads(body)
    assert document["EventName"] == "s3:ObjectCreated:Put"
    assert document["Key"] == "documents/dossier/Carte d'identité.xml"
    [record] = document["Records"]
    assert set(record) == set(MINIO_PUT["Records"][0])
    assert (record["eventVersion"], record["eventSource"]) == ("2.0", "minio:s3")
    assert set(record["s3"]) == {"s3SchemaVersion", "configurationId", "bucket", "object"}
    assert record["s3"]["bucket"] == {
        "name": "documents",
        "ownerIdentity": {"principalId": "guichet"},
        "arn": "arn:aws:s3:::documents",
    }
    assert record["s3"]["object"] == {
        "key": "dossier%2FCarte+d%27identit%C3%A9.xml",
        "size": 5,
        "eTag": "abc",
        "sequencer": "0A",
    }
    assert record["eventTime"].endswith("Z")
    [event] = parse_bucket_notification(body)
    assert (event.key, event.size, event.etag, event.sequencer) == (
        "dossier/Carte d'identité.xml",
        5,
        "abc",
        "0A",
    )


def test_build_removal_omits_size_and_etag_like_minio() -> None:
    document = json.loads(build_bucket_notification("s3:ObjectRemoved:Delete", "b", "k", sequencer="0B"))
    assert document["Records"][0]["s3"]["object"] == {"key": "k", "sequencer": "0B"}


def test_sequencer_ordering() -> None:
    assert sequencer_is_newer("17CB6A9C2B8D1C41", "17CB6A9C2B8D1C40")
    assert not sequencer_is_newer("17CB6A9C2B8D1C40", "17CB6A9C2B8D1C40")
    assert sequencer_is_newer("10", "F")  # numeric, not lexicographic
    assert sequencer_is_newer("0", "")
    assert not sequencer_is_newer("", "0")
    assert not sequencer_is_newer("", "")
    assert not sequencer_is_newer("zz", "01")  # unreadable orders as unknown


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
record_like = st.fixed_dictionaries(
    {},
    optional={
        "eventName": json_values | st.sampled_from(["s3:ObjectCreated:Put", "s3:ObjectRemoved:Delete"]),
        "eventTime": json_values,
        "s3": st.fixed_dictionaries(
            {},
            optional={
                "bucket": st.fixed_dictionaries({}, optional={"name": json_values}) | json_values,
                "object": st.fixed_dictionaries(
                    {},
                    optional={k: json_values for k in ("key", "size", "eTag", "versionId", "sequencer")},
                )
                | json_values,
            },
        )
        | json_values,
    },
)


def _parses_or_is_malformed(body: bytes) -> None:
    try:
        events = parse_bucket_notification(body)
    except MalformedEvent:
        return
    assert events and all(isinstance(e, ObjectEvent) and e.key for e in events)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_malformed_event(body: bytes) -> None:
    _parses_or_is_malformed(body)


@settings(max_examples=300, deadline=None)
@given(json_values | st.fixed_dictionaries({"Records": st.lists(record_like | json_values, max_size=3)}))
def test_arbitrary_json_only_raises_malformed_event(document: Any) -> None:
    _parses_or_is_malformed(json.dumps(document).encode())
