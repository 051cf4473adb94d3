"""The automatic KYC checks, on a case built from a submission or from loose files.

Each check returns its result, the values it compared and why it passed or failed, with a
stable flag code for the review queue (blurry, document_expired, name_mismatch, ...). The
pipeline is the same for `kyc_submission_autocheck` and `manage.py kyc_autocheck`.
"""

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from difflib import SequenceMatcher

import pycountry
from unidecode import unidecode

from . import icao, ocr, quality

IDENTITY_KINDS = {"passport", "id_card", "driving_licence"}
NAME_MATCH = 0.85
EXPIRY_MARGIN_DAYS = 30
ADULT_AGE = 18
POA_MAX_AGE_DAYS = 90


@dataclass
class Doc:
    kind: str
    data: bytes
    content_type: str
    sha256: str = ""
    side: str = "front"


@dataclass
class Case:
    first_name: str
    last_name: str
    date_of_birth: date | None
    nationality: str  # ISO alpha-2
    address_line: str = ""
    postcode: str = ""
    documents: list[Doc] = field(default_factory=list)
    questionnaire_outcome: str = ""
    risk_warning_acknowledged: bool = False
    duplicate_of: Callable[[str], str | None] = lambda sha256: None
    today: date = field(default_factory=date.today)


@dataclass
class Result:
    name: str
    passed: bool
    explanation: str
    flag: str = ""
    compared: dict = field(default_factory=dict)


def _letters(text: str) -> str:
    return re.sub(r"[^A-Z]", "", unidecode(text or "").upper())


def _document_tokens(on_document: str, wanted: set[str]) -> set[str]:
    """Name parts on the document; a part OCR glued with `K` (its reading of the `<` filler)
    is split again when that yields the registered names."""
    tokens = set()
    for token in (_letters(t) for t in re.split(r"[\s<]+", unidecode(on_document))):
        parts = token.split("K")
        if token not in wanted and len(parts) > 1 and any(p in wanted for p in parts):
            tokens.update(p for p in parts if p)
        elif token:
            tokens.add(token)
    return tokens


def name_similarity(registered: str, on_document: str) -> float:
    """Transliterated, case- and order-insensitive similarity of two full names (0-1).

    Every registered name found on the document counts as a full match (documents carry
    middle names people leave out when they register)."""
    wanted = {_letters(t) for t in unidecode(registered).split() if _letters(t)}
    if wanted and wanted <= _document_tokens(on_document, wanted):
        return 1.0
    a = sorted(wanted)
    b = sorted(_document_tokens(on_document, wanted))
    joined_a, joined_b = "".join(a), "".join(b)
    plain = SequenceMatcher(None, _letters(registered), _letters(on_document)).ratio()
    return round(max(SequenceMatcher(None, joined_a, joined_b).ratio(), plain), 3)


