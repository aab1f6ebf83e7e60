"""hypothesis on what reads untrusted bytes: the fiche parser, the document loader and the bucket
notification decoder (with the index worker's handler behind it).

The contract: a fiche is parsed or refused with a DocumentError (whose reason the dead-letter queue
shows); a notification is decoded or refused with MalformedEvent; the handler applies an event or
rejects it (Reject, dead-lettered with its reason). Never another exception: in a worker, anything else
is retried as if transient, then dead-lettered without a reason a person can act on.
Examples are derandomized: CI tries the same inputs on every run.
"""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guichet.corpus.chunking import chunk_document
from guichet.corpus.errors import DocumentError
from guichet.corpus.fiche import parse_fiche
from guichet.corpus.loader import SUPPORTED_SUFFIXES, parse_document
from guichet.indexing.handler import IndexEventHandler
from guichet.indexing.indexer import Indexer
from guichet.indexing.notifications import (
    MalformedEvent,
    build_bucket_notification,
    parse_bucket_notification,
)
from guichet.ports.broker import Reject
from guichet.ports.records import Envelope
from guichet.ports.store import InvalidKey, StoreError, check_key
from guichet.process.serve import sample_corpus_dir
from guichet.wiring import Stack
from tests.fuzz.counts import tried

pytestmark = pytest.mark.fuzz

FUZZ = settings(max_examples=200, derandomize=True, deadline=None, database=None)
MAX_BYTES = 100_000
SAMPLES = sorted(sample_corpus_dir().glob("*.xml"))
SAMPLE_BYTES = {path.name: path.read_bytes() for path in SAMPLES}


def parsed_or_refused(target: str, parse: Any, *args: Any, **kwargs: Any) -> None:
    tried(target)
    try:
        doc = parse(*args, **kwargs)
    except DocumentError as exc:
        assert exc.reason, "a refusal must say why"
        return
    # A parsed document goes on to the chunker: it must survive that too.
    chunk_document(doc, "fuzz/document.xml")


# -- the fiche parser --------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2_000))
def test_arbitrary_bytes_are_parsed_or_refused(data: bytes) -> None:
    parsed_or_refused("fiche: arbitrary bytes", parse_fiche, data, max_bytes=MAX_BYTES)


XML_PIECES = st.sampled_from(
    [
        b"<",
        b">",
        b"</Paragraphe>",
        b"<Paragraphe>",
        b"<BlocCas><Cas><Titre>x</Titre>",
        b"<Chapitre>",
        b"</Publication>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]>',
        b"&a;",
        b"&amp;",
        b"&#0;",
        b"&#xD800;",
        b"<![CDATA[",
        b"]]>",
        b"\x00",
        b"\xff\xfe",
        b"\xc3",
        "é".encode("latin-1"),
        b' ID=""',
        b' spUrl="javascript:alert(1)"',
        b'<Condition><estVrai var="T1"/></Condition>',
        b'<ServiceEnLigne ID="R1" URL="" type="">',
        b"<?xml-stylesheet href='x'?>",
    ]
)


@st.composite
def byte_mutations(draw: st.DrawFn) -> bytes:
    """A real fiche with a few bytes deleted, duplicated, replaced or XML fragments inserted."""
    data = bytearray(SAMPLE_BYTES[draw(st.sampled_from(sorted(SAMPLE_BYTES)))])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        end = min(len(data), at + draw(st.integers(0, 64)))
        operation = draw(st.sampled_from(["delete", "insert", "duplicate", "replace", "truncate"]))
        if operation == "delete":
            del data[at:end]
        elif operation == "insert":
            data[at:at] = draw(XML_PIECES | st.binary(min_size=1, max_size=16))
        elif operation == "duplicate":
            data[at:at] = data[at:end]
        elif operation == "replace":
            data[at:end] = draw(st.binary(max_size=end - at))
        else:
            del data[at:]
    return bytes(data)


@FUZZ
@given(byte_mutations())
def test_byte_mutated_real_fiches_are_parsed_or_refused(data: bytes) -> None:
    parsed_or_refused("fiche: byte-mutated sample", parse_fiche, data, max_bytes=MAX_BYTES)


TEXTS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
ELEMENT_NAMES = st.sampled_from(
    ["Paragraphe", "Titre", "Cas", "BlocCas", "Chapitre", "SousChapitre", "Liste", "Item", "Tableau",
     "Rangée", "Cellule", "Condition", "estVrai", "ServiceEnLigne", "LienInterne", "LienExterne",
     "Montant", "QuiPeutMAider", "OuSAdresser", "Introduction", "Texte", "Avertissement", "x"]
)  # fmt: skip


@st.composite
def tree_mutations(draw: st.DrawFn) -> bytes:
    """A real fiche, still well-formed XML, with elements removed, moved, renamed, emptied or given odd
    attributes and text: what a feed change or a hand-edited upload could produce."""
    root = ElementTree.fromstring(SAMPLE_BYTES[draw(st.sampled_from(sorted(SAMPLE_BYTES)))])
    rng = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(1, 8))):
        elements = list(root.iter())
        element = rng.choice(elements)
        parents = {child: parent for parent in elements for child in parent}
        operation = draw(st.sampled_from(["remove", "move", "rename", "text", "attribute", "clear", "nest"]))
        if operation == "remove" and element in parents:
            parents[element].remove(element)
        elif operation == "move" and element in parents:
            parents[element].remove(element)
            rng.choice(list(root.iter())).append(element)
        elif operation == "rename":
            element.tag = draw(ELEMENT_NAMES)
        elif operation == "text":
            element.text = draw(TEXTS)
        elif operation == "attribute":
            element.set(draw(st.sampled_from(["ID", "URL", "type", "audience", "var", "spUrl"])), draw(TEXTS))
        elif operation == "clear":
            element.clear()
        else:
            for _ in range(draw(st.integers(1, 60))):  # deep nesting
                child = ElementTree.SubElement(element, draw(ELEMENT_NAMES))
                element = child
    return ElementTree.tostring(root, encoding="utf-8")


