"""The simulated answer: deterministic French filler, one word per token, citing [1].

No number, amount, URL or phone number: guichet's guard removes facts its sources do not hold, and the
load tests must measure the generation path, not the guard's rewriting.
"""

from __future__ import annotations

from functools import cache

SENTENCES = (
    "Vous pouvez faire cette démarche en ligne sur le site officiel ou au guichet de votre mairie [1].",
    "Préparez les justificatifs demandés avant le rendez-vous, en particulier une pièce d'identité [1].",
    "Le conseiller France services peut vous accompagner pas à pas pour remplir le formulaire [1].",
    "Si votre situation change, signalez-le rapidement à l'organisme concerné pour éviter un retard [1].",
    "Gardez une copie de chaque document envoyé et notez la date de votre demande [1].",
)


@cache
def _words() -> tuple[str, ...]:
    return tuple(" ".join(SENTENCES).split(" "))


def token_text(index: int) -> str:
    """The text of output token `index` (0-based): a word and the space that follows it."""
    words = _words()
    return words[index % len(words)] + " "


def tokens_text(start: int, end: int) -> str:
    return "".join(token_text(i) for i in range(start, end))


def natural_length(wanted: int) -> int:
    """The token count of the shortest answer of whole sentences with at least `wanted` tokens."""
    words = _words()
    count = max(1, wanted)
    while not words[(count - 1) % len(words)].endswith("."):
        count += 1
    return count