def _alpha2(code: str) -> str:
    """The client's registered nationality as ISO alpha-2 (the command accepts alpha-3)."""
    code = (code or "").upper()
    if len(code) == 3:
        country = pycountry.countries.get(alpha_3=code)
        return country.alpha_2 if country else code
    return code


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _identity_checks(case: Case, docs: list[Doc]) -> list[Result]:
    results: list[Result] = []
    images = [d for d in docs if d.content_type.startswith("image/")]
    if not images:
        return [
            Result(
                "identity_document",
                False,
                "The identity document must be a photo or scan (JPEG or PNG), not a PDF.",
                "unsupported_file",
            )
        ]
    problems, measured = [], {}
    mrz_result, raw = None, ""
    for doc in images:
        image = ocr.load(doc.data)
        q = quality.measure(image)
        measured[doc.side] = {
            "width": q.width,
            "height": q.height,
            "sharpness": q.sharpness,
            "brightness": q.brightness,
            "clipped": q.clipped,
        }
        problems += [f"{doc.side}: {p}" for p in q.problems]
        if mrz_result is None or not mrz_result.valid:
            found, raw = ocr.read_mrz(image, today=case.today)
            if found is not None and (mrz_result is None or found.rank() < mrz_result.rank()):
                mrz_result = found
    flag = ""
    if problems:
        flag = (
            "blurry"
            if any("blurry" in p for p in problems)
            else "low_resolution"
            if any("resolution" in p for p in problems)
            else "poor_exposure"
        )
    results.append(
        Result(
            "image_quality",
            not problems,
            "; ".join(problems) or "sharp, well exposed, enough resolution",
            flag,
            measured,
        )
    )
    if mrz_result is None:
        kinds = {d.kind for d in images}
        reason = (
            "A driving licence carries no machine-readable zone, so its name, date of birth "
            "and expiry cannot be read and checked automatically: a person compares it with "
            "the registration."
            if kinds == {"driving_licence"}
            else "No machine-readable zone could be read (none found, or too damaged to "
            "read): a person reads the document."
        )
        results.append(
            Result(
                "mrz",
                False,
                reason,
                "mrz_unreadable",
                {"ocr_text": raw[-300:]},
            )
        )
        return results
    mrz_values = {
        "format": mrz_result.format,
        "lines": mrz_result.lines,
        "surname": mrz_result.surname,
        "given_names": mrz_result.given_names,
        "number": mrz_result.document_number,
        "nationality": mrz_result.nationality,
        "nationality_label": icao.label(mrz_result.nationality),
        "birth_date": str(mrz_result.birth_date),
        "expiry": str(mrz_result.expiry_date),
    }
    if mrz_result.failed_checks:
        results.append(
            Result(
                "mrz",
                False,
                "MRZ check digit invalid: " + ", ".join(mrz_result.failed_checks),
                "mrz_check_digit",
                mrz_values,
            )
        )
    else:
        results.append(
            Result(
                "mrz",
                True,
                f"{mrz_result.format} MRZ read; every check digit holds",
                compared=mrz_values,
            )
        )
    registered = f"{case.first_name} {case.last_name}"
    on_doc = f"{mrz_result.given_names} {mrz_result.surname}"
    similarity = name_similarity(registered, on_doc)
    results.append(
        Result(
            "name",
            similarity >= NAME_MATCH,
            f"{registered!r} vs {on_doc!r} on the document: {similarity:.0%} alike "
            f"(at least {NAME_MATCH:.0%} needed)",
            "" if similarity >= NAME_MATCH else "name_mismatch",
            {"registered": registered, "document": on_doc, "similarity": similarity},
        )
    )
    dob_ok = case.date_of_birth is not None and case.date_of_birth == mrz_result.birth_date
    results.append(
        Result(
            "date_of_birth",
            dob_ok,
            f"registered {case.date_of_birth}, document {mrz_result.birth_date}",
            "" if dob_ok else "dob_mismatch",
            {"registered": str(case.date_of_birth), "document": str(mrz_result.birth_date)},
        )
    )
    results.append(_nationality_check(case, mrz_result))
    results += _repair_checks(case, mrz_result, similarity)
    expiry = mrz_result.expiry_date
    if expiry is None:
        results.append(
            Result("expiry", False, "The expiry date could not be read.", "mrz_unreadable")
        )
    elif expiry < case.today:
        results.append(
            Result(
                "expiry",
                False,
                f"The document expired on {expiry}.",
                "document_expired",
                {"expiry": str(expiry)},
            )
        )
    elif expiry < case.today + timedelta(days=EXPIRY_MARGIN_DAYS):
        results.append(
            Result(
                "expiry",
                False,
                f"The document expires on {expiry}, within {EXPIRY_MARGIN_DAYS} days.",
                "document_expiring",
                {"expiry": str(expiry)},
            )
        )
    else:
        results.append(
            Result("expiry", True, f"valid until {expiry}", compared={"expiry": str(expiry)})
        )
    born = mrz_result.birth_date or case.date_of_birth
    if born is None:
        results.append(Result("age", False, "No date of birth to check the age.", "underage"))
    else:
        age = _age(born, case.today)
        results.append(
            Result(
                "age",
                age >= ADULT_AGE,
                f"{age} years old",
                "" if age >= ADULT_AGE else "underage",
                {"age": age},
            )
        )
    return results