@FUZZ
@given(tree_mutations())
def test_tree_mutated_real_fiches_are_parsed_or_refused(data: bytes) -> None:
    parsed_or_refused("fiche: tree-mutated sample", parse_fiche, data, max_bytes=MAX_BYTES)


@settings(FUZZ, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SUPPORTED_SUFFIXES), byte_mutations() | st.binary(max_size=500))
def test_the_loader_parses_or_refuses_whatever_the_extension(suffix: str, data: bytes) -> None:
    parsed_or_refused("loader: any extension", parse_document, f"fuzz/doc{suffix}", data, max_bytes=MAX_BYTES)


# -- the bucket notification decoder, then the index worker's handler -------------------------------

KEY_TEXT = st.lists(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
    | st.sampled_from(["/", "../", "..", "%", "+", " ", "a.xml", ".xml", "\x00", "n" * 300]),
    min_size=1,
    max_size=8,
).map("".join)


@st.composite
def encoded_keys(draw: st.DrawFn) -> tuple[str, str]:
    """(the key as sent in s3.object.key, the key the decoder must give): MinIO's "+" encoding, plain
    percent-encoding, double encoding, nothing at all, broken "%" sequences."""
    key = draw(KEY_TEXT)
    encoding = draw(st.sampled_from(["minio", "percent", "double", "raw", "broken"]))
    if encoding == "minio":
        raw = quote_plus(key)
    elif encoding == "percent":
        raw = quote(key, safe="")
    elif encoding == "double":
        raw = quote_plus(quote_plus(key))
    elif encoding == "raw":
        raw = key
    else:
        raw = quote_plus(key) + draw(st.sampled_from(["%", "%2", "%zz", "%C3", "%FF%FE", "%00"]))
    return raw, unquote_plus(raw)


def notification(event_name: str, raw_key: str, **fields: Any) -> bytes:
    document = json.loads(build_bucket_notification(event_name, "docs", "k", sequencer="0A", **fields))
    document["Records"][0]["s3"]["object"]["key"] = raw_key
    return json.dumps(document).encode()


@FUZZ
@given(encoded_keys(), st.sampled_from(["s3:ObjectCreated:Put", "s3:ObjectRemoved:Delete"]))
def test_encoded_keys_decode_to_what_was_meant(key: tuple[str, str], event_name: str) -> None:
    tried("events: encoded keys")
    raw, expected = key
    [event] = parse_bucket_notification(notification(event_name, raw, size=10, etag="e"))
    assert event.key == expected


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXTS


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["eventName", "eventTime", "s3", "key", "size", "eTag", "sequencer", "Records"]),
        JSON_LEAVES | st.lists(JSON_LEAVES, max_size=3),
        max_size=6,
    ),
    st.sampled_from(["record", "object", "s3", "top"]),
)
def test_fields_of_any_type_anywhere_are_decoded_or_malformed(fields: dict[str, Any], where: str) -> None:
    tried("events: fields of any type")
    document = json.loads(notification("s3:ObjectCreated:Put", "a.xml", size=3, etag="e"))
    record = document["Records"][0]
    target = {"record": record, "object": record["s3"]["object"], "s3": record["s3"], "top": document}[where]
    target.update(fields)
    try:
        events = parse_bucket_notification(json.dumps(document).encode())
    except MalformedEvent as exc:
        assert str(exc).startswith("notification illisible")
        return
    assert all(e.key and e.bucket and e.event_name for e in events)


@pytest.fixture
def handler(embedded_stack: Stack) -> IndexEventHandler:
    indexer = Indexer(embedded_stack.index, embedded_stack.embedder)
    return IndexEventHandler(embedded_stack.store, indexer, max_document_bytes=MAX_BYTES)


@settings(FUZZ, max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=encoded_keys(),
    event_name=st.sampled_from(["s3:ObjectCreated:Put", "s3:ObjectRemoved:Delete", "s3:ObjectAccessed:Get"]),
    size=st.integers(0, 2 * MAX_BYTES),
    content=st.none() | byte_mutations() | st.sampled_from(sorted(SAMPLE_BYTES.values())),
)
def test_the_handler_applies_or_rejects_any_event(
    embedded_stack: Stack,
    handler: IndexEventHandler,
    key: tuple[str, str],
    event_name: str,
    size: int,
    content: bytes | None,
) -> None:
    tried("index handler: events with any key")
    raw, decoded = key
    if content is not None:
        with contextlib.suppress(StoreError):  # the object the event announces, when the store takes it
            embedded_stack.store.put(decoded, content)
    try:
        handler(Envelope(body=notification(event_name, raw, size=size, etag="e"), message_id="m"))
    except Reject as exc:
        assert str(exc), "a rejection must say why"
        return
    try:
        check_key(decoded)
    except InvalidKey:
        assert event_name == "s3:ObjectAccessed:Get", f"unsafe key {decoded!r} was not rejected"


def test_the_samples_are_there() -> None:
    assert len(SAMPLES) >= 20 and all(isinstance(p, Path) for p in SAMPLES)
