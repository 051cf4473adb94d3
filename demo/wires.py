"""Demo bank wires: one statement of the brokerage's bank account, as finance would upload it,
so the bank wire pages have something to show: a trader's wire credited by their payment
reference, two wires that wait for finance (an unknown payer, a reference that is no one's)
and the bank's fee. Imported once: a second seed changes nothing."""

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from brokerage.models import User
from clients.models import Client
from finance.models import BankStatement
from finance.services import bank_statement_import

FINANCE_OFFICER = "finance_officer@demo.test"
NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"

# (amount, CRDT/DBIT, payer or payee, their IBAN, remittance, bank reference)
ENTRIES = [
    ("1500.00", "CRDT", "Lukas Becker", "DE89370400440532013000", "Einzahlung {ref}", "0001"),
    ("320.00", "CRDT", "M. Rossi", "IT60X0542811101000000123456", "Deposit for my account", "0002"),
    ("75.00", "CRDT", "Sophie Martin", "FR1420041010050500013M02606", "RF00 WRONG REF", "0003"),
    ("35.00", "DBIT", "", "", "Account maintenance fee", "0004"),
]


def _entry(day: str, amount, sign, name, iban, remittance, ref) -> str:
    side = "Dbtr" if sign == "CRDT" else "Cdtr"
    parties = ""
    if name:
        parties = (
            f"<RltdPties><{side}><Nm>{name}</Nm></{side}><{side}Acct><Id><IBAN>{iban}</IBAN>"
            f"</Id></{side}Acct></RltdPties>"
        )
    return (
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
        f"<AcctSvcrRef>DEMO-{day}-{ref}</AcctSvcrRef><NtryDtls><TxDtls><Refs>"
        f"<AcctSvcrRef>DEMO-{day}-{ref}</AcctSvcrRef></Refs>{parties}"
        f"<RmtInf><Ustrd>{remittance}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
    )


def demo_statement(reference: str) -> bytes:
    day = timezone.now().date().isoformat()
    entries = "".join(
        _entry(day, a, s, n, i, r.format(ref=reference), ref) for a, s, n, i, r, ref in ENTRIES
    )
    opening, closing = "250000.00", "251860.00"
    balances = "".join(
        f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{amount}</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"
        for code, amount in (("OPBD", opening), ("CLBD", closing))
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{NAMESPACE}"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>DEMO-{day}</MsgId><CreDtTm>{day}T06:00:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>DEMO-{day}</Id><CreDtTm>{day}T06:00:00</CreDtTm><Acct><Id><IBAN>"
        f"{settings.BANK_WIRE_IBAN or 'CH5604835012345678009'}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        f"{balances}{entries}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def install_demo_wires() -> None:
    if BankStatement.objects.exists():
        return
    trader = Client.objects.get(user__email="trader01@demo.test")
    bank_statement_import(
        fmt="camt053",
        uploaded_file=SimpleUploadedFile(
            "bank-statement-demo.xml", demo_statement(trader.payment_reference)
        ),
        actor=User.objects.get(email=FINANCE_OFFICER),
    )
