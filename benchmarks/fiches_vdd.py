"""The 2020 dump's reader moved into the library (guichet.indexing.vdd_dump); kept for the benchmarks."""

from guichet.indexing.vdd_dump import (
    AUDIENCES,
    PACKAGE,
    VERSION,
    ensure_package,
    fiche_xml,
    iter_fiches,
    listed_ids,
    to_xml,
    variants,
)

__all__ = [
    "AUDIENCES",
    "PACKAGE",
    "VERSION",
    "ensure_package",
    "fiche_xml",
    "iter_fiches",
    "listed_ids",
    "to_xml",
    "variants",
]
