"""Parsers for partner documents (Markdown, HTML, PDF, plain text) dropped in the bucket.

Partners are local organisations (Caf, mairie, association) whose guides complement the fiches.
Their headings become title paths so that chunks stay attributable to a section.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pypdf import PdfReader
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

from guichet.corpus.errors import DocumentError
from guichet.corpus.fiche_text import normalise
from guichet.corpus.model import Block, Document, Link

_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_HTML_TEXT = frozenset({"p", "li", "pre", "blockquote", "dt", "dd", "tr", "caption", "figcaption"})
_HTML_DROP = "script, style, nav, noscript, template"


class _Sections:
    """Accumulates lines under the current heading path and emits one Block per section."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, str]] = []
        self.lines: list[str] = []
        self.blocks: list[Block] = []

    def heading(self, level: int, text: str) -> None:
        self.flush()
        self.stack = [(lvl, t) for lvl, t in self.stack if lvl < level]
        if text:
            self.stack.append((level, text))

    def add(self, line: str) -> None:
        if line:
            self.lines.append(line)

    def flush(self) -> None:
        if self.lines:
            path = tuple(t for _, t in self.stack)
            self.blocks.append(Block("section", "\n".join(self.lines), path))
        self.lines = []


def parse_partner(key: str, data: bytes, *, max_bytes: int = 20_000_000) -> Document:
    """Parse a partner document; the parser is chosen by the key's extension."""
    if len(data) > max_bytes:
        raise DocumentError(f"document trop volumineux : {len(data)} octets (maximum {max_bytes})")
    suffix = PurePosixPath(key).suffix.lower()
    if suffix in (".md", ".markdown"):
        return _markdown(key, _decode(data))
    if suffix in (".html", ".htm"):
        return _html(key, _decode(data))
    if suffix == ".pdf":
        return _pdf(key, data)
    if suffix == ".txt":
        return _text(key, _decode(data))
    raise DocumentError(f"format non pris en charge : {suffix or key}")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Office tools on Windows still save French text as cp1252.
        return data.decode("cp1252", errors="replace")


def _document(
    key: str, title: str, blocks: list[Block], url: str = "", links: tuple[Link, ...] = ()
) -> Document:
    title = title or PurePosixPath(key).stem
    if blocks and blocks[0].title_path[:1] == (title,):  # the title heading is not a section
        blocks = [Block(b.kind, b.text, b.title_path[1:], b.branch) for b in blocks]
    return Document(id=key, title=title, source="partner", url=url, blocks=tuple(blocks), links=links)


# -- Markdown ---------------------------------------------------------------------------------
def _markdown(key: str, source: str) -> Document:
    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    sections = _Sections()
    title = ""
    prefix: list[str] = []
    links: list[Link] = []
    for i, tok in enumerate(tokens):
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            prefix.append("-" if tok.type == "bullet_list_open" else "1.")
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            prefix.pop()
        elif tok.type == "heading_open":
            text = _md_inline(tokens[i + 1], links)
            title = title or (text if tok.tag == "h1" else "")
            sections.heading(int(tok.tag[1]), text)
        elif tok.type == "inline" and tokens[i - 1].type != "heading_open":
            bullet = f"{'  ' * (len(prefix) - 1)}{prefix[-1]} " if prefix and _in_item(tokens, i) else ""
            sections.add(bullet + _md_inline(tok, links))
        elif tok.type in ("fence", "code_block"):
            sections.add(tok.content.strip())
    sections.flush()
    return _document(key, title, sections.blocks, links=tuple(links))


def _in_item(tokens: list[Token], i: int) -> bool:
    """An inline token is a list item's first line when its paragraph opens right after list_item_open."""
    return i >= 2 and tokens[i - 2].type == "list_item_open"


