"""Machine-readable zones (ICAO Doc 9303): TD3 (passports, 2 x 44), TD2 (2 x 36) and TD1
(ID cards, 3 x 30).

Parsing validates every check digit and says which one failed. A document number longer
than nine characters is read as ICAO writes it: a `<` where its check digit would be, the
rest of the number and then its check digit at the start of the optional data field.

Check digits cover the numbers and dates, not the letters: an OCR engine that reads `0` for
`O` in a name or a country code, or `L` for `1` in a document number (both weigh the same
modulo 10), passes every check digit. So each field is held to its character set (digits
only in dates and check digits, letters only in names, codes and the document type), and a
character read outside it is repaired and recorded: a repair in a field a check digit covers
is proven when that digit then holds; a repair anywhere else is not, and the caller must not
trust it without a person (`MrzResult.unproven_repairs`).
"""

import re
from dataclasses import dataclass, field
from datetime import date

from . import icao

FILLER = "<"
WEIGHTS = (7, 3, 1)
_DIGIT_FIXES = str.maketrans(
    {
        "O": "0",
        "Q": "0",
        "D": "0",
        "I": "1",
        "L": "1",
        "Z": "2",
        "S": "5",
        "B": "8",
        "G": "6",
        "T": "7",
    }
)
_LETTER_FIXES = str.maketrans({"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B"})
# A digit in a country code can stand for more than one letter; the code list decides.
_CODE_CANDIDATES = {"0": "ODQ", "1": "IL", "2": "Z", "5": "S", "6": "G", "8": "B"}
SEXES = {"M", "F", "X", FILLER}
LENGTHS = {"TD1": (3, 30), "TD2": (2, 36), "TD3": (2, 44)}
# Line lengths OCR output is tried in each format with (fillers read too many or too few).
_READ_LENGTHS = {"TD1": range(28, 39), "TD2": range(33, 40), "TD3": range(40, 49)}


def char_value(ch: str) -> int:
    if ch.isdigit():
        return int(ch)
    if "A" <= ch <= "Z":
        return ord(ch) - 55  # A=10 ... Z=35
    if ch == FILLER:
        return 0
    raise ValueError(f"not an MRZ character: {ch!r}")


def check_digit(data: str) -> str:
    return str(sum(char_value(c) * WEIGHTS[i % 3] for i, c in enumerate(data)) % 10)


@dataclass
class Repair:
    """A character read outside its field's set and what it was taken for."""

    field: str
    read: str
    repaired: str
    proven: bool = False  # a check digit covering the field holds after the repair

    def describe(self) -> str:
        how = "proven by its check digit" if self.proven else "not covered by a check digit"
        return f"{self.field} read {self.read!r}, taken as {self.repaired!r} ({how})"


@dataclass
class MrzResult:
    format: str  # "TD1", "TD2" or "TD3"
    document_type: str
    issuing_country: str
    surname: str
    given_names: str
    document_number: str
    nationality: str
    birth_date: date | None
    sex: str
    expiry_date: date | None
    lines: list[str]
    failed_checks: list[str] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # characters that fit no repair

    @property
    def valid(self) -> bool:
        return (
            not self.failed_checks and self.birth_date is not None and self.expiry_date is not None
        )

    @property
    def unproven_repairs(self) -> list[Repair]:
        return [r for r in self.repairs if not r.proven]

    def rank(self) -> tuple:
        """Lower is better: valid first, then the fewest unproven repairs and problems."""
        return (
            not self.valid,
            len(self.failed_checks),
            len(self.unproven_repairs) + len(self.problems),
        )


def _yymmdd(value: str, *, expiry: bool, today: date | None = None) -> date | None:
    if not re.fullmatch(r"\d{6}", value):
        return None
    today = today or date.today()
    yy, mm, dd = int(value[:2]), int(value[2:4]), int(value[4:])
    # An expiry is after 1970; a birth date is in the past.
    past = 2000 + yy <= today.year
    century = (2000 if yy < 70 else 1900) if expiry else (2000 if past else 1900)
    try:
        return date(century + yy, mm, dd)
    except ValueError:
        return None