def document_identity(results: list[Result]) -> dict | None:
    """Who the identity document's MRZ says the holder is (name, date of birth, nationality as
    ISO alpha-2), from the checks' results; None when no MRZ was read."""
    for result in results:
        compared = result.compared
        if result.name == "mrz" and compared.get("surname") is not None:
            try:
                born = date.fromisoformat(compared.get("birth_date") or "")
            except ValueError:
                born = None
            name = " ".join(f"{compared.get('given_names', '')} {compared['surname']}".split())
            return {
                "name": name,
                "dob": born,
                "nationality": icao.country_of(compared.get("nationality") or "") or "",
            }
    return None


def same_name(a: str, b: str) -> bool:
    """The same names, whatever their order, case, accents or punctuation."""
    return sorted(_letters(t) for t in unidecode(a).split() if _letters(t)) == sorted(
        _letters(t) for t in unidecode(b).split() if _letters(t)
    )


def _nationality_check(case: Case, found) -> Result:
    """The document's nationality code (ISO alpha-3, or ICAO's own: `D`, the GB* codes,
    ...) mapped to the country a holder registers with, against the registration."""
    registered = _alpha2(case.nationality)
    on_document = icao.country_of(found.nationality)
    ok = bool(registered) and registered == on_document
    if on_document is None and icao.is_known(found.nationality):
        why = "the document names no country of nationality: a person checks it"
    else:
        why = "the same country" if ok else "not the same country"
    return Result(
        "nationality",
        ok,
        f"registered {icao.country_label(registered)}, document "
        f"{icao.label(found.nationality)}: {why}",
        "" if ok else "nationality_mismatch",
        {
            "registered": registered,
            "document": found.nationality,
            "document_label": icao.label(found.nationality),
        },
    )


def _repair_checks(case: Case, found, similarity: float) -> list[Result]:
    """A reading repaired where no check digit proves it (a `0` read in a name, a digit in
    a country code), or holding characters its field cannot hold, is not trusted without
    a person, even when it agrees with the registration: the reason says what was read."""
    results = []
    unproven = found.unproven_repairs
    if unproven:
        agrees = {
            "name": similarity >= NAME_MATCH,
            "nationality": icao.country_of(found.nationality) == _alpha2(case.nationality),
        }
        reasons = [
            r.describe()
            + (
                "; the registration agrees"
                if agrees.get(r.field)
                else "; the registration does not confirm it"
                if r.field in agrees
                else ""
            )
            for r in unproven
        ]
        results.append(
            Result(
                "mrz_repair",
                False,
                "Characters of the MRZ were read outside their field's character set and "
                "repaired beyond what the check digits prove: " + "; ".join(reasons) + ".",
                "mrz_repaired",
                {"repairs": [vars(r) for r in unproven]},
            )
        )
    if found.problems:
        results.append(
            Result(
                "mrz_characters",
                False,
                "The MRZ holds characters its fields cannot hold: "
                + "; ".join(found.problems)
                + ".",
                "mrz_charset",
                {"problems": found.problems},
            )
        )
    return results


