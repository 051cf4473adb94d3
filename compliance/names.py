"""Names as the matcher compares them: normalised tokens and their phonetic keys.

`name_tokens(text, kind)` is the one normalisation used for list names (at import, into the
candidate index) and for the names screened against them, so both sides always agree:

1. Unicode NFKC, then transliteration to ASCII (Unidecode: Cyrillic, Arabic, Greek, CJK...),
   so "Мухаммад" and "Muhammad" meet, and "Müller" is "muller";
2. lower case; apostrophes and dots inside a word are dropped ("O'Neil" -> "oneil",
   "U.S." -> "us"), every other punctuation mark separates words ("Al-Qaida" -> "al qaida");
3. honorifics and titles ("Mr", "Dr", "Sheikh", "Hajji"...) are dropped from persons' names,
   legal-form words ("LLC", "Ltd", "Corp", "GmbH", "OOO"...) from entities' names; both when the
   kind is not known.

`syllabic(tokens)`: a name written as single syllables, as Chinese, Korean and Vietnamese names
are in Latin letters ("Wang Guo Ying", "Kim Jong Un", "Nguyen Van Minh"): every token one
vowel group between the consonants these romanisations begin and end a syllable with.

A name in Hangul is read syllable by syllable in the Revised Romanization ("김정은" ->
"gim jeong eun"); `korean_key` folds what the older romanisation lists use writes otherwise
("Kim Jong Un").

`phonetic(token)` is the token's Metaphone key (jellyfish), so "Mohammed", "Muhammad" and
"Mohamad" share a key, taken after folding transliteration variants ("kh"/"h", "dzh"/"j");
digits are kept as they are.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import jellyfish
from unidecode import unidecode

HONORIFICS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "dame",
        "lord",
        "lady",
        "rev",
        "fr",
        "sheikh",
        "shaikh",
        "shaykh",
        "sheik",
        "hajji",
        "haji",
        "hajj",
        "mullah",
        "maulana",
        "maulvi",
        "mawlawi",
        "imam",
        "general",
        "gen",
        "col",
        "colonel",
        "maj",
        "major",
        "capt",
        "captain",
        "lt",
        "lieutenant",
        "brig",
        "brigadier",
        "admiral",
        "adm",
        "sgt",
        "commander",
        "cmdr",
        "president",
        "minister",
        "jr",
        "sr",
    ]
)
LEGAL_FORMS = frozenset(
    [
        "llc",
        "ltd",
        "limited",
        "corp",
        "corporation",
        "inc",
        "incorporated",
        "co",
        "company",
        "plc",
        "llp",
        "lp",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "oy",
        "ab",
        "as",
        "asa",
        "aps",
        "kft",
        "zrt",
        "sp",
        "zoo",
        "ooo",
        "oao",
        "zao",
        "pao",
        "jsc",
        "ojsc",
        "cjsc",
        "pjsc",
        "fze",
        "fzc",
        "fzco",
        "fzllc",
        "dmcc",
        "est",
        "establishment",
        "pte",
        "pty",
        "bhd",
        "sdn",
        "tbk",
        "sae",
        "cv",
        "de",
    ]
)
# Kinds that are not persons: their names lose legal-form words, not honorifics.
NON_PERSON = frozenset({"entity", "vessel", "aircraft"})

_INWORD = re.compile(r"(?<=\w)['’`´.](?=\w)")
_SPLIT = re.compile(r"[^a-z0-9]+")


# Hangul syllables read in the Revised Romanization, one word each (Unidecode runs a name's
# syllables together, in a scheme of its own): "김정은" -> "gim jeong eun".
_HANGUL = re.compile("[\uac00-\ud7a3]")
_INITIALS = [
    "g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p",
    "h",
]  # fmt: skip
_VOWELS = [
    "a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we",
    "wi", "yu", "eu", "ui", "i",
]  # fmt: skip
_FINALS = [
    "", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p",
    "t", "t", "ng", "t", "t", "k", "t", "p", "t",
]  # fmt: skip


def _hangul(match: re.Match) -> str:
    code = ord(match.group()) - 0xAC00
    initial, vowel, final = code // 588, code % 588 // 28, code % 28
    return f" {_INITIALS[initial]}{_VOWELS[vowel]}{_FINALS[final]} "


def ascii_fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return unidecode(_HANGUL.sub(_hangul, text))


def in_hangul(text: str) -> bool:
    return bool(_HANGUL.search(text or ""))


# What the Revised Romanization (how Hangul is read here) writes otherwise than the older
# McCune-Reischauer spellings lists use for Korean names ("Gim Jeong Eun" for "Kim Jong Un",
# "Byeong Cheol" for "Pyong Chol"): initial consonants voiced or not, "eo" and "eu" for "o" and
# "u". Folded into one key, and spelt out as the variants a list may carry.
_KOREAN_VOWELS = [("yeo", "yo"), ("eo", "o"), ("eu", "u")]
_KOREAN_INITIALS = [("g", "k"), ("b", "p"), ("d", "t"), ("j", "ch")]


@lru_cache(maxsize=100_000)
def korean_key(token: str) -> str:
    """A Korean syllable with the romanisations' differences folded."""
    for written, folded in _KOREAN_VOWELS:
        token = token.replace(written, folded)
    for written, folded in _KOREAN_INITIALS:
        if token.startswith(written):
            return folded + token[len(written) :]
    return token


