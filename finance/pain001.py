"""ISO 20022 pain.001.001.09 (CustomerCreditTransferInitiation): the file finance gives the bank
to pay wire withdrawals. Pure: takes plain values, returns the XML bytes.

One payment information block per currency (a bank books a block as one debit of the
brokerage's account); EUR blocks are SEPA credit transfers (service level SEPA, charges
shared by each side, SLEV), others are ordinary transfers with shared charges (SHAR). Each
transfer carries the withdrawal's end-to-end id (which comes back on the bank statement and
settles it) and its reference as remittance text. Validated against the official XSD in the
tests (tests/finance/data/pain.001.001.09.xsd).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from xml.etree import ElementTree as ET

from unidecode import unidecode

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    amount: Decimal
    currency: str
    name: str
    iban: str
    bic: str
    remittance: str


def _text(value: str, limit: int) -> str:
    """Latin characters banks accept (the SEPA set), cut to the field's length."""
    return unidecode(value or "").strip()[:limit] or "NOTPROVIDED"


def _sub(parent, tag: str, text: str | None = None, **attrs) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _agent(parent, tag: str, bic: str) -> None:
    fin = _sub(_sub(parent, tag), "FinInstnId")
    if bic:
        _sub(fin, "BICFI", bic)
    else:
        _sub(_sub(fin, "Othr"), "Id", "NOTPROVIDED")


def build_pain001(
    *,
    message_id: str,
    created_at: datetime,
    execution_date: date,
    debtor_name: str,
    debtor_iban: str,
    debtor_bic: str,
    transfers: list[Transfer],
) -> bytes:
    if not transfers:
        raise ValueError("a credit transfer file needs at least one transfer")
    by_currency: dict[str, list[Transfer]] = defaultdict(list)
    for t in transfers:
        by_currency[t.currency].append(t)
    ET.register_namespace("", NAMESPACE)
    root = ET.Element("Document", {"xmlns": NAMESPACE})
    initiation = _sub(root, "CstmrCdtTrfInitn")
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", created_at.replace(microsecond=0).isoformat())
    _sub(header, "NbOfTxs", str(len(transfers)))
    _sub(header, "CtrlSum", f"{sum(t.amount for t in transfers):.2f}")
    _sub(_sub(header, "InitgPty"), "Nm", _text(debtor_name, 140))
    for n, (currency, items) in enumerate(sorted(by_currency.items()), start=1):
        sepa = currency == "EUR"
        block = _sub(initiation, "PmtInf")
        _sub(block, "PmtInfId", f"{message_id}-{n}"[:35])
        _sub(block, "PmtMtd", "TRF")
        _sub(block, "BtchBookg", "true")
        _sub(block, "NbOfTxs", str(len(items)))
        _sub(block, "CtrlSum", f"{sum(t.amount for t in items):.2f}")
        if sepa:
            _sub(_sub(_sub(block, "PmtTpInf"), "SvcLvl"), "Cd", "SEPA")
        _sub(_sub(block, "ReqdExctnDt"), "Dt", execution_date.isoformat())
        _sub(_sub(block, "Dbtr"), "Nm", _text(debtor_name, 140))
        _sub(_sub(_sub(block, "DbtrAcct"), "Id"), "IBAN", debtor_iban)
        _agent(block, "DbtrAgt", debtor_bic)
        _sub(block, "ChrgBr", "SLEV" if sepa else "SHAR")
        for t in items:
            tx = _sub(block, "CdtTrfTxInf")
            ids = _sub(tx, "PmtId")
            _sub(ids, "InstrId", t.end_to_end_id)
            _sub(ids, "EndToEndId", t.end_to_end_id)
            _sub(_sub(tx, "Amt"), "InstdAmt", f"{t.amount:.2f}", Ccy=currency)
            if t.bic:
                _agent(tx, "CdtrAgt", t.bic)
            _sub(_sub(tx, "Cdtr"), "Nm", _text(t.name, 140))
            _sub(_sub(_sub(tx, "CdtrAcct"), "Id"), "IBAN", t.iban)
            _sub(_sub(tx, "RmtInf"), "Ustrd", _text(t.remittance, 140))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
