"""The registry of France services sites, kept in the answer store beside the API keys (access/sites.json).

Each API key belongs to a site id (access/keys.py); this registry says where that site is, so that usage
and satisfaction can be read by commune, département and région. It holds places, never people.

CSV columns (header required, UTF-8, "," or ";" separated; docs/pilotage.md):
    id, nom, commune, code_insee, departement, region
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from guichet.access.keys import SITE_ID
from guichet.ports.store import ObjectNotFound, ObjectStore

SITES_KEY = "access/sites.json"
COLUMNS = ("id", "nom", "commune", "code_insee", "departement", "region")
CODE_INSEE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
DEPARTEMENT = re.compile(r"^(\d{2}|2[AB]|97\d)$")
MAX_FIELD = 200


class SiteFileError(ValueError):
    """A CSV that cannot be imported; the message (French) names the line and the column."""


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    commune: str
    code_insee: str
    departement: str
    region: str


def parse_sites(text: str) -> list[Site]:
    """Every row of the CSV, checked; raises SiteFileError on the first bad row (nothing imported)."""
    text = text.removeprefix("\ufeff")
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SiteFileError(f"colonnes manquantes : {', '.join(missing)} (attendu : {', '.join(COLUMNS)})")
    reader.fieldnames = header
    sites: dict[str, Site] = {}
    for line, row in enumerate(reader, start=2):
        site = _site(row, line)
        if site.id in sites:
            raise SiteFileError(f"ligne {line} : le site {site.id} apparaît deux fois")
        sites[site.id] = site
    if not sites:
        raise SiteFileError("aucun site dans le fichier")
    return list(sites.values())


def _site(row: dict[str, str | None], line: int) -> Site:
    values = {c: (row.get(c) or "").strip() for c in COLUMNS}
    for column, value in values.items():
        if not value:
            raise SiteFileError(f"ligne {line} : colonne « {column} » vide")
        if len(value) > MAX_FIELD:
            raise SiteFileError(f"ligne {line} : colonne « {column} » trop longue ({MAX_FIELD} au plus)")
    if not SITE_ID.match(values["id"]):
        raise SiteFileError(f"ligne {line} : identifiant de site invalide « {values['id']} »")
    if not CODE_INSEE.match(values["code_insee"]):
        raise SiteFileError(f"ligne {line} : code INSEE invalide « {values['code_insee']} » (5 caractères)")
    departement = values["departement"].upper()
    if not DEPARTEMENT.match(departement):
        raise SiteFileError(f"ligne {line} : département invalide « {values['departement']} » (01, 2A, 974…)")
    return Site(
        values["id"], values["nom"], values["commune"], values["code_insee"], departement, values["region"]
    )


class SiteRepository:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def load(self) -> dict[str, Site]:
        try:
            raw = json.loads(self._store.get(SITES_KEY))
        except ObjectNotFound:
            return {}
        return {s["id"]: Site(**{k: str(s.get(k, "")) for k in Site.__dataclass_fields__}) for s in raw}

    def merge(self, sites: Iterable[Site]) -> tuple[int, int]:
        """Adds or replaces sites by id; returns (added, updated). Sites absent from the file stay."""
        known = self.load()
        added = updated = 0
        for site in sites:
            if site.id in known:
                updated += known[site.id] != site
            else:
                added += 1
            known[site.id] = site
        body = json.dumps([asdict(s) for s in sorted(known.values(), key=lambda s: s.id)], ensure_ascii=False)
        self._store.put(SITES_KEY, body.encode("utf-8"), "application/json")
        return added, updated