def _md_inline(tok: Token, links: list[Link]) -> str:
    parts: list[str] = []
    href = ""
    start = 0
    for child in tok.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "link_open":
            href = str(child.attrs.get("href") or "")
            start = len(parts)
        elif child.type == "link_close" and href:
            label = normalise("".join(parts[start:]))
            links.append(Link(title=label, url=href))
            parts.append(f" ({href})")
            href = ""
    return normalise("".join(parts))


# -- HTML -------------------------------------------------------------------------------------
def _html(key: str, source: str) -> Document:
    tree = HTMLParser(source)
    for node in tree.css(_HTML_DROP):
        node.decompose()
    sections = _Sections()
    body = tree.body or tree.root
    for node in _html_nodes(body):
        if node.tag in _HEADINGS:
            sections.heading(_HEADINGS[node.tag], normalise(node.text(separator=" ")))
        else:
            sections.add(_html_line(node))
    sections.flush()
    if not sections.blocks and body is not None:  # text outside any <p>: keep it rather than nothing
        sections.add(normalise(body.text(separator=" ")))
        sections.flush()
    links = tuple(_html_links(tree))
    return _document(key, _html_title(tree), sections.blocks, _canonical(tree), links)


def _html_nodes(root: Node | None) -> Iterator[Node]:
    """Headings and text nodes in document order, skipping nodes nested in one already taken."""
    if root is None:
        return
    for node in root.iter():
        if node.tag in _HEADINGS or node.tag in _HTML_TEXT:
            yield node
        else:
            yield from _html_nodes(node)


def _html_line(node: Node) -> str:
    if node.tag == "tr":
        return " ; ".join(c for c in (normalise(td.text(separator=" ")) for td in node.css("td, th")) if c)
    text = normalise(node.text(separator=" "))
    return f"- {text}" if node.tag == "li" and text else text


def _html_title(tree: HTMLParser) -> str:
    for selector in ("title", "h1"):
        node = tree.css_first(selector)
        if node is not None and normalise(node.text()):
            return normalise(node.text())
    return ""


def _canonical(tree: HTMLParser) -> str:
    link = tree.css_first('link[rel="canonical"]')
    meta = tree.css_first('meta[property="og:url"]')
    url = (link.attributes.get("href") if link else None) or (
        meta.attributes.get("content") if meta else None
    )
    url = (url or "").strip()
    return url if url.startswith(("http://", "https://")) else ""


def _html_links(tree: HTMLParser) -> Iterator[Link]:
    for anchor in tree.css("a[href]"):
        href = (anchor.attributes.get("href") or "").strip()
        if href.startswith(("http://", "https://")):
            yield Link(title=normalise(anchor.text(separator=" ")), url=href)


# -- PDF and text -----------------------------------------------------------------------------
def _pdf(key: str, data: bytes) -> Document:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError("PDF chiffré : impossible d'en extraire le texte")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or ""
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many exception types on damaged files
        raise DocumentError(f"PDF illisible : {exc}") from exc
    blocks = []
    for number, page in enumerate(pages, start=1):
        lines = [normalise(line) for line in page.splitlines()]
        text = "\n".join(line for line in lines if line)
        if text:
            blocks.append(Block("section", text, (f"Page {number}",)))
    if not blocks:
        raise DocumentError("PDF sans texte extractible (document scanné ?)")
    first_line = blocks[0].text.split("\n", 1)[0]
    return _document(key, normalise(title) or first_line[:120], blocks)


_BLANK_LINES = re.compile(r"\n\s*\n")


def _text(key: str, source: str) -> Document:
    paragraphs = [normalise(p) for p in _BLANK_LINES.split(source.replace("\r\n", "\n"))]
    paragraphs = [p for p in paragraphs if p]
    title = paragraphs[0] if paragraphs and len(paragraphs[0].split()) <= 15 else ""
    # A one-paragraph note is its own title and its own text.
    blocks = [Block("section", p) for p in paragraphs[1 if title else 0 :]] or [
        Block("section", p) for p in paragraphs
    ]
    return _document(key, title, blocks)
