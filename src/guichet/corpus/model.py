"""The parsed form of one document, whatever its source format.

Everything here is a frozen dataclass of plain values so that it can be stored as JSON
(the index keeps a document's metadata beside its chunks) and compared in tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Audience = Literal["particuliers", "professionnels", "associations"]
AUDIENCES: tuple[Audience, ...] = ("particuliers", "professionnels", "associations")

ServiceType = Literal["teleservice", "simulateur", "formulaire", "autre"]

# The demo's sample fiches (guichet/samples) are project-written, not official: their ids start with
# this prefix, which no service-public id (F…, N…, R…) ever has, so a sample never shares an id with
# a real fiche, and they carry no service-public URL.
EXAMPLE_ID_PREFIX = "EX-"
SAMPLE_PREFIX = "exemples"  # their store keys: exemples/<file>.xml (`guichet ingest --replace-samples`)


def is_example_id(doc_id: str) -> bool:
    return doc_id.startswith(EXAMPLE_ID_PREFIX)


@dataclass(frozen=True)
class Link:
    """An inline link found in the text (LienInterne, LienExterne) or a VoirAussi entry."""

    title: str
    url: str
    target_id: str = ""  # a fiche id (F1234, N360, R1234) for internal links


@dataclass(frozen=True)
class OnlineService:
    """A ServiceEnLigne: téléservice, simulateur or formulaire (with its cerfa number)."""

    id: str
    type: ServiceType
    title: str
    url: str
    cerfa: str = ""
    institution: str = ""
    notice_url: str = ""
    branch: str = ""  # the Situation/Cas path it sits in, "" when fiche-wide


@dataclass(frozen=True)
class RelatedQuestion:
    """A QuestionReponse entry: the id of the question-réponse fiche and its question."""

    id: str
    question: str
    url: str = ""


@dataclass(frozen=True)
class Contact:
    """Who can help: OuSAdresser / PourEnSavoirPlus (schema 3.3), QuiPeutMAider (3.4)."""

    title: str
    kind: str = ""  # e.g. "Local personnalisé sur SP", "Centre de contact", "Site internet"
    url: str = ""
    text: str = ""


@dataclass(frozen=True)
class LegalReference:
    """A Reference element: a legal text with its Légifrance URL."""

    title: str
    url: str = ""
    note: str = ""


@dataclass(frozen=True)
class Definition:
    """A Definition or Abreviation block."""

    term: str
    text: str


@dataclass(frozen=True)
class Amount:
    """A Montant (schema 3.4): a labelled amount."""

    label: str
    value: str


@dataclass(frozen=True)
class Block:
    """One addressable piece of text.

    kind: "introduction", "section" (Chapitre/SousChapitre text), "branch" (a Situation or Cas),
    "note" (ANoter/Attention), "table" (kept separately only when a section is only a table).
    title_path: the enclosing titles, outermost first (["Conditions", "Nationalité"]).
    branch: the Situation/Cas path, outermost first (["Vous êtes salarié", "Contrat à durée déterminée"]).
    condition: the Condition text of the enclosing Situation, if any.
    """

    kind: str
    text: str
    title_path: tuple[str, ...] = ()
    branch: tuple[str, ...] = ()
    condition: str = ""


@dataclass(frozen=True)
class Document:
    """A parsed document. For fiches, id is the fiche id (F1234); for partner documents, the key."""

    id: str
    title: str
    source: Literal["service-public", "partner"]
    url: str = ""
    audience: tuple[Audience, ...] = ("particuliers",)
    fiche_type: str = ""  # "Fiche d'information", "Question-réponse", "Dossier", ...
    subject: str = ""
    description: str = ""
    date_modified: str = ""  # ISO date
    breadcrumb: tuple[str, ...] = ()
    blocks: tuple[Block, ...] = ()
    services: tuple[OnlineService, ...] = ()
    questions: tuple[RelatedQuestion, ...] = ()
    see_also: tuple[Link, ...] = ()
    contacts: tuple[Contact, ...] = ()
    references: tuple[LegalReference, ...] = ()
    definitions: tuple[Definition, ...] = ()
    amounts: tuple[Amount, ...] = ()
    links: tuple[Link, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