DATE_PATTERNS = [
    (r"\b(\d{1,2}) ([A-Za-z]{3,9}) (\d{4})\b", "%d %B %Y"),
    (r"\b(\d{4})-(\d{2})-(\d{2})\b", "%Y-%m-%d"),
    (r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b", "%d/%m/%Y"),
]


def _dates_in(text: str) -> list[date]:
    from datetime import datetime

    found = []
    for pattern, fmt in DATE_PATTERNS:
        for match in re.finditer(pattern, text):
            raw = " ".join(match.groups()) if fmt == "%d %B %Y" else match.group(0)
            for candidate_fmt in (fmt, "%d %b %Y"):
                try:
                    found.append(datetime.strptime(raw, candidate_fmt).date())
                    break
                except ValueError:
                    continue
    return found


def _poa_text(doc: Doc) -> str:
    if doc.content_type == "application/pdf":
        from pypdf import PdfReader

        text = "\n".join(
            page.extract_text() or "" for page in PdfReader(io.BytesIO(doc.data)).pages
        )
        if len(text.strip()) > 20:
            return text
        return ""  # a scanned PDF without a text layer: not OCRed here
    return ocr.read_text(ocr.load(doc.data))


def _address_checks(case: Case, docs: list[Doc]) -> list[Result]:
    text = "\n".join(_poa_text(d) for d in docs)
    if len(text.strip()) < 20:
        return [
            Result(
                "proof_of_address",
                False,
                "No text could be read from the proof of address.",
                "poa_unreadable",
            )
        ]
    letters = _letters(text)
    name_ok = _letters(case.last_name) in letters and _letters(case.first_name) in letters
    address_tokens = [t for t in re.split(r"[\s,]+", case.address_line) if len(t) > 2]
    compact = re.sub(r"\s", "", text.upper())
    postcode_ok = bool(case.postcode) and re.sub(r"\s", "", case.postcode.upper()) in compact
    line_hits = sum(1 for t in address_tokens if t.upper() in text.upper())
    address_ok = postcode_ok or (address_tokens and line_hits >= max(1, len(address_tokens) - 1))
    recent = [d for d in _dates_in(text) if d <= case.today]
    newest = max(recent) if recent else None
    fresh = newest is not None and (case.today - newest).days <= POA_MAX_AGE_DAYS
    results = [
        Result(
            "poa_name",
            name_ok,
            "the registered name appears on the document"
            if name_ok
            else "the registered name is not on the document",
            "" if name_ok else "poa_name_mismatch",
            {"name": f"{case.first_name} {case.last_name}"},
        ),
        Result(
            "poa_address",
            bool(address_ok),
            f"postcode {'found' if postcode_ok else 'not found'}; {line_hits} of "
            f"{len(address_tokens)} address words found",
            "" if address_ok else "poa_address_mismatch",
            {"address": case.address_line, "postcode": case.postcode},
        ),
        Result(
            "poa_date",
            fresh,
            f"issued {newest}"
            + ("" if fresh else f" (more than {POA_MAX_AGE_DAYS} days ago)" if newest else ""),
            "" if fresh else "poa_too_old" if newest else "poa_undated",
            {"issued": str(newest) if newest else None},
        ),
    ]
    return results


def run(case: Case) -> list[Result]:
    results: list[Result] = []
    identity = [d for d in case.documents if d.kind in IDENTITY_KINDS]
    address = [d for d in case.documents if d.kind == "proof_of_address"]
    missing = ([] if identity else ["an identity document"]) + (
        [] if address else ["a proof of address"]
    )
    results.append(
        Result(
            "documents",
            not missing,
            "missing " + " and ".join(missing)
            if missing
            else "identity document and proof of address present",
            "missing_document" if missing else "",
        )
    )
    duplicates = {
        d.sha256: owner
        for d in case.documents
        if d.sha256 and (owner := case.duplicate_of(d.sha256))
    }
    results.append(
        Result(
            "duplicate_document",
            not duplicates,
            "the same file was uploaded by another client"
            if duplicates
            else "no other client uploaded these files",
            "duplicate_document" if duplicates else "",
            {"other_clients": sorted(set(duplicates.values()))},
        )
    )
    if case.questionnaire_outcome == "fail":
        results.append(
            Result(
                "appropriateness",
                False,
                "The questionnaire shows the product is not appropriate (cooling-off period).",
                "appropriateness_failed",
            )
        )
    elif case.questionnaire_outcome == "warn" and not case.risk_warning_acknowledged:
        results.append(
            Result(
                "appropriateness",
                False,
                "The risk warning was not acknowledged.",
                "risk_warning_not_acknowledged",
            )
        )
    elif case.questionnaire_outcome:
        results.append(
            Result("appropriateness", True, f"questionnaire: {case.questionnaire_outcome}")
        )
    if identity:
        results += _identity_checks(case, identity)
    if address:
        results += _address_checks(case, address)
    return results


def decide(results: list[Result]) -> tuple[bool, list[str]]:
    flags = [r.flag for r in results if not r.passed]
    return not flags, flags
