"""Follow-up questions: the thread a question continues, and what retrieval and the prompt take from it.

"Et s'il est mineur ?" means nothing alone. A question that names the answer it follows (follow_up_of)
carries, in its job, the turns before it: their questions, situations and first sources, taken from the
answer records at submission. The job stays self-contained (the worker reads no other record) and
bounded: at most MAX_TURNS turns of at most MAX_TURN_SOURCES sources each, every text already bounded by
the ask API's limits. What each stage uses (docs/decisions/0026):
- retrieval: the question, then the question it follows (the latest turn only, QUERY_CONTEXT_CHARS at
  most: older turns drift from the subject), then the situation;
- the situation: the thread's situations and this one, newest last, MAX_SITUATION_CHARS at most (the
  oldest dropped first); the branch choice among a fiche's cases also reads the follow-up question,
  which usually states what changed ("s'il est mineur");
- the prompt: the earlier questions and the titles of their sources, fenced as data (prompt.py);
- the extractive composer (no model): the question and the one it follows, to choose its passages.
"""

from __future__ import annotations

from collections.abc import Sequence

from guichet.answer.record import MAX_SITUATION_CHARS, AnswerRecord, ThreadSource, ThreadTurn

MAX_TURNS = 3
MAX_TURN_SOURCES = 3
QUERY_CONTEXT_CHARS = 300


class FollowUpRefused(Exception):
    """The answer named by follow_up_of cannot be followed; code says why, message in French."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


UNKNOWN = "reponse_precedente_introuvable"
OTHER_SITE = "reponse_precedente_autre_site"
NOT_DONE = "reponse_precedente_inachevee"


def thread_after(previous: AnswerRecord) -> tuple[ThreadTurn, ...]:
    """The thread of a question that follows previous: its own thread, then previous itself."""
    sources = tuple(ThreadSource(s.id, s.title, s.url) for s in previous.sources[:MAX_TURN_SOURCES])
    turn = ThreadTurn(previous.id, previous.question, previous.situation, sources)
    return (*previous.thread, turn)[-MAX_TURNS:]


def check_followable(previous: AnswerRecord | None, answer_id: str, site: str) -> AnswerRecord:
    """previous when a question of site may follow it; FollowUpRefused otherwise."""
    if previous is None:
        raise FollowUpRefused(UNKNOWN, f"follow_up_of : aucune réponse avec l'identifiant {answer_id!r}.")
    if previous.site != site:
        raise FollowUpRefused(
            OTHER_SITE,
            "follow_up_of : cette réponse a été demandée par un autre site, elle ne peut pas être suivie.",
        )
    if previous.status != "done":
        state = "a échoué" if previous.status == "failed" else "n'est pas encore terminée"
        raise FollowUpRefused(
            NOT_DONE, f"follow_up_of : la réponse précédente {state} ; posez la question seule."
        )
    return previous


def text_thread(questions: Sequence[str]) -> tuple[ThreadTurn, ...]:
    """A thread known only by its earlier questions (an OpenAI client's user messages), bounded alike."""
    return tuple(ThreadTurn("", q) for q in questions if q.strip())[-MAX_TURNS:]


def retrieval_query(question: str, situation: str, thread: Sequence[ThreadTurn]) -> str:
    parts = [question]
    if thread:
        parts.append(thread[-1].question[:QUERY_CONTEXT_CHARS])
    if situation:
        parts.append(situation[:QUERY_CONTEXT_CHARS])
    return "\n".join(parts)


def with_followed_question(question: str, thread: Sequence[ThreadTurn]) -> str:
    """A follow-up and the question it follows, for the extractive composer's choice of passages."""
    return f"{question}\n{thread[-1].question[:QUERY_CONTEXT_CHARS]}" if thread else question


def thread_situation(situation: str, thread: Sequence[ThreadTurn]) -> str:
    """The situations of the thread and this one, newest last, distinct, within MAX_SITUATION_CHARS."""
    parts = list(dict.fromkeys(s for s in (*(t.situation for t in thread), situation) if s))
    while len(parts) > 1 and len("\n".join(parts)) > MAX_SITUATION_CHARS:
        parts.pop(0)
    return "\n".join(parts)[-MAX_SITUATION_CHARS:]


def branch_situation(question: str, situation: str, thread: Sequence[ThreadTurn]) -> str:
    """What the choice among a fiche's cases reads: the thread's situation, plus a follow-up's question."""
    if not thread:
        return situation
    return "\n".join(p for p in (situation, question) if p)
