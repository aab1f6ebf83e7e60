"""Choosing, among retrieved passages, the Situation/Cas branch that fits the citizen's situation.

Lexical and cheap: each level of a passage's branch ("Né à l'étranger > Par courrier") is scored by how
many of its analysed terms the situation has (then by the share of the label they cover). Of two
passages of the same fiche that part at some level, the one whose label there scores lower than its
sibling's contradicts the situation. A passage that matches somewhere and contradicts nowhere is moved
up to its fiche's first place; one that contradicts goes last. Everything else keeps the retrieval order.

Only passages among the hits are compared: the caller should retrieve with the situation in the query,
so that the matching case is among them. Lexical matching has blind spots ("né au Maroc" says nothing
of "né à l'étranger", "voiture" nothing of "véhicule"): expand_situation adds the words case labels
use for what advisors commonly write ("nationalité française" still shares a stem with "né en France").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from guichet.answer.guard_claims import negated
from guichet.answer.situation_quantities import (
    age_fits,
    duration_fits,
    month_fits,
    situation_age,
    situation_days,
    situation_month,
)
from guichet.lexical import analyze, fold
from guichet.ports.records import Chunk


@lru_cache(maxsize=16384)
def _stem_again(term: str) -> str:
    # Accents are folded before stemming, so "salariée" gives "salarie" where "salarié" gives "salar":
    # stemming the stem once more brings a feminine or plural form to its masculine's ("salar").
    return next(iter(analyze(term)), term)


def case_terms(text: str) -> frozenset[str]:
    """The terms a situation and a case label are compared on: analysed, feminine forms brought back."""
    return frozenset(_stem_again(t) for t in analyze(text))


# Words of branch labels that say nothing about a situation ("Cas général", "Autre situation"), removed
# before stemming ("général" and "généraliste" share a stem); "ans" because ages need arithmetic:
# "30 ans" shares "ans" with "moins de 25 ans" and "25 ans ou plus" alike.
_GENERIC_WORDS = re.compile(r"\b(?:cas|generale?s?|autres?|situations?|vous|etes|ans)\b")


def _specific_terms(text: str) -> frozenset[str]:
    return case_terms(_GENERIC_WORDS.sub(" ", fold(text)))


_CONDITION = " — Condition : "

# What advisors write, and the words the fiches' case labels use for it. Each entry adds the label's
# words to the situation; nothing is removed, so a situation that already says "véhicule" is unchanged.
# A country is a capitalised word after "né au/en/à": those patterns are case-sensitive on purpose.
# "à" comes before cities (French or not), "en/au" before French regions and a few towns: left out.
_FRENCH_PLACES = (
    "France|Bretagne|Normandie|Alsace|Lorraine|Corse|Provence|Auvergne|Bourgogne|Picardie|Savoie|Vendée"
    "|Champagne|Occitanie|Aquitaine|Guadeloupe|Martinique|Guyane|Île|Ile|Havre|Mans|Puy|Creusot|Lamentin"
)
_ABROAD = rf"\s+(?:au|aux|en)\s+(?!(?:{_FRENCH_PLACES})\b)[A-ZÉÈ]"
_SYNONYMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (
            r"(?i:\b(?:voitures?|autos?|automobiles?|motos?|scooters?|camionnettes?|camping-cars?)\b)",
            "véhicule",
        ),
        (r"\b(?i:n[ée]e?s?)" + _ABROAD, "né à l'étranger"),
        (r"\b(?i:vit|vivent|habite\w*|r[ée]side\w*|install[ée]e?s?)" + _ABROAD, "résidant à l'étranger"),
        (r"\b(?i:mari[ée]e?s?)" + _ABROAD, "mariage à l'étranger"),
        (r"\b(?i:d[ée]c[ée]d[ée]e?s?|morte?s?)" + _ABROAD, "décès à l'étranger"),
        (r"\b(?i:immatricul[ée]e?s?)" + _ABROAD, "immatriculé à l'étranger"),
        (r"\b(?i:nationalit[ée])\s+(?!fran[çc]aise)\w+", "étranger"),
        # Anything else "au/en" a named country (not an acronym: "en CDI"): somewhere abroad.
        (r"\s(?:au|aux|en)\s+(?!(?:" + _FRENCH_PLACES + r")\b)[A-ZÉÈ][a-zéèëïô]", "à l'étranger"),
        (rf"\b(?i:n[ée]e?s?)\s+(?:en|à|a|au)\s+(?:{_FRENCH_PLACES})\b", "né en France"),
        (r"(?i:\b(?:pacs[ée]e?s?|pacte civil)\b)", "pacs"),
        (r"(?i:\b(?:mari[ée]e?s?|époux|épouse)\b)", "mariage marié"),
        (r"(?i:\b(?:ch[ôo]meurs?|sans emploi|demandeur d'emploi|au ch[ôo]mage)\b)", "demandeur d'emploi"),
        (r"(?i:\b(?:salari[ée]e?s?|CDI|CDD|employ[ée]e?s?)\b)", "salarié"),
        (r"(?i:\b(?:retrait[ée]e?s?|à la retraite)\b)", "retraité"),
        (r"(?i:\b[ée]tudiante?s?\b)", "étudiant"),
        (r"(?i:\b(?:locataires?|loue\w*)\b)", "locataire"),
        (r"(?i:\bpropriétaires?\b)", "propriétaire"),
        # Who lives in a dwelling occupies it: "Propriétaire occupant" / "Le propriétaire occupe son
        # logement" against "Propriétaire bailleur" / "Le propriétaire loue son logement".
        (r"(?i:\b(?:habite\w*|vit|vivent|r[ée]side\w*)\b)", "occupant"),
    )
)
MAJORITY = 18

_ABROAD_TERM = _stem_again(analyze("étranger")[0])
# Abroad as a place ("À l'étranger", "Demande de l'étranger"), not a nationality ("Étranger", "Pour un
# étranger"): France services serve people in France, of any nationality.
_ABROAD_PLACE = re.compile(r"\bl['’] ?etrang")


def expand_situation(situation: str) -> str:
    """The situation plus the words case labels use for what it says ("voiture" -> "véhicule",
    "né au Maroc" -> "né à l'étranger", "16 ans" -> "mineur")."""
    extra = [words for pattern, words in _SYNONYMS if pattern.search(situation)]
    age = situation_age(situation)
    if age is not None:  # an age only: "périmée depuis 3 ans" says nothing of a minor
        extra.append("mineur" if age < MAJORITY else "majeur")
    return " ".join([situation, *extra])


def branch_levels(chunk: Chunk) -> tuple[str, ...]:
    return tuple(chunk.branch.split(" > ")) if chunk.branch else ()


def on_path(branch: str, other: str) -> bool:
    """One branch is the other, one of its ancestors or one of its sub-cases ("" is everyone's root)."""
    if not branch or not other:
        return True
    a, b = branch.split(" > "), other.split(" > ")
    depth = min(len(a), len(b))
    return a[:depth] == b[:depth]


@lru_cache(maxsize=4096)
def _terms(label: str) -> frozenset[str]:
    return _specific_terms(label)


# Labels that name the default case ("Cas général", "Cas général (Caf)"): between siblings the
# situation does not tell apart, it is the one that applies; a bias below one shared word, so any word
# the situation shares with a particular case ("exploitant agricole" for "Régime agricole") still wins.
_DEFAULT_CASE = re.compile(r"^cas general\b")
DEFAULT_CASE_BIAS = 0.25
ABROAD_BIAS = -0.5
# A passage "matches" when some level scores at least this: a shared word or a fitting range, not a bias.
MATCH = 0.5


@dataclass(frozen=True)
class Situation:
    """A situation read once: its (expanded) terms, age, duration and clause polarities."""

    wanted: frozenset[str]
    age: int | None
    days: int | None
    clauses: list[tuple[frozenset[str], bool]]
    month: int | None = None
    # Label scores already computed for this situation: a fiche repeats its labels in many passages.
    scores: dict[tuple[str, str, str], float] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def read(cls, situation: str) -> Situation | None:
        wanted = _specific_terms(expand_situation(situation))
        if not wanted:
            return None
        return cls(
            wanted,
            situation_age(situation),
            situation_days(situation),
            clause_polarities(situation),
            situation_month(situation),
        )


def _level_scores(chunk: Chunk, situation: Situation) -> tuple[float, ...]:
    levels = branch_levels(chunk)
    condition = chunk.context.split(_CONDITION, 1)[1] if _CONDITION in chunk.context else ""
    out: list[float] = []
    for depth, label in enumerate(levels):
        key = (label, chunk.title, condition if depth == len(levels) - 1 else "")
        if key not in situation.scores:
            situation.scores[key] = _label_score(label, chunk, situation, last=depth == len(levels) - 1)
        out.append(situation.scores[key])
    return tuple(out)


def _label_score(label: str, chunk: Chunk, situation: Situation, *, last: bool) -> float:
    fits = age_fits(label, situation.age) if situation.age is not None else None
    if fits is None and situation.days is not None:
        fits = duration_fits(label, situation.days)
    if fits is None and situation.month is not None:
        fits = month_fits(label, situation.month)
    if fits is not None:  # an age, duration or period decides by arithmetic, not by shared words
        return 1.5 if fits else 0.0
    # Words of the fiche's title say what the fiche is about, not which case: "Votre carte d'identité
    # est valide" and "Carte périmée depuis + de 5 ans" are told apart by "valide" and the duration.
    terms = _terms(label) - _terms(chunk.title)
    if _ABROAD_TERM in terms and _ABROAD_TERM not in situation.wanted and _ABROAD_PLACE.search(fold(label)):
        # France services serve people in France: "à l'étranger" is the case only when said.
        return ABROAD_BIAS
    if last and _CONDITION in chunk.context:
        terms = terms | _terms(chunk.context.split(_CONDITION, 1)[1])
    shared = len(terms & situation.wanted)
    if shared and polarity_differs(label, terms, situation.clauses):
        shared = 0  # "Vous n'avez pas de passeport" against "il a un passeport": no match
    if not shared and _DEFAULT_CASE.search(fold(label)):
        return DEFAULT_CASE_BIAS
    # Shared terms first, then the share of the label they cover (< 1, so only a tie-break).
    return shared + shared / (2 * len(terms)) if terms else 0.0


def clause_polarities(situation: str) -> list[tuple[frozenset[str], bool]]:
    """(terms, negated) of each clause of the situation ("périmée depuis 6 ans, il n'a pas de passeport")."""
    return [
        (_specific_terms(c), negated(c)) for c in re.split(r"[,;.\n]|\bet\b|\bmais\b", situation) if c.strip()
    ]


def polarity_differs(label: str, terms: frozenset[str], clauses: list[tuple[frozenset[str], bool]]) -> bool:
    """Some word the label shares with the situation is said there only with the other polarity
    ("Vous avez un passeport périmé" against "carte périmée, il n'a pas de passeport")."""
    polarity = negated(label)
    for term in terms:
        said = [negative for clause, negative in clauses if term in clause]
        if said and polarity not in said:
            return True
    return False


def _level_block(chunk: Chunk, depth: int, block: dict[str, str]) -> str:
    """Where the case at this depth of chunk's branch has its siblings: the top case in its block
    (_blocks), a sub-case always in its own section (a fiche cut by "Cas général (Caf)" / "Régime agricole
    (MSA)" in every section has, under each, sub-cases that belong to that section only)."""
    return block[chunk.id] if depth == 0 else f"{chunk.doc_id}\0{chunk.section}"


def _best_labels(
    pool: Sequence[tuple[Chunk, tuple[float, ...]]], block: dict[str, str]
) -> dict[tuple[str, tuple[str, ...]], dict[str, float]]:
    """(block, the levels above) -> each label found there and its best score: the cases a passage's
    label is compared with at each level of its branch."""
    best: dict[tuple[str, tuple[str, ...]], dict[str, float]] = {}
    for chunk, scores in pool:
        levels = branch_levels(chunk)
        for depth, label in enumerate(levels):
            labels = best.setdefault((_level_block(chunk, depth, block), levels[:depth]), {})
            labels[label] = max(labels.get(label, scores[depth]), scores[depth])
    return best


def _contradicted(
    chunk: Chunk,
    scores: tuple[float, ...],
    block: dict[str, str],
    best: dict[tuple[str, tuple[str, ...]], dict[str, float]],
) -> bool:
    """At some level of chunk's branch, a sibling case of its block (same levels above, another label)
    fits the situation better."""
    levels = branch_levels(chunk)
    for depth, label in enumerate(levels):
        siblings = best.get((_level_block(chunk, depth, block), levels[:depth]), {})
        if any(score > scores[depth] for other, score in siblings.items() if other != label):
            return True
    return False


def _blocks(chunks: Sequence[Chunk]) -> dict[str, str]:
    """chunk id -> its block of cases: sibling cases are compared within one block only.

    A block of cases inside a section ("Qui est concerné ? > Condition de droits": "Activité salariée",
    "Activité non salariée") is that section's; cases that hold sections themselves (a fiche cut by
    situation first, its top case found under several sections) form the fiche's own block, "".
    A "Cas général" found in several sections is a default in each, unless the fiche has another case
    found in several sections ("Cas général (Caf)" beside "Régime agricole (MSA)")."""
    sections: dict[tuple[str, str], set[str]] = {}
    for chunk in chunks:
        if chunk.branch:
            sections.setdefault((chunk.doc_id, branch_levels(chunk)[0]), set()).add(chunk.section)
    spanning = {key for key, found in sections.items() if len(found) > 1}
    cut_by_case = {doc for doc, top in spanning if not _DEFAULT_CASE.search(fold(top))}
    out: dict[str, str] = {}
    for chunk in chunks:
        key = (chunk.doc_id, branch_levels(chunk)[0] if chunk.branch else "")
        fiche_level = key in spanning and (chunk.doc_id in cut_by_case)
        out[chunk.id] = f"{chunk.doc_id}\0" + ("" if fiche_level else chunk.section)
    return out


@dataclass(frozen=True)
class Verdict:
    matched: bool  # some level fits the situation, and no sibling case of the fiche fits it better
    contradicted: bool  # a sibling case of the same fiche fits the situation better
    strength: float  # what the matching levels add up to: a deeper fitting case is a stronger one


# What a case's own text says weighs less than its label: it only breaks ties between sibling labels.
TEXT_WEIGHT = 0.1
# Clauses, as the situation's: a negation in a parenthesis ("(pas besoin de l'accord de votre médecin
# traitant)") does not turn its whole sentence ("Lorsque vous avez déclaré un médecin traitant").
_TEXT_CLAUSE = re.compile(r"(?<=[.!?;:,])\s+|[()]|\n")


@lru_cache(maxsize=8192)
def _clauses_of(text: str) -> tuple[tuple[frozenset[str], bool], ...]:
    return tuple((_specific_terms(s), negated(s)) for s in _TEXT_CLAUSE.split(text) if s.strip())


def text_agreement(texts: Sequence[str], clauses: list[tuple[frozenset[str], bool]]) -> float:
    """Whether a case's own text says what the situation says: each clause of it that shares two or more
    words with a clause of the situation counts for it (same polarity) or against it (the other one).
    A situation's clause the text says more often against than for makes it −TEXT_WEIGHT ("Lorsque vous
    avez déclaré un médecin traitant" against "pas de médecin traitant déclaré"): a contradiction
    outweighs agreements on other clauses; else +TEXT_WEIGHT when some clause is said for, 0 when none."""
    net = [0] * len(clauses)
    for text in texts:
        # A stem is a prefix of its words: a text that does not hold two of a clause's stems as plain
        # substrings cannot share two terms with it, and is not analysed (the costly part).
        plain = (
            unicodedata.normalize("NFKD", text.lower().replace("œ", "oe")).encode("ascii", "ignore").decode()
        )
        if not any(sum(term in plain for term in clause) >= 2 for clause, _ in clauses):
            continue
        for terms, negative in _clauses_of(text):
            for i, (clause, clause_negative) in enumerate(clauses):
                if len(terms & clause) >= 2:
                    net[i] += 1 if negative == clause_negative else -1
    if any(n < 0 for n in net):
        return -TEXT_WEIGHT
    return TEXT_WEIGHT if any(n > 0 for n in net) else 0.0


def _tied_texts(
    pool: list[tuple[Chunk, tuple[float, ...]]],
    block: dict[str, str],
    best: dict[tuple[str, tuple[str, ...]], dict[str, float]],
    situation: Situation,
) -> dict[tuple[str, tuple[str, ...]], float]:
    """(level block, case path) -> what the passages of exactly that case (its introduction) say of the
    situation (text_agreement), for the cases whose label ties with a sibling's at the top of its level
    only: elsewhere labels decide, and the texts are not read (each costs an analysis)."""
    texts: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for chunk, _ in pool:
        levels = branch_levels(chunk)
        if levels:
            texts.setdefault((_level_block(chunk, len(levels) - 1, block), levels), []).append(chunk.text)
    out: dict[tuple[str, tuple[str, ...]], float] = {}
    for (where, above), labels in best.items():
        top = max(labels.values())
        tied = [label for label, score in labels.items() if score == top]
        if len(tied) > 1:
            for label in tied:
                path = (*above, label)
                out[(where, path)] = text_agreement(texts.get((where, path), []), situation.clauses)
    return out


def verdicts(chunks: Sequence[Chunk], situation: Situation, siblings: Sequence[Chunk] = ()) -> list[Verdict]:
    """Each chunk judged against the other cases of its fiche: those among chunks, and siblings (the
    fiche's passages retrieval did not return, so that a better case is seen even when not retrieved).
    Labels decide; where sibling labels tie, what each case's own text says breaks the tie."""
    scores = [_level_scores(c, situation) for c in chunks]
    others = [(c, _level_scores(c, situation)) for c in siblings]
    pool = [*zip(chunks, scores, strict=True), *others]
    block = _blocks([c for c, _ in pool])
    best = _best_labels(pool, block)
    texts = _tied_texts(pool, block, best, situation)
    for (where, path), bonus in texts.items():
        best[(where, path[:-1])][path[-1]] += bonus
    out: list[Verdict] = []
    for chunk, own in zip(chunks, scores, strict=True):
        levels = branch_levels(chunk)
        weighed = tuple(
            s + texts.get((_level_block(chunk, d, block), levels[: d + 1]), 0.0) for d, s in enumerate(own)
        )
        contradicted = _contradicted(chunk, weighed, block, best)
        matched = not contradicted and any(s >= MATCH for s in own)
        out.append(Verdict(matched, contradicted, sum(s for s in own if s > 0)))
    return out


def _read(situation: str | Situation) -> Situation | None:
    return situation if isinstance(situation, Situation) else Situation.read(situation)


def situation_order(
    chunks: Sequence[Chunk], situation: str | Situation, siblings: Sequence[Chunk] = ()
) -> list[tuple[int, bool]]:
    """(position in chunks, matches the situation) pairs, in the order the passages should be used.

    A fiche's passages are reordered among the places its own passages held (matching cases first, the
    strongest match first), so
    that one fiche with many passages of the matching case does not push the other fiches out; passages
    of a contradicted case go last."""
    read = _read(situation)
    if read is None:
        return [(i, False) for i in range(len(chunks))]
    judged = verdicts(chunks, read, siblings)
    places: dict[str, list[int]] = {}  # each fiche's positions, in order
    for i, chunk in enumerate(chunks):
        places.setdefault(chunk.doc_id, []).append(i)
    keyed: list[tuple[tuple[int, int], int]] = []
    for own in places.values():
        kept = sorted(  # matching passages first, the best fitting (deepest) case before its ancestors
            (i for i in own if not judged[i].contradicted),
            key=lambda i: (not judged[i].matched, -judged[i].strength if judged[i].matched else 0.0, i),
        )
        keyed += [((0, place), i) for place, i in zip(own, kept, strict=False)]  # the fiche's first places
    keyed += [((1, i), i) for i, v in enumerate(judged) if v.contradicted]
    return [(i, judged[i].matched) for _, i in sorted(keyed)]


def deciding_case(
    fiche_chunks: Sequence[Chunk], situation: str | Situation, retrieved: Collection[str] = ()
) -> Chunk | None:
    """The passage of the fiche's case the situation decides (matched, contradicted by no other case of
    its block, the strongest match, then the first in the fiche); None when it decides none, or when a
    retrieved passage (ids) matches as strongly already ("En France" is kept for "En France > Cas
    général > Date d'expiration entre 2 et 5 ans" only when nothing deeper fits)."""
    read = _read(situation)
    if read is None:
        return None
    judged = verdicts(fiche_chunks, read)
    matched = [i for i, v in enumerate(judged) if v.matched]
    best = max(matched, key=lambda i: (judged[i].strength, -fiche_chunks[i].ordinal), default=None)
    if best is None:
        return None
    held = max((judged[i].strength for i in matched if fiche_chunks[i].id in retrieved), default=None)
    return None if held is not None and held >= judged[best].strength else fiche_chunks[best]
