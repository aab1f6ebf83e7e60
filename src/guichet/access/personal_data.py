"""French personal identifiers in free text: found, typed, and replaced by placeholders.

Advisors type the citizen's situation; what identifies the citizen is never needed to answer a question
about rights. mask() replaces, before the text goes anywhere (queue, record, prompt, logs):
NIR (checked key, Corsica 2A/2B), phone numbers, e-mails, IBANs (checked mod 97), postal addresses,
dates of birth introduced as such, and names introduced as such (civility, "s'appelle", "nom :").
Numbers that merely look alike (cerfa, fiche ids, amounts, articles, SIRET) are left alone: identifiers
are recognised by structure and checksum, or by what introduces them. docs/decisions/0014.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

NIR = "NIR"
PHONE = "TÉLÉPHONE"
EMAIL = "EMAIL"
IBAN = "IBAN"
ADDRESS = "ADRESSE"
BIRTH_DATE = "DATE_NAISSANCE"
NAME = "NOM"
KINDS = (EMAIL, IBAN, NIR, PHONE, BIRTH_DATE, ADDRESS, NAME)  # priority order when spans overlap


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


def placeholder(kind: str) -> str:
    return f"[{kind}]"


UPPER = "A-ZÉÈÊËÀÂÄÎÏÔÖÛÜÇŒ"
CAP_WORD = rf"[{UPPER}][\w'’-]*"
# Words that end a name or an address typed in lower case ("12 rue victor hugo depuis 2019").
STOP_WORDS = frozenset(
    """à a au aux avec car chez dans de depuis des du elle elles en est et il ils je la le les leur
    lui mais mon ma mes ni nous on ou où par pour qui que quand sa sans se ses son sont sur tu un une
    vous vit habite a-t-il a-t-elle était avait doit veut souhaite voudrait peut depuis cette ce ces
    suis es sommes êtes ont va vont né née nés nées""".split()  # noqa: SIM905 (a list of 80 quoted words reads worse)
)
ELISIONS = frozenset({"d'", "l'", "d’", "l’"})
TITLE_ARTICLES = frozenset({"le", "la", "les"})
PARTICLES = frozenset({"de", "du", "des", "la", "le", "les", "van", "von", "di", "da"}) | ELISIONS
# Capitalised words that follow "nommé", "épouse"... without being a person's name.
NOT_NAMES = frozenset(
    """CAF CPAM MSA ANTS URSSAF UDAF MDPH CCAS CNAV CARSAT OFII France Pôle Madame Monsieur Mademoiselle
    M Mme Mlle Mr MM Me""".split()  # noqa: SIM905
)


def mask(text: str) -> str:
    """text with every personal identifier replaced by its placeholder ("[NIR]", "[NOM]"...)."""
    spans = find(text)
    if not spans:
        return text
    out, last = [], 0
    for span in spans:
        out.append(text[last : span.start])
        out.append(replacement(span, text[span.start : span.end]))
        last = span.end
    out.append(text[last:])
    return "".join(out)


_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)$")


def replacement(span: Span, value: str) -> str:
    """The placeholder; a date of birth keeps its year, which rights depend on (retirement age by
    generation, children's ages) and which alone identifies nobody: "[DATE_NAISSANCE] (année 1985)"."""
    year = _YEAR.search(value) if span.kind == BIRTH_DATE else None
    return f"{placeholder(span.kind)} (année {year.group(1)})" if year else placeholder(span.kind)


def find(text: str) -> list[Span]:
    """Non-overlapping spans in text order; on overlap the earlier kind of KINDS wins, then the longer."""
    found = [span for finder in FINDERS for span in finder(text)]
    rank = {kind: i for i, kind in enumerate(KINDS)}
    found.sort(key=lambda s: (rank[s.kind], -(s.end - s.start), s.start))
    kept: list[Span] = []
    for span in found:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def _context_before(text: str, start: int, pattern: re.Pattern[str], width: int = 40) -> bool:
    return bool(pattern.search(text[max(0, start - width) : start]))


# --- NIR: sex, year, month, department (2A/2B in Corsica), commune, order, key = 97 - (number mod 97).
_NIR = re.compile(
    r"(?<![\w+])([1-478])[ .]?(\d{2})[ .]?(\d{2})[ .]?(\d{2}|2[AB])[ .]?(\d{3})[ .]?(\d{3})"
    r"(?:[ .]?(\d{2}))?(?![\w])",
    re.IGNORECASE,
)
_NIR_CONTEXT = re.compile(r"s[ée]cu|nir\b|insee|immatriculation|s[ée]curit[ée] sociale", re.IGNORECASE)


def nir_key_valid(digits13: str, key: str) -> bool:
    dept = digits13[5:7].upper()
    number = digits13[:5] + {"2A": "19", "2B": "18"}.get(dept, dept) + digits13[7:]
    return number.isdigit() and int(key) == 97 - int(number) % 97


def _find_nir(text: str) -> Iterator[Span]:
    for m in _NIR.finditer(text):
        digits13, key = "".join(m.groups()[:6]), m.group(7)
        checked = key is not None and nir_key_valid(digits13, key)
        # A mistyped or keyless NIR is still one when the text says so, or when it is written grouped
        # as on the carte Vitale (1 52 07 13 055 004): no other French number is.
        grouped = sum(1 for c in m.group() if c in " .") >= 5
        if checked or grouped or _context_before(text, m.start(), _NIR_CONTEXT):
            yield Span(m.start(), m.end(), NIR)


# --- Phone numbers: 0X XX XX XX XX, +33 X…, 0033 X…, +33 (0)X…; never inside a longer run of digits.
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d[ .-])(?:(?:\+|00)33[ .-]?(?:\(0\)[ .-]?)?|0)[1-9](?:[ .-]?\d{2}){4}(?![\w])(?![ .-]\d)"
)


