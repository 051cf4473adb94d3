"""Demo configuration for leads: scoring rules, routing rules, a nurture sequence, sample leads.

Installed by `manage.py seed_demo`; idempotent.
"""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from brokerage.models import Desk
from leads.callbacks import callback_schedule
from leads.models import Channel, Lead, NurtureSequence, NurtureStep, RoutingRule, ScoringRule
from leads.scoring import DISPOSABLE_DOMAINS
from leads.services import lead_call_log, lead_capture, lead_route
from leads.validation import clean_lead_input

SCORING = [
    ("Tier-1 country", "country", "in", ["AE", "GB", "DE", "SA", "QA", "KW", "CH", "SG", "AU"], 20),
    ("Experienced trader", "experience", "eq", "experienced", 20),
    ("Some trading experience", "experience", "eq", "some", 10),
    ("Net worth 100k USD or more", "net_worth_usd", "gte", 100000, 20),
    ("Net worth 250k USD or more", "net_worth_usd", "gte", 250000, 10),
    ("Annual income 50k USD or more", "annual_income_usd", "gte", 50000, 10),
    ("Valid phone number", "phone_valid", "is_true", None, 15),
    ("Disposable email address", "email_domain", "in", sorted(DISPOSABLE_DOMAINS), -40),
    ("Quality source", "source", "in", ["portal", "referral", "partner", "organic"], 5),
    ("Phone number given but not valid", "phone_invalid", "is_true", None, -10),
]

FIRST_TIME_TRADER = "First-time trader"
NURTURE_STEPS = [
    (
        1,
        "en",
        0,
        "Welcome: how trading works",
        "Hello {first_name},\n\nWelcome! Before you trade, here is how CFDs work and what a pip, a "
        "lot and margin are.\n\nUnsubscribe: {unsubscribe_url}\n",
    ),
    (
        1,
        "ar",
        0,
        "مرحبًا: كيف يعمل التداول",
        "مرحبًا {first_name}،\n\nقبل أن تبدأ التداول، إليك كيف تعمل عقود الفروقات.\n\n"
        "إلغاء الاشتراك: {unsubscribe_url}\n",
    ),
    (
        2,
        "en",
        24 * 60,
        "Leverage and risk, in plain words",
        "Hello {first_name},\n\nLeverage multiplies gains and losses alike. Here is how to size a "
        "position and set a stop-loss.\n\nUnsubscribe: {unsubscribe_url}\n",
    ),
    (
        3,
        "en",
        48 * 60,
        "Practise on a demo account",
        "Hello {first_name},\n\nTry your first trades on a free demo account; one of our account "
        "managers will call you to help you start.\n\nUnsubscribe: {unsubscribe_url}\n",
    ),
]


@transaction.atomic
def install_demo_rules() -> None:
    """The demo's scoring rules, nurture sequence and routing rules, each set installed only when
    it is absent: seeding again leaves an admin's edits, renames and deletions (and the rules'
    history) alone."""
    if not ScoringRule.objects.exists():
        for order, (name, field, op, value, points) in enumerate(SCORING, start=1):
            ScoringRule.objects.create(
                name=name,
                field=field,
                operator=op,
                value=value if value is not None else [],
                points=points,
                order=order * 10,
            )
    sequence, created = NurtureSequence.objects.get_or_create(name=FIRST_TIME_TRADER)
    if created:
        for position, language, delay, subject, body in NURTURE_STEPS:
            NurtureStep.objects.create(
                sequence=sequence,
                position=position,
                language=language,
                delay_minutes=delay,
                subject=subject,
                body=body,
            )
    if RoutingRule.objects.exists():
        return
    desks = {d.name: d for d in Desk.objects.filter(name__in=["Dubai", "Global"])}
    rules = [
        (
            10,
            "UAE leads to the Dubai desk",
            [{"field": "country", "op": "in", "value": ["AE"]}],
            RoutingRule.Action.DESK,
            desks["Dubai"],
            None,
        ),
        (
            20,
            "Net worth 250k USD+ to a senior account manager",
            [{"field": "net_worth_usd", "op": "gte", "value": 250000}],
            RoutingRule.Action.SENIOR,
            None,
            None,
        ),
        (
            30,
            "First-time traders are nurtured first",
            [{"field": "experience", "op": "in", "value": ["none"]}],
            RoutingRule.Action.NURTURE,
            None,
            sequence,
        ),
        (
            100,
            "Everyone else to the Global desk",
            [],
            RoutingRule.Action.DESK,
            desks["Global"],
            None,
        ),
    ]
    for order, name, conditions, action, desk, seq in rules:
        RoutingRule.objects.create(
            name=name, order=order, conditions=conditions, action=action, desk=desk, sequence=seq
        )


FIRST = ["Omar", "Aisha", "James", "Sofia", "Liam", "Fatima", "Noah", "Mia", "Yusuf", "Elena"]
LAST = ["Khan", "Smith", "Garcia", "Haddad", "Müller", "Rossi", "Ivanova", "Lee", "Silva", "Brown"]
COUNTRIES = [
    ("AE", "+9715012345{:02d}", "ar"),
    ("GB", "+4479111234{:02d}", "en"),
    ("ES", "+3461234{:04d}", "es"),
    ("DE", "+49151234567{:02d}", "en"),
    ("RU", "+79161234{:03d}", "ru"),
]


def install_demo_leads(count: int = 40) -> int:
    """Sample leads, routed by the demo rules. Existing sample leads are left as they are."""
    rng = random.Random(7)  # noqa: S311  (demo data, not security)
    made = 0
    for i in range(count):
        country, phone_fmt, language = COUNTRIES[i % len(COUNTRIES)]
        email = f"sample.lead{i:03d}@example.com"
        first, last = rng.choice(FIRST), rng.choice(LAST)
        raw = {
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone": phone_fmt.format(i),
            "country": country,
            "language": language,
            "experience": rng.choice(["none", "some", "experienced"]),
            "net_worth_usd": rng.choice([5000, 40000, 120000, 300000]),
            "source": rng.choice(["google", "facebook", "affiliate", "organic"]),
        }
        if Lead.objects.filter(email=email).exists():
            continue
        with transaction.atomic():
            lead, created = lead_capture(
                data=clean_lead_input(raw),
                channel=Channel.API,
                actor="system:seed_demo",
                route=False,
            )
            lead = lead_route(lead_id=lead.pk)
            if created and lead.assigned_to_id and i % 3 == 0:
                _demo_first_contact(lead, i)
        made += created
    return made


def _demo_first_contact(lead, i: int) -> None:
    """Some agents have already called: a first contact (the SLA met) and a callback planned."""
    agent = lead.assigned_to
    outcome = "call_back" if i % 2 == 0 else "no_answer"
    lead_call_log(lead=lead, actor=agent, outcome=outcome, duration_seconds=60 + 15 * i)
    callback_schedule(
        lead=lead,
        actor=agent,
        due_at=timezone.now() + timedelta(minutes=30 + 45 * i),
        note="Asked to be called back" if outcome == "call_back" else "Try again",
    )