def clean_lines(text: str) -> list[str]:
    """MRZ lines from OCR text: repaired fillers, upper case, only lines that look like MRZ."""
    out = []
    for raw in text.upper().splitlines():
        line = raw.strip().replace(" ", "")
        line = re.sub(r"[«(\[{]", FILLER, line)
        line = re.sub(r"(?<=<)K|K(?=<)", FILLER, line)  # K for < next to fillers
        line = re.sub(r"[^A-Z0-9<]", "", line)
        if len(line) >= 25 and line.count(FILLER) >= 2:
            out.append(line)
    return out


def _fit(line: str, length: int) -> str:
    return (line + FILLER * length)[:length]


def _empty_optional_data_fixed(line: str, head: int, fillers: int) -> str:
    """An empty optional-data field before the final composite digit (TD3 line 2: the personal
    number, 15 fillers after position 28; TD2 line 2: 7 after 28; TD1 line 2: 11 after 18).
    OCR often reads that run with a wrong count or a `K` in it; rebuild it when it holds
    nothing but fillers, so the composite digit stays the last character (the composite
    digit covers the field, so this proves itself)."""
    start, middle, last = line[:head], line[head:-1], line[-1:]
    if len(line) > head and middle and set(middle) <= {FILLER, "K"}:
        return start + FILLER * fillers + last
    return _fit(line, head + fillers + 1)


def _name_padding_fixed(prefix: str, line: str, length: int) -> str:
    """A name field ends at the first `<<` after the given names (no name part may follow
    it); whatever OCR made of the filler run after it (K, S, E, fewer or more `<`) is
    padding."""
    head, body = line[: len(prefix)], line[len(prefix) :]
    surname, sep, rest = body.partition("<<")
    if not sep:
        return _fit(line, length)
    given, _sep2, _padding = rest.partition("<<")
    return _fit(head + surname + "<<" + given, length)


def _groups(lines: list[str]):
    """(format, consecutive lines) whose lengths fit a format, the last ones first."""
    for fmt, (count, _length) in LENGTHS.items():
        fits = [len(ln) in _READ_LENGTHS[fmt] for ln in lines]
        for i in range(len(lines) - count, -1, -1):
            if all(fits[i : i + count]):
                yield fmt, lines[i : i + count]


def parse(lines: list[str], today: date | None = None) -> MrzResult | None:
    """Parse TD1, TD2 or TD3 lines (as from clean_lines): the reading of the consecutive
    lines that fit a format best (check digits first). None if none fits."""
    best = None
    for fmt, group in _groups(lines):
        if fmt == "TD1":
            result = _parse_td1(
                _fit(group[0], 30),
                _empty_optional_data_fixed(group[1], 18, 11),
                _name_padding_fixed("", group[2], 30),
                today,
            )
        else:
            length = LENGTHS[fmt][1]
            result = _parse_long(
                fmt,
                _name_padding_fixed(group[0][:5], group[0], length),
                _empty_optional_data_fixed(group[1], 28, length - 29),
                today,
            )
        if best is None or result.rank() < best.rank():
            best = result
    return best


class _Reader:
    """Fields of one MRZ, each held to its character set; repairs and failures recorded."""

    def __init__(self):
        self.failed: list[str] = []
        self.repairs: list[Repair] = []
        self.problems: list[str] = []
        self._covered: dict[str, str] = {}  # repaired field -> the check that covers it

    def digits(self, name: str, value: str, check: str) -> str:
        fixed = value.translate(_DIGIT_FIXES)
        if fixed != value:
            self.repairs.append(Repair(name, value, fixed))
            self._covered[name] = check
        if not re.fullmatch(r"[0-9<]*", fixed):
            self.problems.append(f"{name} {value!r} holds characters other than digits")
        return fixed

    def check_digit(self, name: str, value: str, check: str) -> str:
        return value if value == FILLER else self.digits(f"{name} check digit", value, check)

    def letters(self, name: str, value: str) -> str:
        fixed = value.translate(_LETTER_FIXES)
        if fixed != value:
            self.repairs.append(Repair(name, value.rstrip(FILLER), fixed.rstrip(FILLER)))
        if not re.fullmatch(r"[A-Z<]*", fixed):
            self.problems.append(f"{name} {value!r} holds digits where only letters may stand")
        return fixed

    def code(self, name: str, value: str) -> str:
        """A nationality or issuing-state code: a digit is repaired only when exactly one
        of the letters it may stand for makes a code a document can carry."""
        code = value.replace(FILLER, "")
        options = [""]
        for ch in code:
            options = [o + c for o in options for c in _CODE_CANDIDATES.get(ch, ch)]
        known = [o for o in options if icao.is_known(o)]
        if code != options[0] or len(options) > 1:
            if len(known) == 1:
                self.repairs.append(Repair(name, code, known[0]))
                return known[0]
            self.problems.append(f"{name} {code!r} holds digits where only letters may stand")
            return code
        if code and not known:
            self.problems.append(f"{name} {code!r} is not a known country code")
        return code

    def sex(self, value: str) -> str:
        if value not in SEXES:
            self.problems.append(f"sex {value!r} is none of M, F, X or <")
        return value

    def check(self, name: str, data: str, digit: str):
        if digit == FILLER and set(data) <= {FILLER}:
            return
        if not re.fullmatch(r"[0-9A-Z<]*", data + digit) or check_digit(data) != digit:
            self.failed.append(name)

    def finish(self) -> tuple[list[str], list[Repair], list[str]]:
        for repair in self.repairs:
            check = self._covered.get(repair.field)
            repair.proven = (
                check is not None and check not in self.failed and "composite" not in self.failed
            )
        return self.failed, self.repairs, self.problems


