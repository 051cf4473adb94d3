"""The demo book's year: how its clients came, were verified and moved money (`seed_demo`).

`install_book_year(now=...)` gives every client of the trading book (`@book.demo.test`) who has
no deposit yet a plausible year behind them, and adds the people who never became clients:

- a lead (source, campaign, desk and agent, converted) a few days before they registered, and
  leads that did not convert (new, contacted, qualified, lost with a reason);
- an approved KYC submission (most passed the automatic checks, some an officer's review) and
  applicants whose submission was rejected, sent back for documents or still waits in review;
- a financial profile (employment, income and net worth bands, expected yearly deposits);
- deposits through the PSPs the demo offers (cards through Stripe and Checkout.com, Skrill in
  euros, crypto through CoinPayments) with the payment instrument each PSP reports (the card in
  the client's own name, issued in their country), failed and expired attempts, transfers to the
  trading account, withdrawals back to the funding PSP (paid, rejected, cancelled, a payout that
  failed, the newest still open), refunds and chargebacks; every completed movement one ledger
  transaction posted as the finance services post it (same keys, accounts and legs), so
  `ledger_verify` stays clean.

Ordinary activity stays clear of every AML typology (`demo.planted` has the ones built to fire):
each deposit is at most USD 4,000 and deposits are at least 8 days apart (no structuring, no
velocity, no dormant client coming back with USD 10,000), a withdrawal is requested at least 15
days after the client's last deposit (no quick in and out), a failed card payment is retried on
the same PSP, the yearly total stays within what the client declared, each client pays with their
own instruments in their own name, and one chargeback at most.

Written set-based (ids reserved from the sequences, rows streamed with COPY, `demo.bulk`) in one
transaction; a client who already has a deposit is left alone, so a second run adds nothing.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from django.db import connection, transaction

from brokerage.models import User
from clients.models import Client, TradingAccount

from .book_money import Money
from .book_people import applicants_and_leads, onboard, profile_row
from .book_rows import BOOK_EMAILS, NOW_HOLDER, D, Person, Rows, from_usd, usd, write
from .finance import _payment_methods, fx_rates_install
from .models import PlantedCase

# Deposit methods by where the client lives (the demo's METHODS keys): the first is the usual.
EUR_COUNTRIES = {"DE", "FR", "ES", "IT", "NL", "IE", "PL", "SE"}
METHODS_BY_REGION = {
    "eur": ["stripe_eur", "skrill_eur", "stripe_usd"],
    "gb": ["stripe_usd", "checkout_usd", "skrill_eur"],
    "other": ["stripe_usd", "checkout_usd", "coinpayments_usd"],
}
MAX_DEPOSIT_USD = 4000  # ordinary deposits: well under every typology's amounts
MIN_DEPOSIT_GAP_DAYS = 8
WITHDRAWAL_AFTER_DEPOSIT_DAYS = 15

# --- The ordinary client's year ------------------------------------------------------------


def region_of(country: str) -> str:
    return "eur" if country in EUR_COUNTRIES else "gb" if country == "GB" else "other"


def deposit_amount_usd(rnd, first: bool) -> int:
    median = 500 if first else 400
    value = rnd.lognormvariate(0, 0.8) * median
    step = 50 if value >= 500 else 10
    return int(min(MAX_DEPOSIT_USD, max(100, round(value / step) * step)))


def ordinary_year(rows: Rows, rnd, person: Person, methods, now: datetime, extras) -> dict:
    """One ordinary client's onboarding and money (see the module's contract)."""
    registered = now - timedelta(days=rnd.uniform(36, 365), minutes=rnd.randint(0, 1440))
    verified = onboard(rows, rnd, person, registered, extras)
    money = Money(rows, person, methods, now)
    region = METHODS_BY_REGION[region_of(person.country)]
    usual = region[0] if rnd.random() < 0.7 else region[1]
    other = region[2] if usual == region[0] else region[0]
    at = verified + timedelta(hours=rnd.uniform(1, 96))
    deposits_planned = min(12, 1 + int(rnd.expovariate(1 / 2.5)))
    times = []
    while len(times) < deposits_planned and at < now - timedelta(days=1):
        times.append(at)
        at += timedelta(days=rnd.uniform(MIN_DEPOSIT_GAP_DAYS, 75), minutes=rnd.randint(0, 600))
    total_usd = D(0)
    failed_done = 0
    for n, when in enumerate(times):
        key = usual if rnd.random() < 0.85 else other
        method = methods[key]
        amount_usd = deposit_amount_usd(rnd, first=n == 0)
        amount = max(method.min_amount, from_usd(amount_usd, method.currency))
        if rnd.random() < 0.06 and failed_done < 2:  # a declined card, retried at once
            money.deposit(key, amount, when - timedelta(minutes=rnd.randint(2, 20)), "failed")
            failed_done += 1
        if rnd.random() < 0.02:  # a payment page left unpaid days before
            money.deposit(key, amount, when - timedelta(days=rnd.uniform(2, 6)), "expired")
        row = money.deposit(key, amount, when)
        total_usd += usd(amount, method.currency)
        if method.currency == "USD" and person.account_id and rnd.random() < 0.8:
            money.transfer(amount, when + timedelta(minutes=rnd.randint(3, 240)), to_trading=True)
        if rnd.random() < 0.012 and method.psp in ("stripe", "checkout", "skrill"):
            extras["refunds"].append((money, row))
    # Withdrawals: only well after the last deposit before them (no quick in and out).
    if times and rnd.random() < 0.4:
        slots = []
        for n, when in enumerate(times):
            start = when + timedelta(days=WITHDRAWAL_AFTER_DEPOSIT_DAYS)
            end = times[n + 1] if n + 1 < len(times) else now - timedelta(hours=6)
            if end > start:
                slots.append((start, end))
        chosen = rnd.sample(slots, min(len(slots), rnd.choice([1, 1, 2])))
        for start, end in sorted(chosen):
            when = start + (end - start) * rnd.random()
            currency = rnd.choice(sorted({d["currency"] for d in money.deposits}))
            if currency == "USD" and person.account_id:
                back = (money.deposits[-1]["amount"] * D(str(rnd.uniform(0.2, 0.8)))).quantize(D(1))
                money.transfer(back, when - timedelta(minutes=30), to_trading=False)
            available = money.wallets.balance[currency]
            amount = min(
                (available * D(str(rnd.uniform(0.3, 1.0)))).quantize(D(1)),
                from_usd(MAX_DEPOSIT_USD, currency),
            )
            if amount < 20:
                continue
            recent = now - when < timedelta(days=3)
            draw = rnd.random()
            status = (
                rnd.choice(["requested", "in_review"])
                if recent and draw < 0.5
                else "rejected"
                if draw < 0.04
                else "cancelled"
                if draw < 0.07
                else "failed"
                if draw < 0.08
                else "paid"
            )
            money.withdrawal(currency, amount, when, status)
    cards = [d for d in money.deposits if d["psp"] in ("stripe", "checkout")]
    if cards and rnd.random() < 0.004:
        victim = rnd.choice(cards)
        when = victim["completed_at"] + timedelta(days=rnd.uniform(20, 60))
        if when < now:
            money.chargeback(
                victim,
                when,
                rnd.choice(["lost", "lost", "open"]),
                rnd.choice(["fraudulent", "product_not_received", "unrecognized"]),
            )
    profile_row(rows, rnd, person, verified + timedelta(minutes=1), yearly_usd=total_usd)
    return {
        "registered": registered,
        "verified": verified,
        "ftd": money.ftd_at,
        "money": money,
    }


def book_people() -> list[Person]:
    """The trading book's clients with no deposit yet (the ones this year is for)."""
    accounts = dict(
        TradingAccount.objects.filter(client__user__email__endswith=BOOK_EMAILS)
        .order_by("client_id", "pk")
        .values_list("client_id", "pk")
    )
    people = []
    rows = (
        Client.objects.filter(user__email__endswith=BOOK_EMAILS, deposits__isnull=True)
        .order_by("pk")
        .values_list(
            "pk",
            "user_id",
            "user__email",
            "user__first_name",
            "user__last_name",
            "country",
            "desk_id",
            "account_manager_id",
        )
    )
    for pk, user_id, email, first, last, country, desk, manager in rows:
        people.append(
            Person(
                pk, user_id, email, first, last, country or "GB", desk, manager, accounts.get(pk)
            )
        )
    return people


