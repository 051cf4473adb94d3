"""IB trees over the demo book (`seed_demo`, after `demo.ib` installed the programme and plans).

One master IB per 2,500 book clients (at least two), each with two or three sub-IBs and, under
some, an introducer: partners made through the IB services (audited, each with its account
holder), paid by the demo's Master IB, Sub-IB and Introducer plans from a year ago. About one
book client in five is attributed to one of them from the day they registered (a referral and
the referral link the commission engine pays by), never a planted AML case; the deals of the
book's last month are then paid by the engine (`commissions_pay`, no line twice).
Idempotent: partners are found by email, clients already referred are left alone.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.db import transaction

from brokerage.models import User
from clients.models import Client
from ib.engine import commissions_pay
from ib.models import Partner, Plan, Referral, ReferralLink
from ib.plans import partner_parent_set, partner_plan_set
from ib.services import partner_create

from .bulk import copy_rows
from .planted import planted_client_ids

CLIENTS_PER_MASTER = 2_500
REFERRED_SHARE = 0.2
COMPANIES = ["Capital", "Markets", "Trading Academy", "FX Signals", "Invest Club", "Partners"]
CITIES = ["Dubai", "Limassol", "London", "Madrid", "Warsaw", "Cape Town", "Singapore", "Milan"]


def _partner(email, company, code, parent, plan, since, actor) -> Partner:
    user, created = User.objects.get_or_create(
        email=email, defaults={"first_name": company.split()[0], "last_name": "Partner"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    partner = partner_create(
        actor=actor, user=user, company_name=company, referral_code=code, parent=parent
    )
    if parent is not None and not partner.parent_links.filter(valid_from__lte=since).exists():
        partner_parent_set(
            partner=partner, parent=parent, actor=actor, reason="Demo: the tree", valid_from=since
        )
    if not partner.plans.exists():
        partner_plan_set(partner=partner, plan=plan, actor=actor, valid_from=since)
    return partner


def install_book_ib(*, actor: str, now: datetime, book_clients: int, seed: int = 17) -> dict:
    plans = {p.name: p for p in Plan.objects.filter(name__in=["Master IB", "Sub-IB", "Introducer"])}
    if len(plans) < 3:
        return {"partners": 0, "referred": 0}
    rnd = random.Random(seed)  # noqa: S311 (demo data)
    since = now - timedelta(days=370)
    masters = max(2, book_clients // CLIENTS_PER_MASTER)
    partners: list[Partner] = []
    with transaction.atomic():
        for m in range(masters):
            city = CITIES[m % len(CITIES)]
            master = _partner(
                f"ib{m:03d}@partners.demo.test", f"{city} {COMPANIES[m % len(COMPANIES)]} {m}",
                f"BOOKIB{m:03d}", None, plans["Master IB"], since, actor,
            )  # fmt: skip
            partners.append(master)
            for s in range(2 + m % 2):
                sub = _partner(
                    f"ib{m:03d}.sub{s}@partners.demo.test", f"{city} Desk {m}-{s}",
                    f"BOOKIB{m:03d}S{s}", master, plans["Sub-IB"], since, actor,
                )  # fmt: skip
                partners.append(sub)
                if s == 0:
                    partners.append(
                        _partner(
                            f"ib{m:03d}.intro@partners.demo.test",
                            f"{city} Introducer {m}",
                            f"BOOKIB{m:03d}I",
                            sub,
                            plans["Introducer"],
                            since,
                            actor,
                        )  # fmt: skip
                    )
        taken = set(Referral.objects.values_list("client_id", flat=True)) | planted_client_ids()
        candidates = [
            (pk, created)
            for pk, created in Client.objects.filter(user__email__endswith="@book.demo.test")
            .order_by("pk")
            .values_list("pk", "created_at")
            if pk not in taken
        ]
        chosen = [c for c in candidates if rnd.random() < REFERRED_SHARE]
        referrals, links = [], []
        for pk, registered in chosen:
            partner = rnd.choice(partners)
            referrals.append(
                {
                    "partner_id": partner.pk,
                    "client_id": pk,
                    "code": partner.referral_code,
                    "campaign_link_id": None,
                    "attributed_at": registered,
                }
            )
            links.append(
                {
                    "client_id": pk,
                    "partner_id": partner.pk,
                    "valid_from": registered,
                    "reason": "Demo: referred when they registered",
                    "set_by": actor,
                }
            )
        copy_rows(Referral, referrals)
        copy_rows(ReferralLink, links)
    paid = commissions_pay(start=now - timedelta(days=35), end=now) if chosen else {"lines": 0}
    return {"partners": len(partners), "referred": len(chosen), "lines": paid.get("lines", 0)}