def _names(reader: _Reader, field_: str) -> tuple[str, str]:
    surname, _, given = reader.letters("name", field_).partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


def _document_number(reader: _Reader, number: str, digit: str, optional: str):
    """(number, its check digit, the ten characters as the composite sees them): a number
    longer than nine characters continues in the optional field, its check digit last."""
    if digit == FILLER and optional[:1] not in ("", FILLER):
        rest = optional.split(FILLER, 1)[0]
        check = reader.check_digit("document number", rest[-1:], "document number")
        return number + rest[:-1], check, number + FILLER
    check = reader.check_digit("document number", digit, "document number")
    return number, check, number + check


def _parse_long(fmt: str, l1: str, l2: str, today) -> MrzResult:
    """TD3 (2 x 44) and TD2 (2 x 36): the same second line but for the optional field."""
    reader = _Reader()
    kind = reader.letters("document type", l1[0:2])
    issuing = reader.code("issuing state", l1[2:5])
    surname, given = _names(reader, l1[5:])
    optional = l2[28:42] if fmt == "TD3" else l2[28:35]
    number, number_cd, first10 = _document_number(reader, l2[0:9], l2[9], optional)
    birth = reader.digits("date of birth", l2[13:19], "date of birth")
    birth_cd = reader.check_digit("date of birth", l2[19], "date of birth")
    expiry = reader.digits("expiry date", l2[21:27], "expiry date")
    expiry_cd = reader.check_digit("expiry date", l2[27], "expiry date")
    composite_cd = reader.check_digit("composite", l2[-1], "composite")
    reader.check("document number", number, number_cd)
    reader.check("date of birth", birth, birth_cd)
    reader.check("expiry date", expiry, expiry_cd)
    head = first10 + birth + birth_cd + expiry + expiry_cd
    if fmt == "TD3":
        personal = l2[28:42]
        personal_cd = reader.check_digit("personal number", l2[42], "personal number")
        reader.check("personal number", personal, personal_cd)
        reader.check("composite", head + personal + personal_cd, composite_cd)
    else:
        reader.check("composite", head + optional, composite_cd)
    nationality = reader.code("nationality", l2[10:13])
    sex = reader.sex(l2[20])
    failed, repairs, problems = reader.finish()
    return MrzResult(
        fmt,
        kind.replace(FILLER, ""),
        issuing,
        surname,
        given,
        number.replace(FILLER, ""),
        nationality,
        _yymmdd(birth, expiry=False, today=today),
        sex,
        _yymmdd(expiry, expiry=True, today=today),
        [l1, l2],
        failed,
        repairs,
        problems,
    )