def _dates(people_dates: list[tuple]) -> None:
    """Clients registered, verified and first deposited when their year says."""
    if not people_dates:
        return
    ids = [p[0] for p in people_dates]
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE clients_client c
                  SET created_at = d.registered, kyc_verified_at = d.verified,
                      first_deposit_at = d.ftd
                 FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[],
                             %s::timestamptz[]) AS d(id, registered, verified, ftd)
                WHERE c.id = d.id""",
            [ids, [p[1] for p in people_dates], [p[2] for p in people_dates],
             [p[3] for p in people_dates]],
        )  # fmt: skip
        cursor.execute(
            """UPDATE brokerage_user u SET date_joined = c.created_at
                 FROM clients_client c WHERE c.user_id = u.id AND c.id = ANY(%s)""",
            [ids],
        )
        # The trading account was opened with the first deposit (its history in the
        # platform is the last month's).
        cursor.execute(
            """UPDATE clients_tradingaccount a
                  SET opened_at = LEAST(a.opened_at, c.first_deposit_at + interval '10 minutes')
                 FROM clients_client c WHERE a.client_id = c.id AND c.id = ANY(%s)
                  AND c.first_deposit_at IS NOT NULL""",
            [ids],
        )


def install_book_year(*, now: datetime, per_typology: int = 0, seed: int = 16) -> dict:
    """The year of every book client without a deposit, and the leads and applicants beside
    them; first, once, `per_typology` clients planted for each AML typology
    (`demo.book_planted`). Returns counts and seconds."""
    started = time.perf_counter()
    NOW_HOLDER[:] = [now]
    with transaction.atomic():
        fx_rates_install()
        methods = _payment_methods()
        people = book_people()
        if not people:
            return {"clients": 0}
        rows = Rows()
        officer = User.objects.filter(email="compliance_officer@demo.test").first()
        extras = {
            "officer_id": officer.pk if officer else None,
            "dobs": set(),
            "refunds": [],
        }
        rnd = random.Random(seed * 1_000_003 + people[0].client_id)  # noqa: S311 (demo data)
        dates, planted = [], []
        if per_typology and not PlantedCase.objects.exists():
            from .book_planted import plant

            planted, dates, people = plant(rows, rnd, people, methods, now, per_typology, extras)
        for person in people:
            year = ordinary_year(rows, rnd, person, methods, now, extras)
            dates.append((person.client_id, year["registered"], year["verified"], year["ftd"]))
        for money, deposit in extras["refunds"]:
            untouched = not deposit["charged_back_amount"] and not deposit["refunded_amount"]
            if untouched and money.wallets.balance[deposit["currency"]] >= deposit["amount"]:
                when = deposit["completed_at"] + timedelta(days=rnd.uniform(1, 5))
                if when < now:
                    money.refund(
                        deposit,
                        deposit["amount"],
                        when,
                        "Duplicate payment: paid the same top-up twice.",
                    )
        applicants_and_leads(rows, rnd, len(people) // 2, now, extras)
        generated = time.perf_counter() - started
        counts = write(rows)
        _dates(dates)
        PlantedCase.objects.bulk_create(planted)
    return {
        "clients": len(people) + len(planted),
        "planted": len(planted),
        "rows": counts,
        "generate_seconds": round(generated, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def install_first_night(*, now: datetime) -> dict | None:
    """The monitoring's first night over the seeded book (`run_nightly` at the seeding time),
    so the compliance officer's queues show the planted clients' alerts at once. Once: a book
    with alerts already is left alone."""
    from compliance.monitoring import run_nightly
    from compliance.monitoring.models import Alert

    if Alert.objects.exists() or not PlantedCase.objects.exists():
        return None
    return run_nightly(as_of=now)
