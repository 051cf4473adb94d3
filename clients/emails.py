"""Every email a client is sent when something they wait for happens: one catalogue, one folder.

Each email is a folder `templates/emails/clients/<name>/` with `subject.txt` (one line) and
`message.txt` (the paragraphs); the shared layouts `layout.txt` and `layout.html` add the
greeting, the portal link and the signature, so each email has a text and an HTML part from
the same words. Templates are written for Django's translation machinery (`{% translate %}`,
`{% blocktranslate %}`) and rendered in the client's language (`translation.override`): a
language with a catalogue in `locale/` gets its translation, any other English.

The context of every email is plain values (strings, numbers, dates; amounts already
formatted), so the same email renders from a state change (`clients.notify.client_notify`) and
from the sample data the back office's review page shows (`email_preview`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.conf import settings
from django.template import Context
from django.template.loader import get_template
from django.utils import translation

from brokerage.mail import header_value

FOLDER = "emails/clients"


@dataclass(frozen=True)
class ClientEmail:
    name: str
    label: str
    sent_when: str
    sample: dict = field(default_factory=dict)


EMAILS = {
    e.name: e
    for e in [
        ClientEmail(
            "kyc_approved",
            "Identity verified",
            "A KYC submission is approved (automatically, or by compliance in review).",
        ),
        ClientEmail(
            "kyc_rejected",
            "Identity not verified",
            "Compliance rejects a KYC submission in review.",
            {"reason": "The passport photo does not match the selfie."},
        ),
        ClientEmail(
            "kyc_documents_requested",
            "Documents requested again",
            "Compliance asks for a document again (resubmission).",
            {"documents": "passport", "message": "The photo is blurred; please take it again."},
        ),
        ClientEmail(
            "kyc_document_expiring",
            "Identity document expires soon",
            "The daily expiry run, 30 days before the identity document expires.",
            {"expires_on": date(2027, 3, 14)},
        ),
        ClientEmail(
            "kyc_document_expired",
            "Identity document expired",
            "The daily expiry run, when the identity document has expired (the account is "
            "restricted until the client verifies again).",
        ),
        ClientEmail(
            "sof_approved",
            "Source of funds accepted",
            "Compliance approves a source-of-funds document.",
            {"description": "Payslips for May and June", "reason": "Salary matches the deposits."},
        ),
        ClientEmail(
            "sof_rejected",
            "Source of funds not accepted",
            "Compliance rejects a source-of-funds document (the client may upload another).",
            {"description": "Bank statement", "reason": "The statement is older than 90 days."},
        ),
        ClientEmail(
            "deposit_credited",
            "Deposit credited",
            "A deposit is credited to the wallet (a PSP's confirmation, or a bank wire on the "
            "bank statement).",
            {"reference": "D-7Q2K9X", "amount": "USD 1,500.00", "method": "Card"},
        ),
        ClientEmail(
            "deposit_failed",
            "Deposit failed",
            "The PSP reports a deposit failed or expired.",
            {
                "reference": "D-7Q2K9X",
                "amount": "USD 1,500.00",
                "method": "Card",
                "reason": "The card was declined.",
            },
        ),
        ClientEmail(
            "withdrawal_approved",
            "Withdrawal approved",
            "A withdrawal is approved (automatically, or by finance in review).",
            {"reference": "W-3HT8PL", "amount": "USD 400.00", "method": "Card"},
        ),
        ClientEmail(
            "withdrawal_rejected",
            "Withdrawal refused",
            "Finance rejects a withdrawal in review (the amount is back in the wallet).",
            {
                "reference": "W-3HT8PL",
                "amount": "USD 400.00",
                "reason": "Withdrawals go back to the card that funded the account first.",
            },
        ),
        ClientEmail(
            "category_decided",
            "Client category decided",
            "Compliance approves or refuses a request for professional status, or sets the "
            "client's category.",
            {"category": "Professional", "refused": "", "leverage": "1:500"},
        ),
        ClientEmail(
            "account_under_review",
            "Account under review",
            "Compliance confirms a screening hit as a true match: deposits, withdrawals, "
            "transfers, new accounts and new trades stop until compliance lifts the block. "
            "The email names no list and no reason (no tipping-off).",
        ),
        ClientEmail(
            "account_review_ended",
            "Account review ended",
            "Compliance lifts the last block a confirmed screening match put on the account.",
        ),
        ClientEmail(
            "jurisdiction_restricted",
            "Account limited by a country rule",
            "A jurisdiction rule on the client's country of residence or nationality starts "
            "applying: deposits, transfers, new accounts and new trades stop; withdrawals go on.",
            {
                "country": "Iran",
                "via": "residence",
                "rule": 3,
                "basis": "Comprehensive sanctions (OFAC, EU)",
            },
        ),
        ClientEmail(
            "jurisdiction_lifted",
            "Country rule lifted",
            "A jurisdiction rule that limited the client's account ends or no longer reaches them.",
            {
                "country": "Iran",
                "via": "residence",
                "rule": 3,
                "basis": "Comprehensive sanctions (OFAC, EU)",
            },
        ),
        ClientEmail(
            "withdrawal_sent_to_bank",
            "Withdrawal sent to the bank",
            "Finance sends an approved bank wire withdrawal to the bank in a payment file.",
            {
                "reference": "W-3HT8PL",
                "amount": "EUR 2,000.00",
                "account_end": "3000",
            },
        ),
        ClientEmail(
            "withdrawal_paid",
            "Withdrawal paid",
            "The PSP pays a withdrawal, or the bank statement shows a wire withdrawal paid.",
            {
                "reference": "W-3HT8PL",
                "amount": "USD 400.00",
                "method": "Card",
                "account_end": "",
            },
        ),
        ClientEmail(
            "withdrawal_failed",
            "Withdrawal not paid",
            "The PSP refuses to pay an approved withdrawal (the amount is back in the wallet).",
            {"reference": "W-3HT8PL", "amount": "USD 400.00", "reason": "Card expired."},
        ),
        ClientEmail(
            "withdrawal_returned",
            "Wire withdrawal returned",
            "A wire withdrawal comes back from the bank (the amount is back in the wallet).",
            {
                "reference": "W-3HT8PL",
                "amount": "EUR 2,000.00",
                "account_end": "3000",
                "reason": "Account closed",
            },
        ),
        ClientEmail(
            "refund_succeeded",
            "Deposit refunded",
            "The PSP refunds (part of) a deposit that finance refunded.",
            {
                "reference": "R-8CX4MZ",
                "amount": "USD 200.00",
                "deposit": "D-7Q2K9X",
                "method": "Card",
            },
        ),
        ClientEmail(
            "transfer_completed",
            "Transfer completed",
            "A transfer between the wallet and a trading account is done on the platform.",
            {"amount": "USD 250.00", "to_trading": True, "login": "700123"},
        ),
        ClientEmail(
            "commission_rebate",
            "Commission rebate credited",
            "A commission period closes and the client's introducing broker passes part of its "
            "commission back to the client's wallet.",
            {"amount": "USD 42.50", "start": date(2026, 11, 1), "end": date(2026, 11, 30)},
        ),
        ClientEmail(
            "transfer_failed",
            "Transfer failed",
            "The trading platform refuses a transfer (nothing moved).",
            {
                "amount": "USD 250.00",
                "to_trading": False,
                "login": "700123",
                "reason": "There is not enough free margin on the trading account.",
            },
        ),
        ClientEmail(
            "trading_account_ready",
            "Trading account open",
            "The trading server confirms a trading account the client asked for.",
            {"login": "700123", "server": "MT5 Live"},
        ),
        ClientEmail(
            "trading_account_password_changed",
            "Trading account password changed",
            "The client sets a new trading account password in the portal.",
            {"login": "700123", "server": "MT5 Live"},
        ),
        ClientEmail(
            "trading_account_leverage_lowered",
            "Trading account leverage lowered",
            "A leverage limit lowers a trading account's leverage on the platform (a limit "
            "edited, the client's category, residence or nationality changed, the nightly sweep).",
            {
                "login": "700123",
                "before": "1:100",
                "leverage": "1:30",
                "limit": "leverage limit 9 (United Kingdom, retail: FCA COBS 22.5 (PS19/18))",
            },
        ),
        ClientEmail(
            "trading_account_leverage_restored",
            "Trading account leverage restored",
            "The limit that lowered a trading account's leverage no longer applies: the "
            "leverage it had is back.",
            {"login": "700123", "before": "1:30", "leverage": "1:100", "limit": ""},
        ),
        ClientEmail(
            "trading_account_leverage_set",
            "Trading account leverage set by staff",
            "Staff (compliance, ops) change a trading account's leverage and the platform has it.",
            {"login": "700123", "before": "1:100", "leverage": "1:50", "limit": ""},
        ),
        ClientEmail(
            "terms_updated",
            "Terms updated",
            "Compliance publishes a new version of the client agreement, risk disclosure or "
            "privacy notice that clients must accept again.",
            {
                "title": "Client agreement",
                "version": 2,
                "effective_at": date(2027, 1, 1),
                "changes": "Section 7 now says how we close positions at a margin call.",
            },
        ),
        ClientEmail(
            "ticket_received",
            "Support request received",
            "A client opens a support ticket in the portal.",
            {"ticket": 1042, "subject": "Deposit not showing"},
        ),
        ClientEmail(
            "ticket_answered",
            "Support request answered",
            "Staff reply to a client's support ticket.",
            {
                "ticket": 1042,
                "subject": "Deposit not showing",
                "author": "Maria Lopez",
                "reply": "Your deposit was credited this morning; you can see it in your wallet.",
            },
        ),
        ClientEmail(
            "partner_application_decided",
            "Partner application decided (IB partners)",
            "An IB manager approves or rejects a partner's application to a programme.",
            {
                "approved": False,
                "programme": "Standard IB",
                "reason": "We could not verify the website you gave.",
                "partner_area": True,
            },
        ),
        ClientEmail(
            "partner_wallet_currency_changed",
            "Commissions wallet currency changed (IB partners)",
            "An IB manager changes the currency a partner's commissions wallet is kept in.",
            {
                "currency": "EUR",
                "before": "",
                "reason": "You asked us to pay your commissions in euros.",
                "partner_area": True,
            },
        ),
        ClientEmail(
            "commission_dispute_decided",
            "Commission dispute decided (IB partners)",
            "An IB manager rejects a partner's dispute of a commission line, or adjusts it "
            "(above the threshold, once a second IB manager approves).",
            {
                "dispute": 42,
                "adjusted": True,
                "line_amount": "USD 7.84",
                "amount": "USD 2.50",
                "reason": "The deal closed 0.5 lots more than the line paid.",
                "partner_area": True,
            },
        ),
    ]
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    language: str


def _text(name: str, context: dict) -> str:
    """A text template rendered without HTML escaping (it is not HTML)."""
    return get_template(name).template.render(Context(context, autoescape=False))


def email_render(name: str, *, context: dict, language: str, first_name: str, link: str):
    """The email `name` in `language` (English where there is no translation)."""
    if name not in EMAILS:
        raise LookupError(f"No client email {name!r}")
    values = {
        **context,
        "first_name": first_name,
        "link": link,
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
    }
    language = (language or settings.LANGUAGE_CODE).lower()
    with translation.override(language):
        subject = header_value(_text(f"{FOLDER}/{name}/subject.txt", values))
        message = _text(f"{FOLDER}/{name}/message.txt", values).strip()
        values["message"] = message
        text = _text(f"{FOLDER}/layout.txt", values).strip() + "\n"
        html = get_template(f"{FOLDER}/layout.html").render({**values, "subject": subject})
    return Rendered(subject=subject[:200], text=text, html=html, language=language)


def email_languages() -> list[tuple[str, str]]:
    """English (the templates' own words) and each language with a catalogue in `locale/`."""
    codes = {"en"}
    for folder in settings.LOCALE_PATHS:
        path = Path(folder)
        if path.is_dir():
            codes |= {p.name for p in path.iterdir() if (p / "LC_MESSAGES" / "django.mo").exists()}
    return [(c, translation.get_language_info(c)["name"]) for c in sorted(codes)]


def email_preview(name: str, *, language: str = "en") -> Rendered:
    """The email with its sample data, as the back office's review page shows it."""
    return email_render(
        name,
        context=EMAILS[name].sample,
        language=language,
        first_name="Alex",
        link=settings.SITE_URL.rstrip("/") + "/portal/",
    )
