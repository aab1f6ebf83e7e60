"""Partner documents (Markdown, HTML, PDF, text) and the loader that dispatches on the extension."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from guichet.corpus.errors import DocumentError
from guichet.corpus.loader import SUPPORTED_SUFFIXES, parse_document
from guichet.corpus.partner import parse_partner

MARKDOWN = """# Guide de la Caf locale

Bienvenue au guichet.

## Aides au logement

Voir le [simulateur](https://www.caf.fr/simulateur).

- Loyer
- Charges
  - Eau

### APL

L'APL dépend des ressources.
"""

HTML = """<!doctype html><html><head><title>Mairie de Trifouilly</title>
<link rel="canonical" href="https://mairie.example/etat-civil">
<style>p { color: red }</style><script>alert("x")</script></head>
<body><nav><p>Menu secret</p></nav><h1>Mairie de Trifouilly</h1><p>Accueil du public.</p>
<h2>Horaires</h2><ul><li><p>Lundi 9h-12h</p></li><li>Mardi fermé</li></ul>
<table><tr><th>Service</th><td>État civil</td></tr></table>
<p>Plus d'infos sur <a href="https://mairie.example/infos">le site</a>.</p></body></html>
"""


def _pdf(pages: list[str], password: str | None = None) -> bytes:
    """A real PDF with one Helvetica text line per page, built with pypdf."""
    writer = PdfWriter()
    for line in pages:
        page = writer.add_blank_page(width=595, height=842)
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        resources = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
        page[NameObject("/Resources")] = resources
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 760 Td ({line}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_markdown_headings_become_sections() -> None:
    doc = parse_partner("partenaires/caf/guide.md", MARKDOWN.encode())
    assert doc.id == "partenaires/caf/guide.md" and doc.source == "partner" and doc.url == ""
    assert doc.title == "Guide de la Caf locale"
    paths = [b.title_path for b in doc.blocks]
    assert paths == [(), ("Aides au logement",), ("Aides au logement", "APL")]
    housing = doc.blocks[1].text
    assert "simulateur (https://www.caf.fr/simulateur)" in housing
    assert "- Loyer\n- Charges\n  - Eau" in housing
    assert doc.links[0].url == "https://www.caf.fr/simulateur"


def test_html_drops_scripts_and_nav() -> None:
    doc = parse_partner("mairie/etat-civil.html", HTML.encode())
    assert doc.title == "Mairie de Trifouilly"
    assert doc.url == "https://mairie.example/etat-civil"
    text = "\n".join(b.text for b in doc.blocks)
    assert "Menu secret" not in text and "alert" not in text and "color" not in text
    hours = next(b for b in doc.blocks if b.title_path == ("Horaires",))
    assert hours.text.startswith("- Lundi 9h-12h\n- Mardi fermé\nService ; État civil")
    assert [link.url for link in doc.links] == ["https://mairie.example/infos"]


def test_html_without_canonical_has_no_url() -> None:
    doc = parse_partner("x.htm", b"<html><body><h1>Titre</h1><div>Texte libre</div></body></html>")
    assert doc.url == "" and doc.title == "Titre"
    assert "Texte libre" in doc.blocks[0].text


def test_plain_text_paragraphs() -> None:
    data = "Note de service\n\nPremier paragraphe\nsur deux lignes.\n\n\nSecond paragraphe.".encode("cp1252")
    doc = parse_partner("notes/service.txt", data)
    assert doc.title == "Note de service"
    assert [b.text for b in doc.blocks] == ["Premier paragraphe sur deux lignes.", "Second paragraphe."]


def test_pdf_text_is_extracted_per_page() -> None:
    doc = parse_partner("guides/aides.pdf", _pdf(["Aide au logement", "Prime de rentree"]))
    assert [b.title_path for b in doc.blocks] == [("Page 1",), ("Page 2",)]
    assert "Aide au logement" in doc.blocks[0].text
    assert "Prime de rentree" in doc.blocks[1].text
    assert doc.title == "Aide au logement"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", "PDF"),
        (b"not a pdf", "PDF illisible"),
        (_pdf(["secret"], password="motdepasse"), "PDF chiffré"),
        (_pdf([""]), "PDF sans texte"),
    ],
    ids=["truncated", "garbage", "encrypted", "no-text"],
)
def test_bad_pdf_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_partner("x.pdf", data)
    assert caught.value.reason.startswith(reason)


def test_loader_dispatches_by_extension() -> None:
    assert parse_document("A/B.MD", MARKDOWN.encode(), max_bytes=10_000).source == "partner"
    fiche = b'<Publication ID="F1"><Texte><Paragraphe>x</Paragraphe></Texte></Publication>'
    assert parse_document("fiches/F1.xml", fiche, max_bytes=10_000).source == "service-public"
    assert {".xml", ".md", ".markdown", ".html", ".htm", ".pdf", ".txt"} == set(SUPPORTED_SUFFIXES)


@pytest.mark.parametrize("key", ["doc.docx", "archive.zip", "sans-extension"])
def test_loader_refuses_unknown_formats(key: str) -> None:
    with pytest.raises(DocumentError, match="format non pris en charge"):
        parse_document(key, b"data", max_bytes=100)


def test_loader_refuses_oversize() -> None:
    with pytest.raises(DocumentError, match="trop volumineux"):
        parse_document("a.txt", b"x" * 101, max_bytes=100)
    assert parse_document("a.txt", b"x" * 100, max_bytes=100).title == "x" * 100


# --- refusals at the loader boundary (what the index worker dead-letters) ---------------------------


@pytest.mark.parametrize(
    ("key", "data", "reason"),
    [
        ("vide.txt", b"", "aucun texte"),
        ("blancs.txt", b"  \n\n \t ", "aucun texte"),
        ("vide.md", b"", "aucun texte"),
        ("vide.html", b"<html></html>", "aucun texte"),
        ("binaire.txt", bytes(range(256)) * 40, "illisible"),
        (
            "profond.xml",
            b"<Publication ID='F1'>" + b"<Chapitre>" * 3000 + b"</Chapitre>" * 3000 + b"</Publication>",
            "trop profondément imbriqué",
        ),
        ("profond.html", b"<div>" * 5000 + b"x" + b"</div>" * 5000, "trop profondément imbriqué"),
    ],
)
def test_loader_refuses_documents_without_usable_text(key: str, data: bytes, reason: str) -> None:
    from guichet.corpus.loader import parse_document

    with pytest.raises(DocumentError, match=reason):
        parse_document(key, data, max_bytes=10_000_000)