def korean_variants(token: str) -> set[str]:
    """The spellings of a Korean syllable read from Hangul a list may write (the Revised
    Romanization's and the older one's, and their mixes): at most a few."""
    vowels = {token}
    for written, folded in _KOREAN_VOWELS:
        vowels |= {v.replace(written, folded) for v in vowels}
    out = set(vowels)
    for written, other in _KOREAN_INITIALS:
        out |= {other + v[len(written) :] for v in vowels if v.startswith(written)}
    return out


def name_tokens(text: str, kind: str | None = None) -> list[str]:
    """The normalised tokens of a name, in order (see the module docstring)."""
    folded = _INWORD.sub("", ascii_fold(text).lower())
    tokens = [t for t in _SPLIT.split(folded) if t]
    if kind in NON_PERSON:
        drop = LEGAL_FORMS
    elif kind == "person":
        drop = HONORIFICS
    else:
        drop = HONORIFICS | LEGAL_FORMS
    kept = [t for t in tokens if t not in drop]
    return kept or tokens  # a name made only of such words keeps them


def normalise(text: str, kind: str | None = None) -> str:
    return " ".join(name_tokens(text, kind))


# Spellings that transliterations from Cyrillic, Arabic, Persian and Chinese give the same
# sound ("Dzhamil" / "Jamil", "Khasan" / "Hasan", "Iusuf" / "Yusuf", "Vang" / "Wang"), folded
# in this order into a token's spelling key.
_SOUNDS = [
    ("dzh", "j"),
    ("dj", "j"),
    ("kh", "h"),
    ("zh", "j"),
    ("iu", "yu"),
    ("ia", "ya"),
    ("w", "v"),
    ("q", "k"),
    ("x", "ks"),
    ("ck", "k"),
    ("c", "k"),
    ("y", "i"),
    ("ee", "i"),
    ("oo", "u"),
]


@lru_cache(maxsize=200_000)
def spelling_key(token: str) -> str:
    """The token with transliteration variants folded: equal keys are the same name written
    through another alphabet."""
    for written, sound in _SOUNDS:
        token = token.replace(written, sound)
    return token


@lru_cache(maxsize=200_000)
def phonetic(token: str) -> str:
    if not token.isalpha():
        return token
    return jellyfish.metaphone(spelling_key(token)).lower() or token


# One syllable as pinyin, Korean and Vietnamese romanisations write it: an initial consonant
# (or none), one vowel group, a final nasal or stop (or none).
_SYLLABLE = re.compile(
    r"^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|zh|sh|[bcdfghjklmnpqrstvwxyz])?"
    r"[aeiouy]{1,3}(?:ng|nh|ch|[cklmnpt])?$"
)


@lru_cache(maxsize=200_000)
def is_syllable(token: str) -> bool:
    return bool(_SYLLABLE.match(token))


def syllabic(tokens: list[str]) -> bool:
    """A name of two tokens or more, each a single syllable (see the module docstring)."""
    return len(tokens) >= 2 and all(is_syllable(t) for t in tokens)


# Chinese characters, Japanese kana and Korean hangul: scripts that write every syllable.
_CHARACTERS = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
)


def in_characters(text: str) -> bool:
    """Written in Chinese, Japanese or Korean characters, in which each syllable of a name is
    a character of its own: none is left out the way a middle name is in Latin letters."""
    return bool(_CHARACTERS.search(text or ""))