def _parse_td1(l1: str, l2: str, l3: str, today) -> MrzResult:
    reader = _Reader()
    kind = reader.letters("document type", l1[0:2])
    issuing = reader.code("issuing state", l1[2:5])
    number, number_cd, first10 = _document_number(reader, l1[5:14], l1[14], l1[15:30])
    birth = reader.digits("date of birth", l2[0:6], "date of birth")
    birth_cd = reader.check_digit("date of birth", l2[6], "date of birth")
    expiry = reader.digits("expiry date", l2[8:14], "expiry date")
    expiry_cd = reader.check_digit("expiry date", l2[14], "expiry date")
    optional2 = l2[18:29]
    composite_cd = reader.check_digit("composite", l2[29], "composite")
    reader.check("document number", number, number_cd)
    reader.check("date of birth", birth, birth_cd)
    reader.check("expiry date", expiry, expiry_cd)
    composite = first10 + l1[15:30] + birth + birth_cd + expiry + expiry_cd + optional2
    reader.check("composite", composite, composite_cd)
    nationality = reader.code("nationality", l2[15:18])
    sex = reader.sex(l2[7])
    surname, given = _names(reader, l3)
    failed, repairs, problems = reader.finish()
    return MrzResult(
        "TD1",
        kind.replace(FILLER, ""),
        issuing,
        surname,
        given,
        number.replace(FILLER, ""),
        nationality,
        _yymmdd(birth, expiry=False, today=today),
        sex,
        _yymmdd(expiry, expiry=True, today=today),
        [l1, l2, l3],
        failed,
        repairs,
        problems,
    )


# --- Writing (for specimens and tests) -------------------------------------------------------


def _field(value: str, length: int) -> str:
    value = re.sub(r"[^A-Z0-9<]", FILLER, value.upper().replace(" ", FILLER))
    return (value + FILLER * length)[:length]


def _name_field(surname: str, given: str, length: int) -> str:
    return _field(f"{surname}<<{given}", length)


def _number_fields(number: str, optional: str, optional_length: int) -> tuple[str, str]:
    """The 10 characters of number and check digit, and the optional field: a number longer
    than nine characters as ICAO writes it (`<` for its check digit, the rest and the check
    digit first in the optional field)."""
    number = re.sub(r"[^A-Z0-9]", "", number.upper())
    if len(number) <= 9:
        num = _field(number, 9)
        return num + check_digit(num), _field(optional, optional_length)
    rest = number[9:] + check_digit(number) + FILLER
    return number[:9] + FILLER, _field(rest + optional, optional_length)


def _long_line2(fmt, number, nationality, birth: date, sex, expiry: date, personal) -> str:
    b, e = birth.strftime("%y%m%d"), expiry.strftime("%y%m%d")
    first10, optional = _number_fields(number, personal, 14 if fmt == "TD3" else 7)
    dates = b + check_digit(b) + sex + e + check_digit(e)
    if fmt == "TD3":
        per_cd = check_digit(optional) if optional.strip(FILLER) else FILLER
        optional += per_cd
    composite = first10 + b + check_digit(b) + e + check_digit(e) + optional
    return first10 + _field(nationality, 3) + dates + optional + check_digit(composite)


def make_td3(
    *,
    surname,
    given_names,
    number,
    nationality,
    birth: date,
    sex,
    expiry: date,
    issuing_country=None,
    personal="",
    document_type="P",
) -> list[str]:
    l1 = (
        _field(document_type, 2)
        + _field(issuing_country or nationality, 3)
        + _name_field(surname, given_names, 39)
    )
    return [l1, _long_line2("TD3", number, nationality, birth, sex, expiry, personal)]


def make_td2(
    *,
    surname,
    given_names,
    number,
    nationality,
    birth: date,
    sex,
    expiry: date,
    issuing_country=None,
    optional="",
    document_type="I",
) -> list[str]:
    l1 = (
        _field(document_type, 2)
        + _field(issuing_country or nationality, 3)
        + _name_field(surname, given_names, 31)
    )
    return [l1, _long_line2("TD2", number, nationality, birth, sex, expiry, optional)]


def make_td1(
    *,
    surname,
    given_names,
    number,
    nationality,
    birth: date,
    sex,
    expiry: date,
    issuing_country=None,
    document_type="I",
) -> list[str]:
    first10, optional1 = _number_fields(number, "", 15)
    l1 = _field(document_type, 2) + _field(issuing_country or nationality, 3) + first10 + optional1
    b, e = birth.strftime("%y%m%d"), expiry.strftime("%y%m%d")
    opt2 = FILLER * 11
    l2_head = b + check_digit(b) + sex + e + check_digit(e) + _field(nationality, 3) + opt2
    composite = l1[5:30] + b + check_digit(b) + e + check_digit(e) + opt2
    return [l1, l2_head + check_digit(composite), _name_field(surname, given_names, 30)]
