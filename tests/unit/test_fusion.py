"""Rank fusion (ports/indexes/fusion.py), the one both backends call: weights tuned on dev (ADR 0032)."""

from __future__ import annotations

import pytest

from guichet.ports.indexes.fusion import LEXICAL_WEIGHT, RRF_K, VECTOR_WEIGHT, reciprocal_rank_fusion


def test_the_vector_leg_outweighs_the_lexical_one_at_equal_rank() -> None:
    # The lexical leg alone ranks worse on dev (MRR 0.79 against 0.85): at equal ranks its first passage
    # comes after the vector leg's (equal weights would put it first, ties going to the lexical rank).
    fused = reciprocal_rank_fusion(["lexical-first", "both"], ["vector-first", "both"])
    assert [key for key, *_ in fused] == ["both", "vector-first", "lexical-first"]


def test_scores_are_weight_over_k_plus_rank() -> None:
    fused = dict((key, score) for key, score, _, _ in reciprocal_rank_fusion(["a", "b"], ["b"]))
    assert fused["a"] == pytest.approx(LEXICAL_WEIGHT / (RRF_K + 1))
    assert fused["b"] == pytest.approx(LEXICAL_WEIGHT / (RRF_K + 2) + VECTOR_WEIGHT / (RRF_K + 1))
