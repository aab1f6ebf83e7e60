"""What the OpenAI-compatible door says: the answer record as Markdown, and errors in OpenAI's shape.

Markdown: the answer with its citations as footnotes ([1] → [^1]) whose definitions are the sources;
the practical links and related questions as lists of links (GitHub-flavoured renderers drop a footnote
definition nothing refers to, so those, which the text does not cite, are not footnotes); the notice
first, as a quotation. The last line names the answer ("Réf. guichet : <id>"): a client that sends the
conversation back (Open WebUI does) lets the next question follow that answer (docs/decisions/0026).
"""

from __future__ import annotations

import re

from fastapi.responses import JSONResponse

from guichet.answer.record import AnswerRecord

REFERENCE = "Réf. guichet : {id}"
_REFERENCE = re.compile(r"Réf\. guichet : ([0-9a-f]{32})")
_CITATION = re.compile(r"\[(\d{1,3})\]")
LINK_TYPES = {"teleservice": "Téléservice", "simulateur": "Simulateur", "formulaire": "Formulaire"}
ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


def _escape(text: str) -> str:
    """Link text that cannot close its brackets or start a footnote."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace("\n", " ").strip()


def _link(title: str, url: str) -> str:
    if not url:
        return _escape(title)
    return f"[{_escape(title) or url}](<{url.replace('>', '%3E').replace(' ', '%20')}>)"


def answer_markdown(record: AnswerRecord) -> str:
    """The whole answer for a chat client: notice, text with footnotes, links, related, sources."""
    if record.status == "failed":
        message = record.error.message if record.error else "La réponse n'a pas pu être produite."
        return f"{message}\n\n{REFERENCE.format(id=record.id)}"
    numbers = {s.n for s in record.sources}
    text = _CITATION.sub(lambda m: f"[^{m[1]}]" if int(m[1]) in numbers else m[0], record.answer)
    blocks = [f"> {record.notice}"] if record.notice else []
    blocks.append(text.strip())
    if record.links:
        items = []
        for link in record.links:
            cerfa = f" (cerfa n° {link.cerfa})" if link.cerfa else ""
            items.append(f"- {LINK_TYPES.get(link.type, link.type)} : {_link(link.title, link.url)}{cerfa}")
        blocks.append("**Démarches en ligne et formulaires**\n\n" + "\n".join(items))
    if record.related_questions:
        items = [f"- {_link(q.question, q.url)}" for q in record.related_questions]
        blocks.append("**Questions liées**\n\n" + "\n".join(items))
    if record.sources:
        notes = []
        for source in record.sources:
            case = f" — {_escape(source.branch)}" if source.branch else ""
            notes.append(f"[^{source.n}]: {_link(source.title, source.url)}{case}")
        blocks.append("\n".join(notes))
    blocks.append(REFERENCE.format(id=record.id))
    return "\n\n".join(blocks)


def referenced_answer(markdown: str) -> str | None:
    """The answer id an earlier assistant message of ours names, if any."""
    found = _REFERENCE.findall(markdown)
    return found[-1] if found else None


def error_body(status: int, code: str, message: str, param: str | None = None) -> dict[str, object]:
    """OpenAI's error shape; "code" and "message" are guichet's own, so both kinds of client read it."""
    kind = ERROR_TYPES.get(status) or ("invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def openai_error(
    status: int, code: str, message: str, *, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, param), status_code=status, headers=headers)


def is_openai_path(path: str) -> bool:
    return path in ("/v1/models", "/v1/chat/completions") or path.startswith("/v1/models/")
