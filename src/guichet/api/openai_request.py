"""Reading an OpenAI chat completion request: the question, its thread, audience and situation.

The last message must be the user's: it is the question. The user's earlier messages are the thread (when
the last assistant message names an answer of ours, that answer's record gives a richer one: see
openai_compat.py). Audience and situation come from "metadata" ({"audience", "situation"}) or, for
clients that cannot send metadata (Open WebUI's model presets), from lines of a system message:
"public : professionnels", "situation : né à l'étranger" (also "audience:"). Other system text is
ignored: guichet's own rules stay in charge of the answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from guichet.answer.record import MAX_QUESTION_CHARS, MAX_SITUATION_CHARS, clean_text
from guichet.corpus.model import AUDIENCES

_SETTING_LINE = re.compile(r"^\s*(public|audience|situation)\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
EMPTY_QUESTION = "La question est vide : le dernier message (role « user ») doit la contenir."
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


class ChatRequestError(Exception):
    """A request the door refuses: HTTP status, code, French message, the parameter at fault."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param


@dataclass(frozen=True)
class ParsedChat:
    question: str
    audience: str | None = None
    situation: str = ""
    stream: bool = False
    earlier_questions: tuple[str, ...] = ()
    last_assistant: str = ""


def _invalid(message: str, param: str | None = None, code: str = "requete_invalide") -> ChatRequestError:
    return ChatRequestError(400, code, message, param)


def message_text(content: object, param: str) -> str:
    """A message's text: a string, or the text parts of a list of parts (images are not read)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(p for p in parts if isinstance(p, str))
    raise _invalid(f"{param} : une chaîne ou une liste de parties est attendue.", param)


def parse_chat(body: bytes) -> ParsedChat:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid("Le corps de la requête n'est pas du JSON valide.", code="json_invalide") from exc
    if not isinstance(raw, dict):
        raise _invalid("Le corps de la requête doit être un objet JSON.")
    model = raw.get("model")
    if model != "guichet":
        raise ChatRequestError(
            404, "modele_inconnu", f"Modèle inconnu : {model!r} (seul « guichet » existe).", "model"
        )
    stream = raw.get("stream", False)
    if not isinstance(stream, bool):
        raise _invalid("« stream » doit valoir true ou false.", "stream")
    messages = _messages(raw.get("messages"))
    settings = _settings(raw.get("metadata"), messages)
    last_role, last_text = messages[-1]
    if last_role != "user":
        raise _invalid(
            "Le dernier message doit être celui de l'utilisateur (role « user ») : c'est la question.",
            "messages",
        )
    question = _clean(last_text, MAX_QUESTION_CHARS, "messages", required=True, what="le dernier message")
    earlier = tuple(
        _clean(text, MAX_QUESTION_CHARS, "messages", required=False, what="un message précédent")
        for role, text in messages[:-1]
        if role == "user"
    )
    assistant = next((text for role, text in reversed(messages[:-1]) if role == "assistant"), "")
    return ParsedChat(
        question=question,
        audience=_audience(settings.get("audience")),
        situation=_clean(
            settings.get("situation", ""),
            MAX_SITUATION_CHARS,
            "metadata.situation",
            required=False,
            what="la situation",
        ),
        stream=stream,
        earlier_questions=earlier,
        last_assistant=assistant,
    )


def _messages(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value:
        raise _invalid("« messages » doit être une liste non vide de messages.", "messages")
    out = []
    for i, message in enumerate(value):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise _invalid(
                f"messages[{i}] : objet avec un « role » parmi {', '.join(ROLES)} attendu.", "messages"
            )
        out.append((str(message["role"]), message_text(message.get("content"), f"messages[{i}].content")))
    return out


def _settings(metadata: object, messages: list[tuple[str, str]]) -> dict[str, str]:
    """audience and situation: system lines first, metadata (more explicit) over them."""
    found: dict[str, str] = {}
    for role, text in messages:
        if role in ("system", "developer"):
            for name, value in _SETTING_LINE.findall(text):
                found["situation" if name.lower() == "situation" else "audience"] = value
    if metadata is not None and not isinstance(metadata, dict):
        raise _invalid("« metadata » doit être un objet.", "metadata")
    for name in ("audience", "situation"):
        value = (metadata or {}).get(name)
        if value is not None:
            if not isinstance(value, str):
                raise _invalid(f"metadata.{name} doit être une chaîne.", f"metadata.{name}")
            found[name] = value
    return found


def _audience(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    audience = value.strip().lower()
    if audience not in AUDIENCES:
        raise _invalid(f"public « {value} » inconnu (attendu : {', '.join(AUDIENCES)}).", "metadata.audience")
    return audience


def _clean(text: str, limit: int, param: str, *, required: bool, what: str) -> str:
    try:
        return clean_text(text, limit=limit, required=required)
    except ValueError as exc:
        if required and not text.strip():
            raise _invalid(EMPTY_QUESTION, param, "message_vide") from exc
        raise _invalid(f"{what[0].upper()}{what[1:]} : {exc}.", param) from exc
