"""The terms a new installation ships: version 1 of the client agreement, the risk disclosure
and the privacy notice, in effect from 1 January 2026. A brokerage publishes its own texts as
version 2 (compliance's "Client terms" page); the shipped ones say what each document covers."""

import hashlib
from datetime import UTC, datetime

from django.db import migrations

EFFECTIVE = datetime(2026, 1, 1, tzinfo=UTC)
SHIPPED = [
    (
        "client_agreement",
        "Client agreement",
        "This agreement governs your account with us: opening and keeping it, how you deposit "
        "and withdraw money, how orders are placed and executed on our trading platform, the "
        "leverage and margin rules that apply to you, what happens at a margin call and when "
        "positions are closed out, our fees, commissions and swaps, how we communicate with you, "
        "how you complain, and how either of us may end the agreement.\n\n"
        "Your money is held in segregated client accounts. You may withdraw your free balance at "
        "any time, back to the method you deposited with where the law asks it. We may restrict "
        "your account where the law or our compliance obligations require it.",
    ),
    (
        "risk_disclosure",
        "Risk disclosure",
        "Contracts for difference and forex are complex instruments and come with a high risk "
        "of losing money rapidly due to leverage. A large share of retail investor accounts lose "
        "money when trading CFDs. You should consider whether you understand how CFDs work and "
        "whether you can afford to take the high risk of losing your money.\n\n"
        "Prices move quickly; gaps, slippage and market closures can make losses larger than "
        "expected. As a retail client you cannot lose more than the money in your account "
        "(negative balance protection).",
    ),
    (
        "privacy_notice",
        "Privacy notice",
        "We process your personal data to open and run your account, to meet our legal "
        "obligations (identity verification, anti-money-laundering checks, record keeping and "
        "reporting to regulators) and, with your consent, to tell you about our services.\n\n"
        "We keep your records for as long as the law requires after our relationship ends "
        "(at least five years). You may ask to see, correct or move your data, and complain to "
        "the data protection authority.",
    ),
]


def ship(apps, schema_editor):
    """Add version 1 of each document a database does not have yet."""
    TermsVersion = apps.get_model("clients", "TermsVersion")
    for document, title, text in SHIPPED:
        if TermsVersion.objects.filter(document=document).exists():
            continue
        TermsVersion.objects.create(
            document=document,
            version=1,
            title=title,
            text=text,
            changes="",
            text_sha256=hashlib.sha256(text.encode()).hexdigest(),
            effective_at=EFFECTIVE,
            reacceptance_required=True,
            published_at=EFFECTIVE,
            published_by="system:installation",
        )


class Migration(migrations.Migration):
    dependencies = [("clients", "0036_terms")]

    operations = [migrations.RunPython(ship, migrations.RunPython.noop)]
