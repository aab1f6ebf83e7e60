"""French-aware lexical analysis shared by every index backend.

`analyze` turns a text into the terms a full-text index stores and a query matches:
lowercase, accents stripped (NFKD), split on anything that is not a letter or digit, French
stopwords dropped, a few counter abbreviations expanded, Snowball French stemming.

Accents are stripped *before* stemming: advisors and users often type without accents
("identite", "reglement"), and stemming the accented and unaccented spellings separately gives
different stems ("identité" -> "ident" but "identite" -> "identit"). Stripping first keeps both
sides of the match identical, at the cost of a slightly cruder stem.

The same function runs on documents and on queries, so an expansion ("apl" -> "aide
personnalisee logement") is symmetric: a fiche that spells the aid out matches the query "APL",
and a fiche that only says "APL" matches the query "aide au logement".

`query_terms` adds, to a query only, the words fiches use for what advisors say otherwise
(EQUIVALENTS: "voiture" -> "véhicule"), so an index needs no rebuild when the list grows; both
backends search with it.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import snowballstemmer

# Runs of letters or digits: "cerfa n°13750*07" -> cerfa, n, 13750, 07 (digits stay searchable).
_TOKEN = re.compile(r"[a-z0-9]+")

# Short, accent-stripped list: function words only, so that legal words ("droit", "aide") survive.
_STOPWORDS_TEXT = """
    a au aux avec ce ces cet cette c d dans de des du elle elles en et eux il ils j je l la le les leur
    leurs lui m ma mais me meme mes moi mon n ne nos notre nous on ou par pas pour qu que qui s sa se
    ses son sur t ta te tes toi ton tu un une vos votre vous y est sont ete etre avoir ai as avons avez
    ont sera seront etait suis es soit ca cela ceci dont si plus tres
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORDS_TEXT.split())

# Abbreviations heard at a France services counter, mapped to the words fiches spell out.
# Kept small on purpose: each entry must be unambiguous in the service-public.fr corpus.
ABBREVIATIONS: dict[str, str] = {
    "apl": "aide personnalisee logement",
    "als": "allocation logement sociale",
    "rsa": "revenu solidarite active",
    "caf": "caisse allocations familiales",
    "cni": "carte nationale identite",
    "css": "complementaire sante solidaire",
    "ants": "agence nationale titres securises",
    "aah": "allocation adultes handicapes",
    "cpam": "caisse primaire assurance maladie",
    "mdph": "maison departementale personnes handicapees",
}

# A Snowball stemmer keeps its word in instance fields while it works: shared between threads (8 answer
# threads) it returns other threads' stems and raises IndexError. One per thread.
_STEMMERS = threading.local()


def _stemmer() -> Any:  # snowballstemmer has no types
    stemmer = getattr(_STEMMERS, "french", None)
    if stemmer is None:
        stemmer = _STEMMERS.french = snowballstemmer.stemmer("french")
    return stemmer


def fold(text: str) -> str:
    """Lowercase and strip diacritics: "Dépôt" -> "depot", "œuvre" -> "oeuvre"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("œ", "oe").replace("æ", "ae"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    # Digits are identifiers (cerfa numbers, amounts): never stem them.
    # The cache is shared (lru_cache is thread-safe); what it keeps is right since each stem is.
    return word if word.isdigit() else str(_stemmer().stemWord(word))


def _expand(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        out.append(token)
        expansion = ABBREVIATIONS.get(token)
        if expansion:
            out.extend(expansion.split())
    return out


def analyze(text: str) -> list[str]:
    """The stemmed, accent-free terms of `text`, in order (duplicates kept for term frequency)."""
    tokens = [t for t in _TOKEN.findall(fold(text)) if t not in STOPWORDS]
    return [_stem(t) for t in _expand(tokens) if t not in STOPWORDS]


def analyzed_text(text: str) -> str:
    """`analyze` joined by spaces: what a whitespace tokenizer (FTS5, Weaviate) indexes."""
    return " ".join(analyze(text))


# Words of any question: they say nothing about which passage answers it (coverage, reranking).
QUESTION_WORDS: frozenset[str] = frozenset(
    analyze(
        "comment quel quelle quels quelles quand combien pourquoi où faire fait dois doit doivent peut "
        "peux puis veut veux voudrais faut savoir besoin usager usagère personne demande question "
        "madame monsieur il elle ils elles son sa ses leur via chez "
        # "Mme X", "M. Y": a courtesy title and a placeholder name say who, not what about
        "mme mlle mr x y z"
    )
)


def question_terms(text: str) -> frozenset[str]:
    """The distinct analysed terms of a question that say what it is about (no question words)."""
    return frozenset(analyze(text)) - QUESTION_WORDS


# What advisors say -> what fiches call it, each equivalence stated by the fiches themselves (checked by
# tests/unit/test_lexical_equivalents.py against ../shared/fiches): "Voiture, véhicule utilitaire",
# "complémentaire santé (mutuelle)", "micro-entrepreneur (auto-entrepreneur)", "Allocations chômage
# (allocation d'aide au retour à l'emploi…)", "Carte grise (certificat d'immatriculation)",
# "Relevé d'identité bancaire (Rib)". General words only, never a list written for one question.
EQUIVALENTS: dict[str, str] = {
    "voiture": "véhicule",
    "automobile": "véhicule",
    "mutuelle": "complémentaire santé",
    "auto-entrepreneur": "micro-entrepreneur",
    "chômage": "aide au retour à l'emploi",
    "carte grise": "certificat d'immatriculation",
    "rib": "relevé d'identité bancaire",
}
_EQUIVALENT_TERMS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = tuple(
    (tuple(analyze(said)), tuple(analyze(written))) for said, written in EQUIVALENTS.items()
)


def query_terms(query: str) -> list[str]:
    """`analyze(query)`, then the terms of the fiches' words for the phrases it contains (EQUIVALENTS)."""
    terms = analyze(query)
    extra = [
        term
        for said, written in _EQUIVALENT_TERMS
        if contains_phrase(terms, said)
        for term in written
        if term not in terms
    ]
    return terms + list(dict.fromkeys(extra))


def contains_phrase(terms: Sequence[str], phrase: Sequence[str]) -> bool:
    """Whether `phrase` (analysed terms) occurs in `terms` in a row."""
    n, wanted = len(phrase), tuple(phrase)
    return n > 0 and any(tuple(terms[i : i + n]) == wanted for i in range(len(terms) - n + 1))
