"""Human labels for the codes the product stores: what staff read instead of `round_robin`,
`call_back`, `poa` or `True`.

`code_label(value)` is the one place a code becomes words (templates use `{{ x|label }}` from
`bo`): a code some model declares as a choice reads as that choice's label; any other code is
spelled out, its abbreviations in capitals (KYC, FTD, MRZ) or in words (proof of address);
booleans read "Yes"/"No"; text that is not a code comes back as it is.
`evidence_items(data)` turns a stored JSON document (audit evidence, a check's details) into
labelled rows for a key/value list.
"""

import re
from functools import cache

# Abbreviations staff use, as they write them.
WORDS = {
    "aml": "AML",
    "api": "API",
    "bic": "BIC",
    "cfd": "CFD",
    "eur": "EUR",
    "ftd": "FTD",
    "fx": "FX",
    "gbp": "GBP",
    "iban": "IBAN",
    "ib": "IB",
    "id": "ID",
    "ip": "IP",
    "kyc": "KYC",
    "mrz": "MRZ",
    "mt5": "MT5",
    "ocr": "OCR",
    "pep": "PEP",
    "pdf": "PDF",
    "poa": "proof of address",
    "poi": "proof of identity",
    "psp": "PSP",
    "sepa": "SEPA",
    "sla": "SLA",
    "url": "URL",
    "usd": "USD",
    "utm": "UTM",
}
CODE = re.compile(r"^[a-z][a-z0-9]*(?:[_.-][a-z0-9]+)*$")
BOOLEANS = {"True": "Yes", "False": "No", "None": "—", "true": "Yes", "false": "No"}


@cache
def choice_labels() -> dict[str, str]:
    """Every choice of every model field in the product: code -> label (the first model
    declaring a code names it; the same code means the same thing across the product)."""
    from django.apps import apps

    labels: dict[str, str] = {}
    for model in apps.get_models():
        if model._meta.app_label not in PRODUCT_APPS:
            continue
        for field in model._meta.get_fields():
            for code, text in getattr(field, "flatchoices", None) or ():
                if isinstance(code, str) and isinstance(text, str) and CODE.match(code):
                    labels.setdefault(code, text)
    return labels


PRODUCT_APPS = {"brokerage", "clients", "compliance", "finance", "ib", "kyc", "leads"}


def spell(code: str) -> str:
    """`poa_missing` -> "Proof of address missing", `kyc_level` -> "KYC level"."""
    words = [WORDS.get(w, w) for w in re.split(r"[_.\-\s]+", code.strip()) if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def code_label(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    text = str(value).strip()
    if text in BOOLEANS:
        return BOOLEANS[text]
    if not CODE.match(text):
        return text
    known = choice_labels().get(text)
    if known:
        return known[:1].upper() + known[1:]
    if text in WORDS:
        return WORDS[text]
    if "_" not in text and "." not in text and text.isalpha():
        return text  # a plain word ("pending", "london") is already words
    return spell(text)


ACTOR_KINDS = {"rule": "automatic rule", "system": "system", "psp": "PSP", "api": "API"}


def actor_display(label: str) -> str:
    """Who did it, as staff read it: a person's email as it is; a named rule or system
    (`rule:withdrawal_checks`, `system:seed_demo`) as "Withdrawal checks (automatic rule)"."""
    kind, sep, name = str(label or "").partition(":")
    if not sep or "@" in label or kind not in ACTOR_KINDS:
        return label or "—"
    return f"{spell(name)} ({ACTOR_KINDS[kind]})"


def evidence_items(data, depth: int = 0) -> list[dict]:
    """A JSON document as rows {"key", "value", "items"}: keys spelled out, values labelled,
    nested objects as nested rows, lists joined (a list of objects as nested rows)."""
    if not isinstance(data, dict):
        return [{"key": "", "value": _value(data), "items": []}]
    rows = []
    for key, value in data.items():
        row = {"key": spell(str(key)), "value": "", "items": []}
        if isinstance(value, dict) and depth < 3:
            row["items"] = evidence_items(value, depth + 1)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, v in enumerate(value, 1):
                row["items"].append(
                    {"key": str(i), "value": "", "items": evidence_items(v, depth + 1)}
                )
        else:
            row["value"] = _value(value)
        rows.append(row)
    return rows


def _value(value) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{spell(str(k))}: {_value(v)}" for k, v in value.items())
    if value == "":
        return "—"
    return code_label(value)
