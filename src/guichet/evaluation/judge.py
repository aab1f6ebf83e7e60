"""An optional LLM opinion on each answer (`guichet eval --judge`), through the same OpenAI-compatible
endpoint as the answers (GUICHET_LLM_URL). Never required: the mechanical checks are the gate.

The judge sees the question, the answer and the excerpts of its cited sources, and grades faithfulness
and usefulness from 0 to 2 on one line ("NOTE : 2 — raison"). A reply it cannot read is recorded as an
error, not as a grade.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from guichet.ports.llm import ChatMessage, ChatModel, LLMError

MAX_EXCERPT_CHARS = 6000
JUDGE_SYSTEM = """Tu évalues la réponse d'un outil d'aide aux conseillers France services.
Note la réponse de 0 à 2 :
2 = fidèle aux extraits et utile pour la question ;
1 = fidèle mais incomplète, ou utile avec une imprécision ;
0 = contredit les extraits, invente une information ou ne répond pas à la question.
Si les extraits ne couvrent pas la question, une réponse qui le dit vaut 2.
Réponds sur une seule ligne : « NOTE : <0, 1 ou 2> — <raison en une phrase> »."""
_GRADE = re.compile(r"(?i)note\s*:?\s*([012])\b\s*[—–:-]?\s*(.*)")


def judge_messages(question: str, situation: str, answer: str, excerpts: Sequence[str]) -> list[ChatMessage]:
    sources = "\n\n".join(excerpts)[:MAX_EXCERPT_CHARS] or "(aucun extrait)"
    user = (
        f"Question : {question}\nSituation : {situation or '(non précisée)'}\n\n"
        f"Extraits des sources citées :\n{sources}\n\nRéponse évaluée :\n{answer}"
    )
    return [ChatMessage("system", JUDGE_SYSTEM), ChatMessage("user", user)]


def parse_grade(text: str) -> dict[str, object]:
    match = _GRADE.search(text)
    if match is None:
        return {"error": f"réponse du juge illisible : {text.strip()[:200]}"}
    return {"score": int(match.group(1)), "reason": match.group(2).strip()[:300]}


def judge_answer(
    model: ChatModel, question: str, situation: str, answer: str, excerpts: Sequence[str]
) -> dict[str, object]:
    messages = judge_messages(question, situation, answer, excerpts)
    try:
        text = "".join(d.text for d in model.stream(messages, max_tokens=120, temperature=0.0))
    except LLMError as exc:
        return {"error": f"juge indisponible : {exc}"}
    return parse_grade(text)
