"""Parser for service-public.fr "vos droits" fiches (DILA XML, schemas 3.3 and 3.4).

The XML comes from an external feed and, for partner uploads, from anyone with write access to
the bucket, so it is parsed with defusedxml: no DTD, no entity, no external reference.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped,unused-ignore]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped,unused-ignore]

from guichet.corpus.errors import DocumentError, IgnoredDocument
from guichet.corpus.fiche_blocks import BlockBuilder, questionnaire_labels
from guichet.corpus.fiche_text import DEFAULT_HOST, TextRenderer, fiche_url, normalise, service_type
from guichet.corpus.model import (
    AUDIENCES,
    Amount,
    Audience,
    Contact,
    Definition,
    Document,
    LegalReference,
    Link,
    OnlineService,
    RelatedQuestion,
)

DC = "{http://purl.org/dc/elements/1.1/}"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HOST = re.compile(r"^(https?://[^/]+)/")


# Roots of DILA files shipped inside vosdroits dumps that are not publications to index.
AUXILIARY_ROOTS = frozenset({"ServiceComplementaire"})

# Titles of unpublished drafts in DILA's feed ("**CNI -Perte majeur", "**Carte d'identité": guided
# searches in the making): they duplicate published fiches under working titles, so they are skipped.
DRAFT_MARK = "**"


def parse_fiche(data: bytes, *, max_bytes: int = 20_000_000) -> Document:
    """Parse one Publication (fiche F*, dossier or theme N*) into a Document.

    Raises DocumentError for oversize, malformed or unsafe XML and for non-Publication roots.
    """
    root = _safe_root(data, max_bytes)
    fiche_id = (root.get("ID") or _dc(root, "identifier")).strip()
    if not fiche_id:
        raise DocumentError("fiche sans identifiant (attribut ID absent)")
    title = _dc(root, "title")
    if title.startswith(DRAFT_MARK):
        raise IgnoredDocument(f"{fiche_id} : brouillon de la DILA (« {title} »), non publié : rien à indexer")
    audience = _audience(root)
    url = (root.get("spUrl") or "").strip() or fiche_url(DEFAULT_HOST, fiche_id, audience[0])
    host_match = _HOST.match(url)
    text = TextRenderer(host_match.group(1) if host_match else DEFAULT_HOST, audience[0])
    blocks = BlockBuilder(text, questionnaire_labels(root, text)).build(root)
    return Document(
        id=fiche_id,
        title=title,
        source="service-public",
        url=url,
        audience=audience,
        fiche_type=(root.get("type") or "").strip(),
        subject=_dc(root, "subject"),
        description=_dc(root, "description"),
        date_modified=_date(root),
        breadcrumb=tuple(normalise("".join(n.itertext())) for n in root.iter("Niveau")),
        blocks=tuple(blocks),
        services=tuple(_service(e, path, text) for e, path in _walk(root, text) if e.tag == "ServiceEnLigne"),
        questions=tuple(_question(e, text) for e in root.iter("QuestionReponse")),
        see_also=tuple(_see_also(root, text)),
        contacts=tuple(_contacts(root, text)),
        references=tuple(_reference(e, text) for e in root.iter("Reference")),
        definitions=tuple(_definitions(root, text)),
        amounts=tuple(_amount(e, text) for e in root.iter("Montant")),
        links=tuple(text.links),
    )


def _safe_root(data: bytes, max_bytes: int) -> Element:
    if len(data) > max_bytes:
        raise DocumentError(f"document trop volumineux : {len(data)} octets (maximum {max_bytes})")
    try:
        root: Element = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise DocumentError(f"XML refusé (DTD, entité ou référence externe) : {exc}") from exc
    except (ParseError, ValueError) as exc:
        raise DocumentError(f"XML invalide : {exc}") from exc
    except LookupError as exc:  # <?xml encoding="…"?> naming no codec Python knows
        raise DocumentError(f"XML invalide : encodage inconnu ({exc})") from exc
    if root.tag in AUXILIARY_ROOTS:
        raise IgnoredDocument(f"fichier {root.tag} de la DILA : rien à indexer")
    if root.tag != "Publication":
        raise DocumentError(f"XML invalide : racine <{root.tag}> au lieu de <Publication>")
    return root


def _dc(root: Element, name: str) -> str:
    return normalise(root.findtext(DC + name) or "")


def _audience(root: Element) -> tuple[Audience, ...]:
    found: list[Audience] = []
    for elem in root.findall("Audience"):
        label = normalise(elem.text or "").lower()
        for known in AUDIENCES:
            if label == known and known not in found:
                found.append(known)
    return tuple(found) or ("particuliers",)


def _date(root: Element) -> str:
    """ISO date of the last modification: dc:date reads "modified 2020-11-03"."""
    for raw in (_dc(root, "date"), root.get("dateDerniereModificationImportante") or ""):
        match = _ISO_DATE.search(raw)
        if match:
            return match.group(0)
    return ""


def _walk(
    elem: Element, text: TextRenderer, branch: tuple[str, ...] = ()
) -> Iterator[tuple[Element, tuple[str, ...]]]:
    """Every descendant with the Situation/Cas titles above it (for services' branch)."""
    for child in elem:
        yield child, branch
        inner = (*branch, text.title(child)) if child.tag in ("Situation", "Cas") else branch
        yield from _walk(child, text, inner)


def _service(elem: Element, branch: tuple[str, ...], text: TextRenderer) -> OnlineService:
    notice = elem.find("NoticeLiee")
    service_id = (elem.get("ID") or "").strip()
    url = (elem.get("URL") or "").strip()
    if not url:  # "Modèle de document" entries have no URL: their page on service-public is the link
        url = fiche_url(text.host, service_id, elem.get("audience") or text.audience) if service_id else ""
    return OnlineService(
        id=service_id,
        type=service_type(elem.get("type") or ""),
        title=text.title(elem),
        url=url,
        cerfa=(elem.get("numerocerfa") or elem.findtext("NumeroFormulaire") or "").strip(),
        institution=text.inline(elem.find("Source")),
        notice_url=(notice.get("URL") or "").strip() if notice is not None else "",
        branch=" > ".join(branch),
    )


def _question(elem: Element, text: TextRenderer) -> RelatedQuestion:
    qid = (elem.get("ID") or "").strip()
    question = text.title(elem) or text.inline(elem)
    url = fiche_url(text.host, qid, elem.get("audience") or text.audience) if qid else ""
    return RelatedQuestion(id=qid, question=question, url=url)


def _see_also(root: Element, text: TextRenderer) -> Iterator[Link]:
    for voir in root.findall("VoirAussi"):
        for entry in voir:
            target = (entry.get("ID") or "").strip()
            url = fiche_url(text.host, target, entry.get("audience") or text.audience) if target else ""
            yield Link(title=text.title(entry) or text.inline(entry), url=url, target_id=target)


def _contacts(root: Element, text: TextRenderer) -> Iterator[Contact]:
    for elem in root.iter():
        if elem.tag in ("OuSAdresser", "QuiPeutMAider"):
            web = elem.find("RessourceWeb")
            details = [
                text.inline(elem.find("Complement")),
                *text.flow_children(_or_empty(elem.find("Texte"))),
            ]
            yield Contact(
                title=text.title(elem),
                kind=(elem.get("type") or "").strip(),
                url=(web.get("URL") or "").strip() if web is not None else "",
                text="\n".join(d for d in details if d),
            )
        elif elem.tag == "PourEnSavoirPlus":
            yield Contact(
                title=text.title(elem),
                kind=(elem.get("type") or "").strip(),
                url=(elem.get("URL") or "").strip(),
                text=text.inline(elem.find("Source")),
            )


def _reference(elem: Element, text: TextRenderer) -> LegalReference:
    return LegalReference(
        title=text.title(elem), url=(elem.get("URL") or "").strip(), note=text.inline(elem.find("Complement"))
    )


def _definitions(root: Element, text: TextRenderer) -> Iterator[Definition]:
    for elem in root:
        if elem.tag in ("Definition", "Abreviation"):
            body = "\n".join(text.flow_children(_or_empty(elem.find("Texte"))))
            yield Definition(term=text.title(elem), text=body)


def _amount(elem: Element, text: TextRenderer) -> Amount:
    # Montant is announced for schema 3.4 but absent from the samples: read it defensively.
    label = text.title(elem) or (elem.get("nom") or elem.get("ID") or "").strip()
    value = text.inline(elem.find("Valeur")) or text.inline(elem)
    return Amount(label=label, value=value)


def _or_empty(elem: Element | None) -> Element:
    return elem if elem is not None else Element("Vide")
