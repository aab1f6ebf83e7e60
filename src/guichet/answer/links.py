"""Practical links (téléservices, simulateurs, formulaires) and helpers from the cited fiches.

A ServiceEnLigne placed inside a Situation/Cas applies to that case only: it is kept when one of the
cases it appears in lies on the path of the fiche's chosen branch (in it, above it or below it). A fiche
also lists all its services once more at its top level, so a service counts as fiche-wide only when it
appears in no case at all. When no branch was chosen for a fiche (evidence.chosen_branches gives ""),
nothing tells which case applies, and all its services are kept rather than hiding the right one.

Services typed "autre" are the feed's "Modèle de document" (a letter or form template, whose page is on
service-public) and "Outil de recherche" (an external search tool): the former become formulaires,
the latter téléservices, so that the advisor still gets them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import quote_plus

from guichet.answer.evidence import DocumentMeta, Extract
from guichet.answer.guard_facts import normalise_url
from guichet.answer.record import Helper, LinkType, PracticalLink
from guichet.answer.situation import on_path
from guichet.corpus.model import OnlineService
from guichet.lexical import fold

MAX_LINKS = 8
MAX_HELPERS = 5
# PourEnSavoirPlus entries (schema 3.3) are further reading, not someone who helps.
_NOT_HELPERS = frozenset({"information pratique"})
_TYPE_ORDER: dict[LinkType, int] = {"teleservice": 0, "simulateur": 1, "formulaire": 2}
# The feed's contact types, as an advisor reads them ("Local personnalisé sur SP" is the feed's).
_KINDS = {
    "local personnalise sur sp": "annuaire",
    "local personnalisable": "annuaire",
    "local": "service local",
    "national": "service national",
    "centre de contact": "centre de contact",
}
# The directory's home page: an advisor needs its search for this kind of office instead.
_DIRECTORY_ROOT = re.compile(r"(?i)^https?://lannuaire\.service-public\.(?:gouv\.)?fr/?$")
DIRECTORY_SEARCH = "https://lannuaire.service-public.fr/recherche?whoWhat={what}&where="


def _documents(cited: Sequence[Extract]) -> list[DocumentMeta]:
    docs: dict[str, DocumentMeta] = {}
    for extract in sorted(cited, key=lambda e: e.n):
        docs.setdefault(extract.doc_id, extract.document)
    return list(docs.values())


def _cases_by_url(services: Sequence[OnlineService]) -> dict[str, set[str]]:
    """Normalised URL -> the cases (branches) it appears in; empty for a fiche-wide-only service."""
    cases: dict[str, set[str]] = {}
    for service in services:
        found = cases.setdefault(normalise_url(service.url), set())
        if service.branch:
            found.add(service.branch)
    return cases


def _link_type(service: OnlineService) -> LinkType:
    if service.type != "autre":
        return service.type
    return "formulaire" if "service-public" in service.url else "teleservice"


def practical_links(
    cited: Sequence[Extract], branches: Mapping[str, str], *, limit: int = MAX_LINKS
) -> tuple[PracticalLink, ...]:
    links: list[PracticalLink] = []
    seen: set[str] = set()
    for doc in _documents(cited):
        chosen = branches.get(doc.id, "")
        cases = _cases_by_url(doc.services)
        # Within a fiche, téléservices first, then simulateurs, then formulaires (stable sort).
        for service in sorted(doc.services, key=lambda s: _TYPE_ORDER[_link_type(s)]):
            key = normalise_url(service.url)
            if not service.url or key in seen:
                continue
            if cases[key] and not any(on_path(case, chosen) for case in cases[key]):
                continue
            seen.add(key)
            links.append(
                PracticalLink(
                    _link_type(service), service.title, service.url, service.cerfa, service.notice_url, doc.id
                )
            )
    return tuple(links[:limit])


def helpers(cited: Sequence[Extract], *, limit: int = MAX_HELPERS) -> tuple[Helper, ...]:
    """Who can help (OuSAdresser, QuiPeutMAider) according to the cited fiches, without duplicates."""
    out: list[Helper] = []
    seen: set[tuple[str, str]] = set()
    for doc in _documents(cited):
        for contact in doc.contacts:
            key = (contact.title.strip().lower(), contact.url)
            if not contact.title.strip() or contact.kind.strip().lower() in _NOT_HELPERS or key in seen:
                continue
            seen.add(key)
            url = directory_link(contact.title, contact.url)
            out.append(Helper(contact.title.strip(), readable_kind(contact.kind, url), url, doc.id))
    return tuple(out[:limit])


def directory_link(title: str, url: str) -> str:
    """url, or the directory's search for title when url is the directory's home page."""
    if _DIRECTORY_ROOT.match(url.strip()):
        return DIRECTORY_SEARCH.format(what=quote_plus(title.strip()))
    return url


def readable_kind(kind: str, url: str) -> str:
    """ "annuaire" for a directory link, else the feed's type in an advisor's words ("" when unknown)."""
    if url.startswith(DIRECTORY_SEARCH.split("?", 1)[0]):
        return "annuaire"
    key = fold(kind).strip()
    return _KINDS.get(key, "" if key.startswith("local") else kind.strip().lower())
