"""What `guichet ask` prints for an answer record."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from guichet.answer.record import AnswerRecord, AskJob, Helper, PracticalLink, RelatedQuestionRef, SourceRef
from guichet.cli.render import EXTRACTIVE_NOTICE, render_record


def record(**changes: Any) -> dict[str, Any]:
    base = AnswerRecord.queued(AskJob("d" * 32, "Comment refaire ma carte d'identité ?"))
    done = replace(
        base,
        **{
            "status": "done",
            "answer": "Faites la demande en mairie [1], avec le formulaire [2].",
            "sources": (
                SourceRef(1, "F1341", "Carte d'identité", "https://www.service-public.fr/F1341", "…"),
                SourceRef(2, "R1234", "Pré-demande", "https://www.service-public.fr/R1234", "…"),
            ),
            "related_questions": (
                RelatedQuestionRef("F21089", "Que faire en cas de perte ?", "https://sp.fr/F21089"),
            ),
            "links": (
                PracticalLink("formulaire", "Demande de carte", "https://sp.fr/R1", cerfa="12100*02"),
                PracticalLink("teleservice", "Pré-demande en ligne", "https://ants.gouv.fr"),
            ),
            "helpers": (Helper("Mairie", kind="guichet", url="https://lannuaire.service-public.fr"),),
            "mode": "generated",
            **changes,
        },
    )
    data: dict[str, Any] = json.loads(done.to_json())
    return data


def test_a_generated_answer_with_every_section() -> None:
    text = render_record(record())
    assert text.startswith("Faites la demande en mairie [1], avec le formulaire [2].")
    assert "Note :" not in text
    assert "Sources :\n  [1] F1341 — Carte d'identité\n      https://www.service-public.fr/F1341" in text
    assert "  [2] R1234 — Pré-demande" in text
    assert "Questions liées :\n  - Que faire en cas de perte ? — https://sp.fr/F21089" in text
    assert "  - Formulaire : Demande de carte (cerfa 12100*02) — https://sp.fr/R1" in text
    assert "  - Téléservice : Pré-demande en ligne — https://ants.gouv.fr" in text
    assert "Pour se faire aider :\n  - Mairie (guichet) — https://lannuaire.service-public.fr" in text
    order = ["Sources :", "Questions liées :", "Liens pratiques :", "Pour se faire aider :"]
    assert [text.index(title) for title in order] == sorted(text.index(title) for title in order)


def test_an_extractive_answer_says_so_first() -> None:
    text = render_record(record(mode="extractive"))
    assert text.startswith(f"Note : {EXTRACTIVE_NOTICE}\n\nFaites la demande")
    noticed = render_record(record(mode="extractive", notice="Un montant non sourcé a été retiré."))
    assert noticed.startswith("Note : Un montant non sourcé a été retiré.")


def test_empty_sections_are_left_out() -> None:
    text = render_record(record(related_questions=(), links=(), helpers=()))
    assert "Sources :" in text
    assert not any(t in text for t in ("Questions liées", "Liens pratiques", "Pour se faire aider"))


def test_a_failed_answer_prints_its_error() -> None:
    failed = AnswerRecord.queued(AskJob("e" * 32, "Q ?")).failed("file_indisponible", "File injoignable.")
    assert render_record(json.loads(failed.to_json())) == "Échec : File injoignable. (file_indisponible)"
    assert render_record({"status": "failed"}) == "Échec : La réponse n'a pas pu être produite."
