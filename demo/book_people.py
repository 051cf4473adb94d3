"""Onboarding in the demo book's year: leads (source, campaign, desk and agent, status), KYC
submissions and their outcomes, declared finances, and the people who never became clients."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from brokerage.models import User
from kyc.models import BAND_CEILING, Band, FinancialProfile, KycSubmission
from leads.models import Lead

from .book_rows import D, Person, Rows, token

APPLICANT_EMAILS = "@applicant.demo.test"
LEAD_SOURCES = [  # (source, utm_source, utm_medium, campaign stem, share)
    ("google", "google", "cpc", "search-forex", 0.30),
    ("facebook", "facebook", "paid_social", "fb-trading-lookalike", 0.20),
    ("affiliate", "affiliate", "cpa", "aff-network", 0.15),
    ("organic", "", "", "", 0.15),
    ("referral", "partner", "referral", "ib-referral", 0.10),
    ("webinar", "newsletter", "email", "weekly-webinar", 0.10),
]
LOST_REASONS = [
    "Not interested any more",
    "No answer after five calls",
    "Wrong number and email bounced",
    "Chose another broker",
    "Under 18",
]
EMPLOYMENT = ["employed"] * 6 + ["self_employed"] * 2 + ["retired", "student"]
INDUSTRIES = ["finance", "technology", "health", "public", "trade", "property", "legal", "other"]
SOURCES_OF_FUNDS = ["salary"] * 5 + ["savings"] * 3 + ["business", "investments"]
BANDS = [b.value for b in Band]
STREETS = ["High Street", "Station Road", "Park Avenue", "Church Lane", "Main Street", "Mill Road"]
CITIES = {
    "GB": "London", "DE": "Berlin", "FR": "Lyon", "ES": "Madrid", "IT": "Milan", "AE": "Dubai",
    "SG": "Singapore", "AU": "Sydney", "NL": "Utrecht", "SE": "Gothenburg", "PL": "Krakow",
    "ZA": "Cape Town", "IE": "Cork", "CH": "Zurich",
}  # fmt: skip


# --- Onboarding: leads, KYC, declared finances -------------------------------------------


def lead_row(
    rows: Rows, rnd, person: Person | None, at: datetime, *, status, email, names, country
):
    source, utm_source, medium, stem, _ = rnd.choices(
        LEAD_SOURCES, weights=[s[-1] for s in LEAD_SOURCES]
    )[0]
    campaign = f"{stem}-{at:%Y}q{(at.month - 1) // 3 + 1}" if stem else ""
    owner = person.manager_id if person else None
    contacted = at + timedelta(minutes=rnd.randint(4, 600)) if status != "new" else None
    return rows.add(
        Lead,
        {
            "first_name": names[0],
            "last_name": names[1],
            "email": email,
            "phone": "",
            "phone_valid": False,
            "phone_invalid_reason": "",
            "country": country,
            "language": "en",
            "experience": rnd.choice(["none", "some", "some", "experienced"]),
            "net_worth_usd": None,
            "annual_income_usd": None,
            "source": source,
            "utm_source": utm_source,
            "utm_medium": medium,
            "utm_campaign": campaign,
            "referral_code": "",
            "client_id": person.client_id if person else None,
            "channel": "api" if source in ("google", "facebook", "affiliate") else "portal",
            "api_key_id": None,
            "email_opt_out": False,
            "status": status,
            "lost_reason": rnd.choice(LOST_REASONS) if status == "lost" else "",
            "score": rnd.randint(10, 85),
            "score_breakdown": [],
            "desk_id": person.desk_id if person else None,
            "assigned_to_id": owner,
            "assigned_at": at + timedelta(minutes=1) if owner else None,
            "routed_at": at + timedelta(minutes=1),
            "routing": {"rule": "demo book", "desk": person.desk_id if person else None},
            "first_contact_at": contacted,
            "created_at": at,
            "updated_at": at + timedelta(days=2),
        },
    )


def dob_for(person_key: str, taken: set) -> date:
    """A date of birth (18 to 70) no one else of the same name has: name and date of birth
    together link clients (kyc.links), and the book's people are not related."""
    day = int(token(person_key, 8), 16) % (52 * 365)
    while True:
        born = date(1956, 1, 1) + timedelta(days=day)
        if (person_key.split("|")[0], born) not in taken:
            taken.add((person_key.split("|")[0], born))
            return born
        day = (day + 37) % (52 * 365)


def submission_row(rows: Rows, rnd, person, at, *, state, born, officer_id, nationality):
    decided = state in ("approved", "rejected")
    reviewed = officer_id is not None
    return rows.add(
        KycSubmission,
        {
            "client_id": person.client_id,
            "state": state,
            "step": "submitted",
            "first_name": person.first_name,
            "last_name": person.last_name,
            "date_of_birth": born,
            "nationality": nationality,
            "address_line": f"{rnd.randint(1, 240)} {rnd.choice(STREETS)}",
            "city": CITIES.get(person.country, "Capital City"),
            "postcode": f"{rnd.randint(10000, 99999)}",
            "country": person.country,
            "answers": {},
            "questionnaire_score": rnd.randint(9, 20),
            "questionnaire_outcome": "pass" if rnd.random() < 0.85 else "warn",
            "risk_warning_acknowledged_at": None,
            "cooling_off_until": None,
            "submitted_at": at,
            "checked_at": at + timedelta(minutes=2),
            "decided_at": at + timedelta(hours=rnd.randint(2, 30) if reviewed else 0, minutes=3)
            if decided
            else None,
            "decided_by_id": officer_id if decided and reviewed else None,
            "first_approval_by_id": None,
            "decision_rule": "every automatic check passed" if decided and not reviewed else "",
            "decision_reason": {
                "rejected": "The identity document is a photocopy and the selfie does not match.",
                "approved": "Checked by hand: the address on the utility bill matches."
                if reviewed
                else "",
            }.get(state, ""),
            "resubmit_documents": ["proof_of_address"] if state == "resubmission" else [],
            "created_at": at - timedelta(minutes=rnd.randint(5, 50)),
        },
    )


