"""A question naming a scheme no fiche mentions is declined, through the answer worker, on real fiches.

The embedded index with real fiches of ../shared (skipped when absent) and the hashing embedder (no
cosine bar: the names decide); the record is the stored one, as an advisor's page reads it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guichet.wiring import Stack
from tests.unit.worker_on_fiches import ask, fiche_stack, have_fiches

IDS = ["F2882", "F12006", "F21089", "F1344"]
pytestmark = pytest.mark.skipif(not have_fiches(IDS), reason="real fiches of ../shared absent")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = fiche_stack(tmp_path_factory.mktemp("names"), IDS)
    yield stack
    stack.close()


def test_a_scheme_no_fiche_names_is_declined_and_named(stack: Stack) -> None:
    # "prime" and "activité" are in F2882; "prime de partage" is in no fiche: a newer scheme.
    record = ask(stack, "Son employeur lui a versé une prime de partage de la valeur : est-elle imposable ?")
    assert not record.covered
    assert record.sources == ()
    assert "Aucune fiche indexée ne mentionne « prime de partage »" in record.answer
    assert record.consult  # the closest fiches are still offered


def test_a_scheme_the_fiches_name_is_answered(stack: Stack) -> None:
    record = ask(stack, "Salarié à mi-temps payé au Smic : peut-il toucher la prime d'activité ?")
    assert record.covered
    assert record.sources[0].id == "F2882"
    assert "ne mentionne" not in record.answer
