"""The things a question names, and those the index never mentions.

An advisor asks about a scheme by its name: "l'indemnité inflation", "le Pass'Sport", "Mon soutien
psy". When the corpus predates the scheme, retrieval still returns its neighbours (sport, psychologues,
bonus écologique) with good scores, and an answer composed from them describes another scheme. Scores
cannot tell; the name can: a name that no passage of the whole index contains is a question the
index cannot answer (coverage.py declines it, and the advisor reads which name was not found).

Two kinds of names, each a rule of French writing rather than a list of schemes:
- a capitalised run that does not open the sentence, of several words or with a capital inside ("Pass
  Colo", "France Identité", "Pass'Sport", "MaPrimeAdapt'"; not "Smic", "Lille": context more often than
  subject); a capitalised function word opens a name that runs to the next function word ("Mon
  soutien psy": "mon" is not capitalised mid-sentence otherwise);
- a scheme noun and its qualifier ("indemnité inflation", "prime de partage", "bonus réparation"):
  SCHEME_NOUNS are the words service-public.fr names aids with.

A name is found when some passage holds its analysed terms in a row (lexical.analyze: "prime à la
naissance" holds "prime de naissance"): VectorIndex.mentions, one phrase query per name, on the whole
index (any audience: the question is whether the corpus knows the name at all).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from guichet.lexical import STOPWORDS, analyze, fold
from guichet.ports.index import VectorIndex

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_ELIDED = re.compile(r"^(?:[ldjmnstc]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)
# A name of several words ("Pass Colo", "Pass'Sport") or with a capital inside ("MaPrimeAdapt'"): a
# single capitalised word is more often context than subject ("au Smic", "à Lille", "en CDD"), and a
# small partner corpus need not mention it.
_PARTS = re.compile(r"[^\W_][\s'’-]+[^\W_]")
_CAMEL = re.compile(r"[a-zà-ÿ][A-ZÀ-Ý]")
_SENTENCE_END = re.compile(r"[.?!:;]\s*$")
# Nothing but spaces, apostrophes or hyphens between two words, or an elided "d'" ("prime d'activité").
_JOINED = re.compile(r"^[\s'’-]*(?:[dD]['’])?$")
_SCHEME_NOUNS_TEXT = """
    prime primes indemnite indemnites bonus pass cheque cheques aide aides allocation allocations
    prestation prestations forfait pret prets credit carte cartes contrat conge garantie complement
    revenu dispositif plan
"""
SCHEME_NOUNS = frozenset(_SCHEME_NOUNS_TEXT.split())
_LINKS = frozenset({"de", "d", "du", "des"})
# Verbs that follow a scheme noun in questions ("quelle aide existe ?"): not qualifiers.
_VERBS = frozenset({"existe", "existent", "peut", "peuvent", "doit", "doivent", "faut", "coute", "concerne"})


def _words(question: str) -> list[tuple[str, int, int]]:
    """(word, start, end), elided articles cut off ("l'indemnité" -> "indemnité"; "Pass'Sport" kept)."""
    out = []
    for match in _WORD.finditer(question):
        word, start = match.group(), match.start()
        if elided := _ELIDED.match(word):
            word, start = word[elided.end() :], start + elided.end()
        out.append((word, start, match.end()))
    return out


def _joined(question: str, words: Sequence[tuple[str, int, int]], i: int, j: int) -> bool:
    return all(_JOINED.match(question[words[k][2] : words[k + 1][1]]) for k in range(i, j))


def _is_function_word(word: str) -> bool:
    return fold(word) in STOPWORDS


def capitalised_names(question: str) -> list[str]:
    words, names, i = _words(question), [], 0
    while i < len(words):
        word, start, _ = words[i]
        opens_sentence = i == 0 or bool(_SENTENCE_END.search(question[:start]))
        if not word[0].isupper() or opens_sentence:
            i += 1
            continue
        # "Mon soutien psy" opens on a function word; "permis D arrive" does not (one letter: a category).
        function_opened, j = len(word) > 1 and _is_function_word(word), i + 1
        while j < len(words) and _joined(question, words, j - 1, j):
            following = words[j][0]
            if _is_function_word(following) if function_opened else not following[0].isupper():
                break
            j += 1
        name = question[start : words[j - 1][2]]
        if _PARTS.search(name) or _CAMEL.search(name):
            names.append(name)
        i = j
    return names


def scheme_phrases(question: str) -> list[str]:
    words, phrases = _words(question), []
    for i, (word, start, _) in enumerate(words):
        if fold(word) not in SCHEME_NOUNS:
            continue
        j = i + 1
        while j < len(words) and fold(words[j][0]) in _LINKS:
            j += 1
        # "prime de partage", "prime d'activité": only "de" between the words, no punctuation.
        if j == len(words) or not _joined(question, words, i, j):
            continue
        qualifier = words[j][0]
        if not _is_function_word(qualifier) and fold(qualifier) not in _VERBS and not qualifier.isdigit():
            phrases.append(question[start : words[j][2]])
    return phrases


def named_things(question: str) -> list[str]:
    """The names a question uses, as written, each once; those too short to judge ("permis B") left out."""
    found = dict.fromkeys(capitalised_names(question) + scheme_phrases(question))
    return [name for name in found if any(len(term) > 2 for term in analyze(name))]


def unknown_names(question: str, index: VectorIndex) -> tuple[str, ...]:
    """The names of the question no passage of the index contains."""
    return tuple(name for name in named_things(question) if not index.mentions(name))
