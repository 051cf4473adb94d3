"""Machine-readable zones (ICAO Doc 9303): TD3 (passports, 2 x 44) and TD1 (ID cards, 3 x 30).

Parsing validates every check digit and says which one failed. OCR output is repaired first
for the confusions OCR engines make on MRZ text: `K`, `«`, `(`, spaces for the filler `<`, and
letters for digits in the numeric fields.
"""

import re
from dataclasses import dataclass, field
from datetime import date

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
        "<": "0",
    }
)


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
class MrzResult:
    format: str  # "TD3" or "TD1"
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

    @property
    def valid(self) -> bool:
        return (
            not self.failed_checks and self.birth_date is not None and self.expiry_date is not None
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


def _names(field_: str) -> tuple[str, str]:
    surname, _, given = field_.partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


def _numeric(value: str) -> str:
    return value.translate(_DIGIT_FIXES)


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
    number, 15 fillers after position 28; TD1 line 2: 11 fillers after position 18). OCR often
    reads that run with a wrong count or a `K` in it; rebuild it when it holds nothing but
    fillers, so the composite digit stays the last character."""
    start, middle, last = line[:head], line[head:-1], line[-1:]
    if len(line) > head and middle and set(middle) <= {FILLER, "K"}:
        return start + FILLER * fillers + last
    return _fit(line, head + fillers + 1)


def _name_padding_fixed(prefix: str, line: str, length: int) -> str:
    """A name field ends at the first `<<` after the given names; whatever OCR made of the
    filler run after it (K, S, E, fewer or more `<`) is padding."""
    head, body = line[: len(prefix)], line[len(prefix) :]
    surname, sep, rest = body.partition("<<")
    if not sep:
        return _fit(line, length)
    given, _sep2, _padding = rest.partition("<<")
    return _fit(head + surname + "<<" + given, length)


def parse(lines: list[str], today: date | None = None) -> MrzResult | None:
    """Parse TD3 or TD1 lines (as from clean_lines). None if they are neither."""
    td3_second = [
        i
        for i, ln in enumerate(lines)
        if len(ln) >= 40 and i > 0 and re.match(r"[A-Z0-9<]{10}[A-Z<]{3}", ln)
    ]
    if td3_second and lines[td3_second[-1] - 1].startswith("P"):
        i = td3_second[-1]
        return _parse_td3(
            _name_padding_fixed(lines[i - 1][:5], lines[i - 1], 44),
            _empty_optional_data_fixed(lines[i], 28, 15),
            today,
        )
    mid = [ln for ln in lines if 28 <= len(ln) <= 38]
    if len(mid) >= 3:
        l1, l2, l3 = mid[-3:]
        return _parse_td1(
            _fit(l1, 30),
            _empty_optional_data_fixed(l2, 18, 11),
            _name_padding_fixed("", l3, 30),
            today=today,
        )
    return None


def _check(failed, name, data, digit):
    if digit == FILLER and set(data) <= {FILLER}:
        return
    if check_digit(data) != digit:
        failed.append(name)


def _parse_td3(l1: str, l2: str, today) -> MrzResult:
    surname, given = _names(l1[5:44])
    number, number_cd = l2[0:9], _numeric(l2[9])
    birth, birth_cd = _numeric(l2[13:19]), _numeric(l2[19])
    expiry, expiry_cd = _numeric(l2[21:27]), _numeric(l2[27])
    personal, personal_cd = l2[28:42], _numeric(l2[42])
    composite_cd = _numeric(l2[43])
    failed: list[str] = []
    _check(failed, "document number", number, number_cd)
    _check(failed, "date of birth", birth, birth_cd)
    _check(failed, "expiry date", expiry, expiry_cd)
    _check(failed, "personal number", personal, personal_cd)
    composite = number + number_cd + birth + birth_cd + expiry + expiry_cd + personal + personal_cd
    _check(failed, "composite", composite, composite_cd)
    return MrzResult(
        "TD3",
        l1[0:2].replace(FILLER, ""),
        l1[2:5].replace(FILLER, ""),
        surname,
        given,
        number.replace(FILLER, ""),
        l2[10:13].replace(FILLER, ""),
        _yymmdd(birth, expiry=False, today=today),
        l2[20],
        _yymmdd(expiry, expiry=True, today=today),
        [l1, l2],
        failed,
    )


def _parse_td1(l1: str, l2: str, l3: str, today) -> MrzResult:
    number, number_cd = l1[5:14], _numeric(l1[14])
    birth, birth_cd = _numeric(l2[0:6]), _numeric(l2[6])
    expiry, expiry_cd = _numeric(l2[8:14]), _numeric(l2[14])
    optional2, composite_cd = l2[18:29], _numeric(l2[29])
    surname, given = _names(l3)
    failed: list[str] = []
    _check(failed, "document number", number, number_cd)
    _check(failed, "date of birth", birth, birth_cd)
    _check(failed, "expiry date", expiry, expiry_cd)
    composite = l1[5:30] + birth + birth_cd + expiry + expiry_cd + optional2
    _check(failed, "composite", composite, composite_cd)
    return MrzResult(
        "TD1",
        l1[0:2].replace(FILLER, ""),
        l1[2:5].replace(FILLER, ""),
        surname,
        given,
        number.replace(FILLER, ""),
        l2[15:18].replace(FILLER, ""),
        _yymmdd(birth, expiry=False, today=today),
        l2[7],
        _yymmdd(expiry, expiry=True, today=today),
        [l1, l2, l3],
        failed,
    )


# --- Writing (for specimens and tests) -------------------------------------------------------


def _field(value: str, length: int) -> str:
    value = re.sub(r"[^A-Z0-9<]", FILLER, value.upper().replace(" ", FILLER))
    return (value + FILLER * length)[:length]


def _name_field(surname: str, given: str, length: int) -> str:
    return _field(f"{surname}<<{given}", length)


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
) -> list[str]:
    l1 = "P<" + _field(issuing_country or nationality, 3) + _name_field(surname, given_names, 39)
    num, per = _field(number, 9), _field(personal, 14)
    b, e = birth.strftime("%y%m%d"), expiry.strftime("%y%m%d")
    per_cd = check_digit(per) if per.strip(FILLER) else FILLER
    body = (
        num
        + check_digit(num)
        + _field(nationality, 3)
        + b
        + check_digit(b)
        + sex
        + e
        + check_digit(e)
        + per
        + per_cd
    )
    composite = num + check_digit(num) + b + check_digit(b) + e + check_digit(e) + per + per_cd
    return [l1, body + check_digit(composite)]


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
) -> list[str]:
    num = _field(number, 9)
    l1 = "I<" + _field(issuing_country or nationality, 3) + num + check_digit(num) + FILLER * 15
    b, e = birth.strftime("%y%m%d"), expiry.strftime("%y%m%d")
    opt2 = FILLER * 11
    l2_head = b + check_digit(b) + sex + e + check_digit(e) + _field(nationality, 3) + opt2
    composite = l1[5:30] + b + check_digit(b) + e + check_digit(e) + opt2
    return [l1, l2_head + check_digit(composite), _name_field(surname, given_names, 30)]
