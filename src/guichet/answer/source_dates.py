"""How old each cited fiche is, and which sources are the demo's examples rather than official text.

A source carries its fiche's own date of last update (dc:date / dateDerniereModificationImportante,
parsed by corpus/fiche.py): a fiche of November 2020 may state 2020 amounts. Sources older than the
operator's threshold (GUICHET_SOURCE_MAX_AGE_DAYS) are flagged and named in the answer's notice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from guichet.answer.record import SourceRef
from guichet.corpus.model import is_example_id

EXAMPLE_NOTICE = (
    "Réponse tirée de fiches d'exemple, non officielles (corpus de démonstration) : ne l'utilisez pas "
    "pour conseiller un usager."
)


def dated(
    sources: Sequence[SourceRef], *, max_age_days: float, today: dt.date | None = None
) -> tuple[SourceRef, ...]:
    """sources with `outdated` set (older than max_age_days; 0 = never) and `example` set."""
    today = today or dt.datetime.now(dt.UTC).date()
    out = []
    for source in sources:
        updated = _parse(source.updated)
        outdated = bool(max_age_days > 0 and updated and (today - updated).days > max_age_days)
        out.append(replace(source, outdated=outdated, example=is_example_id(source.id)))
    return tuple(out)


def age_notice(sources: Sequence[SourceRef]) -> str:
    """One sentence naming the outdated sources, or ""."""
    old = [s for s in sources if s.outdated]
    if not old:
        return ""
    named = ", ".join(f"[{s.n}] ({french_date(s.updated)})" for s in old)
    plural = "s" if len(old) > 1 else ""
    return (
        f"Source{plural} ancienne{plural} : {named}. Vérifiez sur service-public.fr que les montants et "
        "les démarches n'ont pas changé."
    )


def example_notice(sources: Sequence[SourceRef]) -> str:
    return EXAMPLE_NOTICE if any(s.example for s in sources) else ""


def french_date(iso: str) -> str:
    parsed = _parse(iso)
    return parsed.strftime("%d/%m/%Y") if parsed else iso


def _parse(iso: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(iso[:10]) if iso else None
    except ValueError:
        return None
