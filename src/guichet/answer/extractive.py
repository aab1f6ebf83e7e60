"""An answer without a language model: verbatim lines of the best extracts, each with its [n].

Used when no model is configured or the model is unavailable. Nothing is reworded, so nothing can be
invented. What is quoted is chosen for the advisor to act on:
- the question's intent (what to bring, how much, how long, where, what first: answer/intent.py) picks
  the lines, with the question's own terms; amounts, delays and forms always count;
- one case per BlocCas: the case chosen for the situation (evidence.chosen_branches), else the case of
  the best line; passages of cases the reader is not in are dropped (those of another, independent
  BlocCas of the fiche kept: answer/case_blocs.py), those above it (the fiche's common text) kept;
  without a situation, the general case before an exception the question does not name, and a second
  fiche quotes only its common text when its case is one the question does not name ("Ancien
  combattant" beside an answer on the age of the Aspa);
- a list or a table is quoted whole, as a list ("- item", "1. item") or a table ("| a | b |"), with its
  caption as a caption; links read "[text](url)" (answer/passage_units.py);
- a line is never said twice (two cases, two fiches, or chunk overlap with the same text).
The page renders these lines as lists, tables and links; `Cas « … » :` names the case quoted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from guichet.answer.evidence import Extract, chosen_branches
from guichet.answer.intent import Intent, has_fact, intent_hits, question_intents
from guichet.answer.passage_units import REFERS_BACK, Unit, linkify, read_units
from guichet.answer.prompt import NOT_COVERED
from guichet.answer.situation import on_path
from guichet.answer.unasked import GENERAL_CASE, unasked_steps, wanted_terms
from guichet.lexical import analyze, fold

EXTRACTIVE_NOTICE = (
    "Réponse composée d'extraits, sans rédaction automatique : les phrases ci-dessous sont citées "
    "telles quelles depuis les fiches ; vérifiez qu'elles correspondent à la situation de l'usager."
)
MAX_SLOTS = 8  # sentences, lists or tables quoted
MAX_ITEMS = 10  # of one list or table
MAX_FICHES = 2
MAX_EXTRACTS = 4
RELATIVE_BAR = 0.75  # share of the closest passage's question terms another passage must have
INTENT_WEIGHT = 2.0
TITLE_WEIGHT = 1.0
FACT_WEIGHT = 0.5
# A line of the case the situation decides: worth one question term, so the answer quotes that case
# even when the fiche's common text shares more words with the question.
CASE_WEIGHT = 1.0
# What following an exception costs a line when nothing says the reader is in it (the case most people
# are in comes first): a case of _SPECIAL_CASE, or each step of a case path the question does not name.
SPECIAL_CASE_COST = 1.5
# Without a situation, the case most people are in: the general case, in France; not the exceptions.
_SPECIAL_CASE = re.compile(
    r"(?i)(?:[àa] l['’][ée]tranger|vous [êe]tes [ée]tranger|outre-mer|mayotte|guyane|r[ée]union|"
    r"guadeloupe|martinique|nouvelle-cal[ée]donie|polyn[ée]sie|r[ée]gime agricole|\bmsa\b)"
)
_MARKERS = re.compile(r"\[\d{1,3}\]")
# "Il faut fournir :", "… dans les conditions suivantes." : what follows is the point.
_ANNOUNCING = re.compile(r"(?::|\bsuivant(?:e|s|es)?\s*\.)$")
_SENTENCE_ENDS = (".", "!", "?", "…", ":")


@dataclass(frozen=True)
class _Scored:
    extract: Extract
    index: int  # of the unit in its passage
    unit: Unit
    score: float


def _overlap(extract: Extract, wanted: frozenset[str]) -> int:
    """Question terms found in the passage or its titles."""
    return len(frozenset(analyze(extract.chunk.indexed_text)) & wanted)


def _relevant(
    extracts: Sequence[Extract], wanted: frozenset[str], intents: tuple[Intent, ...]
) -> list[Extract]:
    """Passages sharing two question terms (or all of them), and nearly as many as the closest one;
    and, of the fiches those come from, the passages whose section answers the question's intent
    ("Coût" for "combien coûte") and those of the case the situation decides.

    The relative bar keeps "carte Vitale" out of an answer about a "carte d'identité périmée". When
    none of the passages it keeps is of a case the situation decides, those of the first fiche's decided
    case need only the two terms: a table of tariffs shares fewer words with the question than a
    neighbouring fiche that explains the rule (F1069's "Hors parcours de soins > Généraliste" against
    F163's parcours de soins), and an answer to a situation should show its case.
    """
    overlaps = [_overlap(e, wanted) for e in extracts]
    floor = min(2, len(wanted))
    bar = max(floor, RELATIVE_BAR * max(overlaps, default=0))
    chosen = [e for e, overlap in zip(extracts, overlaps, strict=True) if overlap >= bar]
    if extracts and not any(e.in_decided_case for e in chosen):
        first = extracts[0].doc_id
        chosen += [
            e for e, overlap in zip(extracts, overlaps, strict=True)
            if e.in_decided_case and e.doc_id == first and overlap >= floor
        ]  # fmt: skip
    fiches = {e.doc_id for e in chosen}
    return [
        e for e in extracts
        if e in chosen
        or (e.doc_id in fiches and intents and intent_hits(_titles(e), intents))
        or (e.doc_id in fiches and e.in_decided_case)
    ]  # fmt: skip


def _titles(extract: Extract) -> str:
    return f"{extract.chunk.section} {extract.branch}"


def _score(extract: Extract, unit: Unit, wanted: frozenset[str], intents: tuple[Intent, ...]) -> float:
    overlap = len(frozenset(analyze(unit.text)) & wanted)
    hits = intent_hits(unit.text, intents)
    title = intent_hits(_titles(extract), intents) if (overlap or hits or has_fact(unit.text)) else 0
    fact = FACT_WEIGHT if has_fact(unit.text) else 0.0
    case = CASE_WEIGHT if extract.in_decided_case else 0.0
    return overlap + INTENT_WEIGHT * hits + TITLE_WEIGHT * title + fact + case


def _units(extract: Extract) -> list[Unit]:
    return read_units(extract.text)  # without a line repeated from the passage before (overlap.py)


def _followed_cases(
    extracts: Sequence[Extract], scored: Sequence[_Scored], wanted: frozenset[str]
) -> dict[str, str]:
    """Fiche id -> the case quoted: the one chosen for the situation, else that of the best line,
    deepened to the best of its sub-cases (the general case first when nothing tells which applies)."""
    chosen = chosen_branches(extracts)
    # Each case path read once, not once per line of its passages.
    unasked = {b: len(unasked_steps(b, wanted)) for b in {s.extract.branch for s in scored}}
    followed: dict[str, str] = {}
    for s in sorted(scored, key=lambda s: (-_rank(s, unasked[s.extract.branch]), s.extract.n, s.index)):
        doc, branch = s.extract.doc_id, s.extract.branch
        if doc not in followed:
            followed[doc] = _deeper(chosen.get(doc, ""), branch)
        else:
            followed[doc] = _deeper(followed[doc], branch)
    return followed


def _other_case(extract: Extract, followed: str) -> bool:
    """A passage of a case the reader is not in, given the case followed (not one of an independent
    BlocCas of the same fiche: answer/case_blocs.py)."""
    return extract.document.cases.alternatives(followed, extract.branch)


def _unasked_case(case: str, wanted: frozenset[str], extracts: Sequence[Extract]) -> bool:
    """A case no one asked about: the situation does not decide it, and a step of its path is neither
    the general case nor named by the question or the situation ("Ancien combattant" for "à partir de
    quel âge l'Aspa ?", "Les héritiers ne conservent pas le véhicule" for a sale)."""
    if not case or any(e.in_decided_case and on_path(case, e.branch) for e in extracts):
        return False
    return bool(unasked_steps(case, wanted))


def _rank(s: _Scored, unasked_steps: int) -> float:
    branch = s.extract.branch
    general = 0.5 if GENERAL_CASE.search(branch) else 0.0
    special = SPECIAL_CASE_COST if _SPECIAL_CASE.search(branch) else 0.0
    unasked = 0 if s.extract.in_decided_case else unasked_steps
    return s.score + general - special - SPECIAL_CASE_COST * unasked


def _deeper(case: str, branch: str) -> str:
    """case, or branch when it lies below it: an answer quotes one case, not every sub-case of it."""
    if not case or (on_path(case, branch) and len(branch) > len(case)):
        return branch
    return case


def compose_extractive(
    question: str, situation: str, extracts: Sequence[Extract], *, max_extracts: int = MAX_EXTRACTS
) -> str:
    # The fiches' own words too ("voiture" -> "véhicule"), as retrieval searched them
    wanted = wanted_terms(question, situation)
    if not wanted:
        return NOT_COVERED
    intents = question_intents(question)
    relevant = _relevant(extracts, wanted, intents)
    units = {e.n: _units(e) for e in relevant}
    scored = [
        _Scored(e, i, u, score)
        for e in relevant
        for i, u in enumerate(units[e.n])
        if (score := _score(e, u, wanted, intents)) > FACT_WEIGHT and not _promises_more(units[e.n], i)
    ]
    cases = _followed_cases(relevant, scored, wanted)
    fiches = list(dict.fromkeys(s.extract.doc_id for s in sorted(scored, key=lambda s: s.extract.n)))
    unasked = {doc for doc in fiches[1:MAX_FICHES] if _unasked_case(cases.get(doc, ""), wanted, relevant)}
    kept = [
        e for e in relevant
        if e.doc_id in fiches[:MAX_FICHES]
        and not _other_case(e, cases.get(e.doc_id, ""))
        and not (e.branch and e.doc_id in unasked)
    ][:max_extracts]  # fmt: skip
    picked = _pick([s for s in scored if s.extract in kept], units)
    lines = _render(kept, units, picked, cases, fiches)
    return "\n".join(lines) if lines else NOT_COVERED


def _pick(scored: Sequence[_Scored], units: dict[int, list[Unit]]) -> set[tuple[int, int]]:
    """(extract n, unit index) quoted: the best units up to MAX_SLOTS; a list or a table is quoted
    whole and counts once, a sentence announcing one ("… est punie jusqu'à :") brings it, and one
    opening with a pronoun brings the sentence it refers to (uncounted: one statement in two)."""
    picked: set[tuple[int, int]] = set()
    referred: set[tuple[int, int]] = set()
    groups: set[tuple[int, int]] = set()
    for s in sorted(scored, key=lambda s: (-s.score, s.extract.n, s.index)):
        if len(picked - referred) + len(groups) >= MAX_SLOTS:
            break
        if s.unit.group < 0:
            picked.add((s.extract.n, s.index))
            if _leans_on_previous(units[s.extract.n], s.index) and (s.extract.n, s.index - 1) not in picked:
                referred.add((s.extract.n, s.index - 1))
                picked.add((s.extract.n, s.index - 1))
            announced = _announced_group(units[s.extract.n], s.index)
            if announced >= 0:
                groups.add((s.extract.n, announced))
        else:
            groups.add((s.extract.n, s.unit.group))
    return picked | {(n, -group - 1) for n, group in groups}  # a group as a negative index


def _leans_on_previous(units: list[Unit], index: int) -> bool:
    """The sentence opens with a pronoun for what the sentence right before it names ("La preuve d'un
    contrôle technique est demandée. Elle peut être apportée par la vignette"), in its paragraph or
    the one above: quoted alone, it would not say what it is about."""
    previous = units[index - 1] if index > 0 else None
    return (
        previous is not None
        and previous.kind == "sentence"
        and units[index].line - previous.line <= 1
        and REFERS_BACK.match(units[index].text) is not None
    )


def _promises_more(units: list[Unit], index: int) -> bool:
    """A sentence that announces what its passage does not hold ("… si vous remplissez les conditions
    suivantes.", the conditions being the fiche's next cases): quoted, it would end on nothing."""
    unit = units[index]
    announcing = unit.kind == "sentence" and _ANNOUNCING.search(unit.text) is not None
    return announcing and _announced_group(units, index) < 0


def _announced_group(units: list[Unit], index: int) -> int:
    """The list or table a sentence announces, or -1."""
    following = units[index + 1] if index + 1 < len(units) else None
    return following.group if following is not None and _announces(units[index], following) else -1


def _announces(sentence: Unit, following: Unit) -> bool:
    """The sentence introduces the list or table right after it: "Il faut fournir :", or a sentence the
    list completes ("… le demandeur dispose" then "- d'une attestation d'assurance"), which must never
    be quoted without it."""
    if sentence.kind != "sentence" or following.group < 0 or following.line != sentence.line + 1:
        return False
    unfinished = following.kind == "item" and not sentence.text.endswith(_SENTENCE_ENDS)
    return bool(_ANNOUNCING.search(sentence.text)) or unfinished


def _render(
    kept: Sequence[Extract],
    units: dict[int, list[Unit]],
    picked: set[tuple[int, int]],
    cases: dict[str, str],
    fiches: list[str],
) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    heading = ""
    for extract in sorted(kept, key=lambda e: (fiches.index(e.doc_id), e.chunk.ordinal)):
        mine = units[extract.n]
        chosen = [
            (i, u) for i, u in enumerate(mine)
            if (extract.n, i) in picked or (u.group >= 0 and (extract.n, -u.group - 1) in picked)
        ]  # fmt: skip
        lines = _lines(extract.n, mine, chosen, seen)
        if not lines:
            continue
        # Each heading names the case of the lines below it: a fiche's common text has none.
        case = extract.branch
        if case != heading:
            if out:
                out.append("")
            if case and not _said(f"Cas {case}", seen):
                out.append(f"Cas « {case} » :")
            heading = case
        out.extend(lines)
    return out


def _key(text: str) -> str:
    return " ".join(fold(_MARKERS.sub(" ", text)).replace("’", "'").strip(" -•*|:").split())


def _said(text: str, seen: set[str]) -> bool:
    """Already said: the same line, or a line that holds it (a repeated list item, chunk overlap)."""
    key = _key(text)
    if not key or key in seen or (len(key.split()) >= 6 and any(key in other for other in seen)):
        return True
    seen.add(key)
    return False


def _lines(n: int, units: list[Unit], chosen: list[tuple[int, Unit]], seen: set[str]) -> list[str]:
    """The chosen units as answer lines: a paragraph's sentences on one line, lists as lists, tables
    as tables; the list's introduction ("Il faut fournir :") is kept with it."""
    out: list[str] = []
    marker = f" [{n}]"
    index = 0
    while index < len(chosen):
        i, unit = chosen[index]
        if unit.group >= 0:
            members = [u for j, u in chosen if u.group == unit.group][:MAX_ITEMS]
            index += sum(1 for _, u in chosen if u.group == unit.group)
            intro = units[i - 1] if i > 0 and unit.kind == "item" else None
            if intro is not None and _announces(intro, unit) and not _said(intro.text, seen):
                out.append(linkify(intro.text) + marker)
            out.extend(_group_lines(members, marker, seen))
            continue
        paragraph = [unit.text]
        index += 1
        while index < len(chosen) and chosen[index][1].group < 0 and chosen[index][1].line == unit.line:
            paragraph.append(chosen[index][1].text)
            index += 1
        fresh = [s for s in paragraph if not _said(s, seen)]
        if fresh:
            out.append(linkify(" ".join(fresh)) + marker)
    return out


def _group_lines(members: list[Unit], marker: str, seen: set[str]) -> list[str]:
    if members[0].kind == "item":
        return [
            f"{'  ' * u.depth}{u.bullet} {linkify(u.text)}{marker}"
            for u in members
            if not _said(u.text, seen)
        ]
    caption = [u for u in members if u.kind == "caption"]
    rows = [u for u in members if u.kind == "row" and not _said(u.text, seen)]
    if not rows:
        return []
    headers = [h for h, _ in rows[0].cells]
    lines = [f"{caption[0].text}{marker}"] if caption and not _said(caption[0].text, seen) else []
    header = "| " + " | ".join(headers) + " |"
    if not _said(header, seen):  # the same columns again: the rows continue the table said before
        lines += [f"{header}{marker}", "|" + " --- |" * len(headers)]
    for row in rows:
        values = [v for _, v in row.cells]
        lines.append("| " + " | ".join(linkify(v) for v in values) + f" |{marker}")
    return lines


# -- Not covered (issue 15; kept apart from the composer above, which issue 18 rewrites) ---------------

NOT_COVERED_LEAD = (
    "Les fiches indexées ne permettent pas de répondre à cette question : aucune réponse n'est "
    "proposée, pour ne pas risquer une information erronée."
)


def not_covered_answer(titles: Sequence[str], unknown: Sequence[str] = ()) -> str:
    """What the advisor reads when the sources do not answer: said plainly, nothing cited, the names of
    the question no fiche mentions (a scheme newer than the fiches, or called otherwise), the closest
    fiches named "à consulter" (their links are in the record's `consult`, not in the text)."""
    lines = [NOT_COVERED_LEAD]
    if unknown:
        names = ", ".join(f"« {name} »" for name in unknown)
        lines.append(
            f"Aucune fiche indexée ne mentionne {names} : dispositif plus récent que les fiches, "
            "ou nommé autrement."
        )
    if titles:
        lines.append("À consulter, au cas où elles aideraient :")
        lines.extend(f"- {title}" for title in titles)
    return "\n".join(lines)
