"""The ask job and the answer record (SPEC.md "Answer record"): frozen, JSON-able, versioned by status.

One record per answer id lives in the answer store; it is written when the job is accepted (queued),
when a worker takes it (running) and once at the end (done or failed). Readers never see anything else.
"""

from __future__ import annotations

import json
import time
import unicodedata
import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, TypeVar

Status = Literal["queued", "running", "done", "failed"]
Mode = Literal["generated", "extractive"]
LinkType = Literal["teleservice", "simulateur", "formulaire"]
FINAL_STATUSES: frozenset[str] = frozenset({"done", "failed"})

T = TypeVar("T")
MAX_QUESTION_CHARS = 2000
MAX_SITUATION_CHARS = 2000


def clean_text(value: str, *, limit: int, required: bool) -> str:
    """Line breaks normalised, outer blanks stripped; control characters (but \\n and \\t) refused."""
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not text:
        raise ValueError("ne doit pas être vide")
    if len(text) > limit:
        raise ValueError(f"trop long : {len(text)} caractères, {limit} au plus")
    # Cs: lone surrogates, which JSON can carry but UTF-8 cannot store.
    bad = next((c for c in text if unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t"), None)
    if bad is not None:
        raise ValueError(f"caractère de contrôle interdit (U+{ord(bad):04X})")
    return text


def new_answer_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class AskJob:
    """The message on the ask queue: small, self-contained, tolerant of redelivery (its id is the key)."""

    id: str
    question: str
    audience: str = "particuliers"
    situation: str = ""
    created_at: float = field(default_factory=time.time)
    site: str = ""  # the France services site whose key asked (pilotage); never an advisor's identity
    follow_up_of: str = ""  # the answer this question follows (docs/decisions/0026)
    thread: tuple[ThreadTurn, ...] = ()  # the turns before it, oldest first, bounded (answer/thread.py)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes) -> AskJob:
        """Raises ValueError (or KeyError/TypeError) on a body that is not a job: the worker rejects it."""
        raw = json.loads(body)
        if not isinstance(raw, dict):
            raise ValueError("le message n'est pas un objet JSON")
        job = cls(
            id=str(raw["id"]),
            question=str(raw["question"]),
            audience=str(raw.get("audience") or "particuliers"),
            situation=str(raw.get("situation") or ""),
            created_at=float(raw.get("created_at") or time.time()),
            site=str(raw.get("site") or ""),
            follow_up_of=str(raw.get("follow_up_of") or ""),
            thread=read_thread(raw.get("thread")),
        )
        if not job.id or not job.question.strip():
            raise ValueError("identifiant ou question manquant")
        return job


@dataclass(frozen=True)
class SourceRef:
    """A cited source; n is its citation number in the answer text ([n])."""

    n: int
    id: str
    title: str
    url: str
    excerpt: str
    branch: str = ""
    updated: str = ""  # ISO date of the fiche's last update ("" when the document has none)
    outdated: bool = False  # older than the operator's threshold (GUICHET_SOURCE_MAX_AGE_DAYS)
    example: bool = False  # a sample fiche of the demo, not official text


@dataclass(frozen=True)
class RelatedQuestionRef:
    id: str
    question: str
    url: str


@dataclass(frozen=True)
class PracticalLink:
    type: LinkType
    title: str
    url: str
    cerfa: str = ""
    notice_url: str = ""
    source: str = ""  # the fiche id it comes from


@dataclass(frozen=True)
class Helper:
    """Who can help (OuSAdresser / QuiPeutMAider), from the cited fiches."""

    title: str
    kind: str = ""
    url: str = ""
    source: str = ""


@dataclass(frozen=True)
class GuardRemoval:
    """Something the output guard removed from the answer: not found in any cited source."""

    kind: Literal["url", "phone", "amount", "cerfa", "duration", "polarity"]
    value: str


@dataclass(frozen=True)
class ConsultRef:
    """A fiche offered "à consulter" when the sources do not answer (covered false): not a citation."""

    id: str
    title: str
    url: str


@dataclass(frozen=True)
class Timings:
    queued_s: float = 0.0
    retrieval_s: float = 0.0
    first_token_s: float = 0.0
    total_s: float = 0.0


@dataclass(frozen=True)
class AnswerError:
    code: str
    message: str  # French, for the advisor


@dataclass(frozen=True)
class AnswerRecord:
    id: str
    status: Status
    question: str
    audience: str
    situation: str
    created_at: float
    answer: str = ""
    sources: tuple[SourceRef, ...] = ()
    related_questions: tuple[RelatedQuestionRef, ...] = ()
    links: tuple[PracticalLink, ...] = ()
    helpers: tuple[Helper, ...] = ()
    mode: Mode | None = None
    notice: str = ""  # shown to the advisor above the answer (extractive mode, removed facts)
    model: str = ""
    timings: Timings = Timings()
    guard_removed: tuple[GuardRemoval, ...] = ()
    attempt: int = 0
    error: AnswerError | None = None
    updated_at: float = field(default_factory=time.time)
    site: str = ""  # the asking site (AskJob.site): analytics attribute answers and ratings to it
    follow_up_of: str = ""  # the answer this question follows (AskJob.follow_up_of)
    thread: tuple[ThreadTurn, ...] = ()
    covered: bool = True  # false: the sources do not answer; the answer says so and cites nothing
    case: str = ""  # the Situation/BlocCas branch followed, "Title > Sub-title"; "" when none
    consult: tuple[ConsultRef, ...] = ()  # the closest fiches, when covered is false

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @classmethod
    def queued(cls, job: AskJob) -> AnswerRecord:
        return cls(
            job.id, "queued", job.question, job.audience, job.situation, job.created_at,
            site=job.site, follow_up_of=job.follow_up_of, thread=job.thread,
        )  # fmt: skip

    def running(self, attempt: int) -> AnswerRecord:
        return replace(self, status="running", attempt=attempt, updated_at=time.time())

    def failed(self, code: str, message: str) -> AnswerRecord:
        return replace(self, status="failed", error=AnswerError(code, message), updated_at=time.time())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["error"] is None:
            del data["error"]
        if not data["model"]:
            del data["model"]
        if not data["case"]:
            del data["case"]
        return data

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes) -> AnswerRecord:
        raw = json.loads(body)
        error = raw.get("error")
        return cls(
            id=raw["id"],
            status=raw["status"],
            question=raw["question"],
            audience=raw["audience"],
            situation=raw.get("situation", ""),
            created_at=float(raw["created_at"]),
            answer=raw.get("answer", ""),
            sources=tuple(_known(SourceRef, s) for s in raw.get("sources", [])),
            related_questions=tuple(_known(RelatedQuestionRef, q) for q in raw.get("related_questions", [])),
            links=tuple(_known(PracticalLink, link) for link in raw.get("links", [])),
            helpers=tuple(_known(Helper, h) for h in raw.get("helpers", [])),
            mode=raw.get("mode"),
            notice=raw.get("notice", ""),
            model=raw.get("model", ""),
            timings=_known(Timings, raw.get("timings", {})),
            guard_removed=tuple(_known(GuardRemoval, g) for g in raw.get("guard_removed", [])),
            attempt=int(raw.get("attempt", 0)),
            error=_known(AnswerError, error) if error else None,
            updated_at=float(raw.get("updated_at", 0.0)),
            site=str(raw.get("site") or ""),
            follow_up_of=str(raw.get("follow_up_of") or ""),
            thread=read_thread(raw.get("thread")),
            covered=bool(raw.get("covered", True)),
            case=str(raw.get("case", "")),
            consult=tuple(_known(ConsultRef, c) for c in raw.get("consult", [])),
        )


def _known(cls: type[T], raw: dict[str, Any]) -> T:
    """cls from the fields it knows: a record written by a newer version (during a rolling upgrade) has
    fields this one ignores, rather than fail to read."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in raw.items() if k in names})


@dataclass(frozen=True)
class ThreadSource:
    """A source of an earlier turn, as the prompt names it (its excerpt stays in that turn's record)."""

    id: str
    title: str = ""
    url: str = ""


@dataclass(frozen=True)
class ThreadTurn:
    """An earlier question of the thread a follow-up belongs to; id is "" for a turn known only by its
    text (an OpenAI client's earlier user message)."""

    id: str
    question: str
    situation: str = ""
    sources: tuple[ThreadSource, ...] = ()


def read_thread(raw: object) -> tuple[ThreadTurn, ...]:
    """The thread of a job or record as written by any version (absent before follow-ups existed)."""
    if not isinstance(raw, list):
        return ()
    turns = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            continue
        sources = tuple(
            _known(ThreadSource, s) for s in item.get("sources") or () if isinstance(s, dict) and "id" in s
        )
        turns.append(
            ThreadTurn(
                id=str(item.get("id") or ""),
                question=item["question"],
                situation=str(item.get("situation") or ""),
                sources=sources,
            )
        )
    return tuple(turns)
