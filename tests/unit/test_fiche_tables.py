"""Tables with merged cells and stacked header rows (corpus/fiche_tables.py), without the shared corpus."""

from __future__ import annotations

from guichet.corpus.fiche_tables import Cell, table_rows


def _cell(text: str, across: int = 1, down: int = 1) -> Cell:
    return (text, across, down)


def test_merged_cells_stay_on_their_columns() -> None:
    rows = [
        [
            _cell("Ménage", down=2),
            _cell("Revenus très modestes", across=2),
            _cell("Revenus modestes", across=2),
        ],
        [_cell("Île-de-France"), _cell("Autres régions"), _cell("Île-de-France"), _cell("Autres régions")],
        [
            _cell("1 personne", down=2),
            _cell("20 593 €"),
            _cell("14 879 €"),
            _cell("25 068 €"),
            _cell("19 074 €"),
        ],
        [_cell("+ 6 096 €"), _cell("+ 4 412 €"), _cell("+ 7 422 €"), _cell("+ 5 651 €")],
    ]
    assert table_rows(rows, header_rows=2) == [
        "Ménage : 1 personne ; Revenus très modestes – Île-de-France : 20 593 € ;"
        " Revenus très modestes – Autres régions : 14 879 € ; Revenus modestes – Île-de-France : 25 068 € ;"
        " Revenus modestes – Autres régions : 19 074 €",
        "Ménage : 1 personne ; Revenus très modestes – Île-de-France : + 6 096 € ;"
        " Revenus très modestes – Autres régions : + 4 412 € ; Revenus modestes – Île-de-France : + 7 422 € ;"
        " Revenus modestes – Autres régions : + 5 651 €",
    ]


def test_two_columns_under_one_header_read_as_one_value() -> None:
    rows = [
        [_cell("Prestations", across=2), _cell("Prise en charge")],
        [_cell("Médicaments", down=2), _cell("SMR majeur"), _cell("Ticket modérateur")],
        [_cell("Homéopathie"), _cell("Aucune")],
    ]
    assert table_rows(rows, header_rows=1) == [
        "Prestations : Médicaments – SMR majeur ; Prise en charge : Ticket modérateur",
        "Prestations : Médicaments – Homéopathie ; Prise en charge : Aucune",
    ]


def test_a_table_of_headers_only_names_its_columns() -> None:
    rows = [[_cell("Démarche"), _cell("Coût")]]
    assert table_rows(rows, header_rows=1) == ["Démarche ; Coût"]


def test_a_table_without_headers_lists_its_values() -> None:
    rows = [[_cell("Taxe régionale"), _cell("231 €")], [_cell("Taxe de gestion"), _cell("4 €")]]
    assert table_rows(rows, header_rows=0) == ["Taxe régionale ; 231 €", "Taxe de gestion ; 4 €"]


def test_a_malformed_merge_does_not_drift_into_a_later_row() -> None:
    # b1 is merged down into row 2, where a2 is merged across its column: row 3 keeps its own cells.
    rows = [
        [_cell("A"), _cell("B"), _cell("C")],
        [_cell("a1"), _cell("b1", down=2), _cell("c1")],
        [_cell("a2", across=2), _cell("c2")],
        [_cell("a3"), _cell("b3"), _cell("c3")],
    ]
    assert table_rows(rows, header_rows=1)[-1] == "A : a3 ; B : b3 ; C : c3"


def test_a_span_of_zero_counts_as_one() -> None:
    assert table_rows([[_cell("A"), _cell("B")], [_cell("x", across=0, down=0), _cell("y")]], 1) == [
        "A : x ; B : y"
    ]