def _find_phone(text: str) -> Iterator[Span]:
    for m in _PHONE.finditer(text):
        yield Span(m.start(), m.end(), PHONE)


_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w])")


def _find_email(text: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        yield Span(m.start(), m.end(), EMAIL)


# --- IBAN: country, check digits, groups of 4 (spaces optional); valid when mod 97 == 1.
_IBAN = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w])")
_IBAN_CONTEXT = re.compile(r"iban|rib\b|bic|compte bancaire", re.IGNORECASE)


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rotated = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rotated)) % 97 == 1


def _find_iban(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        candidate = m.group()
        # The last groups may be an unrelated upper-case word: the longest valid prefix is the IBAN.
        for end in _group_ends(candidate):
            if iban_valid(candidate[:end]):
                yield Span(m.start(), m.start() + end, IBAN)
                break
        else:
            if _context_before(text, m.start(), _IBAN_CONTEXT):
                yield Span(m.start(), m.end(), IBAN)


def _group_ends(candidate: str) -> list[int]:
    ends = [i for i, c in enumerate(candidate) if c == " "] + [len(candidate)]
    return sorted(ends, reverse=True)


# --- Dates of birth, only when introduced as such (a deadline or an appointment is not personal).
_MONTHS = (
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre"
    "|décembre|decembre"
)
_DATE = (
    rf"\d{{1,2}}(?:er)?\s?[/.-]\s?\d{{1,2}}\s?[/.-]\s?\d{{2,4}}|\d{{1,2}}(?:er)?\s+(?:{_MONTHS})\s+\d{{4}}"
)
_BIRTH = re.compile(
    rf"(?<!\w)(?:n[ée]e?s?(?:\(e\))?\s+le|date\s+de\s+naissance\b[^\d\n]{{0,30}}?|DDN\s*:?|naissance\s*:)"
    rf"\s*(?P<date>{_DATE})(?!\d)",
    re.IGNORECASE,
)


def _find_birth_date(text: str) -> Iterator[Span]:
    for m in _BIRTH.finditer(text):
        yield Span(m.start("date"), m.end("date"), BIRTH_DATE)


# --- Postal addresses: number + street type + name (+ postal code and city); or postal code + city.
_STREET_TYPES = (
    r"rue|avenue|av\.|bd|boulevard|place|pl\.|all[ée]e|impasse|chemin|route|rte|quai|cours|square|passage"
    r"|r[ée]sidence|lotissement|lieu-dit|cit[ée]|faubourg|fbg|villa|hameau|sentier|voie|rond-point"
    r"|esplanade|promenade|parvis|traverse|mont[ée]e|ruelle|chauss[ée]e|clos|domaine"
)
_STREET = re.compile(
    rf"(?<![\w°*])\d{{1,4}}(?:\s?(?:bis|ter|quater|[a-d])\b)?,?\s+(?P<type>{_STREET_TYPES})(?=[\s,])",
    re.IGNORECASE,
)
# After these, a street name typed in lower case is still a street name; after the others ("3 cours de
# français", "2 place en crèche"), only a capitalised name is.
_STRONG_TYPES = re.compile(
    r"rue|avenue|bd|boulevard|all[ée]e|impasse|chemin|quai|faubourg|lotissement|lieu-dit|r[ée]sidence",
    re.IGNORECASE,
)
_WORD = re.compile(r"\s+([\w'’.-]+)")
_CITY = (
    rf"{CAP_WORD}(?:[ -](?:(?:sur|sous|en|lès|les|le|la|de|du|des|d'|l')[ -])*{CAP_WORD})*"
    r"(?:\s+(?:CEDEX|Cedex)(?:\s\d{1,2})?)?"
)
_POSTCODE = r"(?:0[1-9]|[1-8]\d|9[0-8]|2[AB])\s?\d{3}"
_POSTCODE_CITY = re.compile(rf"(?<![\w°*/.-]){_POSTCODE}(?![\w*/])\s+(?P<city>{_CITY})")
_AFTER_STREET = re.compile(rf",?\s*(?:{_POSTCODE})(?![\w*/])\s+{_CITY}")
_POSTCODE_SAID = re.compile(rf"code\s+postal\s*(?::|est)?\s*(?P<code>{_POSTCODE})(?!\w)", re.IGNORECASE)
_NOT_CITIES = frozenset({"Euros", "EUR", "Habitants", "Personnes", "Foyers", "Dossiers"})


def _find_address(text: str) -> Iterator[Span]:
    for m in _STREET.finditer(text):
        lower_ok = bool(_STRONG_TYPES.fullmatch(m.group("type")))
        end = _words_end(text, m.end(), limit=4, lower_ok=lower_ok)
        if end == m.end():
            continue
        after = _AFTER_STREET.match(text, end)
        yield Span(m.start(), after.end() if after else end, ADDRESS)
    for m in _POSTCODE_CITY.finditer(text):
        if m.group("city").split()[0] not in _NOT_CITIES:
            yield Span(m.start(), m.end(), ADDRESS)
    for m in _POSTCODE_SAID.finditer(text):
        yield Span(m.start("code"), m.end("code"), ADDRESS)


def _words_end(text: str, pos: int, *, limit: int, lower_ok: bool, civility: bool = False) -> int:
    """End of the run of name words at pos (particles inside, never at the end); pos if there is none."""
    end = cursor = pos
    words = 0
    while words < limit:
        m = _WORD.match(text, cursor)
        if m is None:
            break
        raw = m.group(1)
        word = raw.rstrip(".")
        # After a civility, "le"/"la" make a title ("Madame la Maire"), not a name ("M. Le Gall").
        if word.lower() in PARTICLES and not (civility and word in TITLE_ARTICLES):
            cursor = m.end()  # kept only if a name word follows
            continue
        if not _name_word(word, lower_ok=lower_ok):
            break
        end = cursor = m.start(1) + len(word)
        words += 1
        if raw != word:  # a full stop ends the sentence
            break
    return end


def _name_word(word: str, *, lower_ok: bool) -> bool:
    if word[:2].lower() in ELISIONS:
        word = word[2:]  # d'Artagnan, l'Église
    if not word or not word[0].isalpha() or word.lower() in STOP_WORDS or word in NOT_NAMES:
        return False
    return lower_ok or word[0].isupper()


# --- Names, only when introduced as such.
_CIVILITY = re.compile(
    r"(?<![\w.])(?:M\.|Mr\.?|MM\.|Mme\.?|Mmes|Mlle\.?|Melle|Monsieur|Madame|Mademoiselle|Me|Maître"
    r"|[ée]pouse|veuve|n[ée]e|nomm[ée]e?|d[ée]nomm[ée]e?)(?=\s)"
)
_INTRODUCED = re.compile(
    r"(?<!\w)(?:s['’]appell?e|se\s+nomme|pr[ée]nomm[ée]e?"
    r"|(?:nom(?:\s+de\s+(?:famille|naissance|jeune\s+fille)|\s+d['’]usage)?|pr[ée]noms?)\s*:)",
    re.IGNORECASE,
)


# How advisors write about the person in front of them: "mon usager Jean Dupont", "son fils Lucas".
_CUE = re.compile(
    r"(?<![\w])(?:usager|usag[èe]re|client|cliente|b[ée]n[ée]ficiaire|allocataire|demandeu(?:r|se)|"
    r"(?:mon|ma|son|sa|leur|notre|votre)\s+(?:fils|fille|enfant|mari|femme|[ée]poux|[ée]pouse|"
    r"conjoint|conjointe|compagnon|compagne|p[èe]re|m[èe]re|fr[èe]re|s[œo]eur|neveu|ni[èe]ce|"
    r"petit-fils|petite-fille|voisin|voisine))(?=\s)",
    re.IGNORECASE,
)
# A given name followed by a capitalised word is a person, unless a place names itself after one.
_PLACE_BEFORE = re.compile(
    r"(?i)\b(?:rue|avenue|av\.|boulevard|bd|place|all[ée]e|quai|impasse|chemin|cours|lyc[ée]e|coll[èe]ge|"
    r"[ée]cole|h[ôo]pital|clinique|centre|gare|stade|universit[ée]|r[ée]sidence|cit[ée]|square|pont|"
    r"institut|fondation|maison|espace|salle|parc|port|a[ée]roport|saint|sainte)\s+$"
)


def _find_name(text: str) -> Iterator[Span]:
    for pattern, limit, lower_ok in ((_CIVILITY, 4, False), (_INTRODUCED, 3, True)):
        for m in pattern.finditer(text):
            end = _words_end(text, m.end(), limit=limit, lower_ok=lower_ok, civility=not lower_ok)
            first = _WORD.match(text, m.end())
            if end > m.end() and first is not None:
                yield Span(first.start(1), end, NAME)
    yield from _find_cued_name(text)
    yield from _find_given_name(text)


def _find_cued_name(text: str) -> Iterator[Span]:
    """After "usager", "mon fils"...: two capitalised words, or one known given name."""
    for m in _CUE.finditer(text):
        end = _words_end(text, m.end(), limit=3, lower_ok=False)
        first = _WORD.match(text, m.end())
        if end <= m.end() or first is None:
            continue
        words = text[first.start(1) : end].split()
        if len(words) >= 2 or words[0].rstrip(".,") in given_names():
            yield Span(first.start(1), end, NAME)


def _find_given_name(text: str) -> Iterator[Span]:
    """A known given name and the capitalised word(s) after it ("Jean Dupont a perdu sa carte")."""
    for m in _CAPITALISED.finditer(text):
        if m.group(1) not in given_names() or _PLACE_BEFORE.search(text[max(0, m.start() - 20) : m.start()]):
            continue
        end = _words_end(text, m.end(), limit=2, lower_ok=False)
        if end > m.end():
            yield Span(m.start(1), end, NAME)


_CAPITALISED = re.compile(rf"(?<![\w'’-])({CAP_WORD})(?=\s)")


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """French given names from Faker's person providers (fr_FR, fr_BE, fr_CA, fr_CH, fr_DZ, fr_QC): a
    maintained list (docs/decisions/0027). Without Faker, only the cues and civilities find names."""
    try:
        from faker.providers.person import fr_BE, fr_CA, fr_CH, fr_DZ, fr_FR, fr_QC
    except ImportError:
        return frozenset()
    names: set[str] = set()
    for module in (fr_BE, fr_CA, fr_CH, fr_DZ, fr_FR, fr_QC):
        provider = module.Provider
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            values = getattr(provider, attribute, ())
            names.update(str(n) for n in (values.keys() if isinstance(values, dict) else values))
    return frozenset(n for n in names if n and n not in NOT_NAMES and n.lower() not in STOP_WORDS)


FINDERS: tuple[Callable[[str], Iterator[Span]], ...] = (
    _find_email,
    _find_iban,
    _find_nir,
    _find_phone,
    _find_birth_date,
    _find_address,
    _find_name,
)