def band_over(amount_usd: Decimal, rnd, least: int = 0) -> str:
    """A band whose ceiling is comfortably over `amount_usd` (at least the `least`-th)."""
    for n, band in enumerate(BANDS):
        if n >= least and BAND_CEILING[band] >= amount_usd * 3:
            return BANDS[min(n + rnd.choice([0, 0, 1]), len(BANDS) - 1)]
    return BANDS[-1]


def profile_row(rows: Rows, rnd, person: Person, at, *, yearly_usd: Decimal, **override):
    """What the client declared: bands and expected deposits well over what they deposit."""
    expected = (yearly_usd * D(str(rnd.uniform(1.2, 2.0)))).quantize(D("100")) + D(1000)
    fields = {
        "employment_status": rnd.choice(EMPLOYMENT),
        "occupation": "",
        "industry": rnd.choice(INDUSTRIES),
        "currency": "USD",
        "annual_income": band_over(yearly_usd, rnd, least=1),
        "net_worth": band_over(yearly_usd, rnd, least=1),
        "expected_deposits_amount": expected,
        "source_of_funds": rnd.choice(SOURCES_OF_FUNDS),
        "source_of_funds_detail": "",
        "source_of_wealth": rnd.choice(SOURCES_OF_FUNDS),
        "source_of_wealth_detail": "",
    } | override
    return rows.add(
        FinancialProfile,
        {
            "client_id": person.client_id,
            "version": 1,
            "declared_at": at,
            "declared_by_id": None,
            **fields,
        },
    )


def onboard(rows: Rows, rnd, person: Person, registered: datetime, extras) -> datetime:
    """The client's lead (converted) and approved KYC submission; returns when verified."""
    lead_row(
        rows,
        rnd,
        person,
        registered - timedelta(days=rnd.uniform(0.02, 10)),
        status="converted",
        email=person.email,
        names=(person.first_name, person.last_name),
        country=person.country,
    )
    submitted = registered + timedelta(minutes=rnd.randint(15, 2 * 1440))
    reviewed = rnd.random() < 0.2
    born = dob_for(f"{person.name.lower()}|{person.client_id}", extras["dobs"])
    submission = submission_row(
        rows,
        rnd,
        person,
        submitted,
        state="approved",
        born=born,
        officer_id=extras["officer_id"] if reviewed else None,
        nationality=person.country,
    )
    return submission["decided_at"]


def applicants_and_leads(rows: Rows, rnd, count: int, now: datetime, extras) -> int:
    """People who never became trading clients: applicants whose KYC was rejected, sent back or
    waits in review, and leads that did not convert."""
    from clients.models import Client as ClientModel

    from .trading import FIRST, LAST

    if count <= 0:
        return 0
    start = User.objects.filter(email__endswith=APPLICANT_EMAILS).count()
    applicants = max(1, count // 10)
    users = User.objects.bulk_create(
        [
            User(
                email=f"applicant{start + n:06d}{APPLICANT_EMAILS}",
                first_name=rnd.choice(FIRST),
                last_name=rnd.choice(LAST),
                password="!",
            )
            for n in range(applicants)
        ],
        batch_size=5000,
    )
    from .trading import COUNTRIES

    clients = ClientModel.objects.bulk_create(
        [
            ClientModel(user=u, status=ClientModel.Status.REGISTERED, country=rnd.choice(COUNTRIES))
            for u in users
        ],
        batch_size=5000,
    )
    for user, client in zip(users, clients, strict=True):
        person = Person(
            client.pk, user.pk, user.email, user.first_name, user.last_name,
            client.country, None, None, None,
        )  # fmt: skip
        at = now - timedelta(days=rnd.uniform(1, 300))
        lead_row(
            rows, rnd, person, at - timedelta(days=1), status="qualified", email=user.email,
            names=(user.first_name, user.last_name), country=client.country,
        )  # fmt: skip
        state = rnd.choices(["rejected", "resubmission", "in_review"], weights=[5, 3, 2])[0]
        if state == "in_review":
            at = now - timedelta(hours=rnd.uniform(2, 70))
        submission_row(
            rows, rnd, person, at, state=state,
            born=dob_for(f"{person.name.lower()}|{person.client_id}", extras["dobs"]),
            officer_id=extras["officer_id"] if state != "in_review" else None,
            nationality=client.country,
        )  # fmt: skip
    for n in range(count - applicants):
        at = now - timedelta(days=rnd.uniform(0.1, 365))
        status = rnd.choices(["new", "contacted", "qualified", "lost"], weights=[2, 3, 1, 6])[0]
        if status == "new":
            at = now - timedelta(hours=rnd.uniform(0.5, 96))
        country = rnd.choice(COUNTRIES)
        lead_row(
            rows, rnd, None, at, status=status, email=f"lead{start + n:07d}@leads.demo.test",
            names=(rnd.choice(FIRST), rnd.choice(LAST)), country=country,
        )  # fmt: skip
    return count
