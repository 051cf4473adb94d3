"""Client categories and the leverage they allow.

A client is retail unless compliance decides otherwise. A client asks to be treated as a
professional from the portal (`category_request_submit`); a compliance officer decides
(`category_request_decide`) with the elective professional test of MiFID II (Annex II.II.1):
at least two of three criteria met, with the evidence seen noted:

- on average 10 significant transactions a quarter over the previous four quarters;
- a financial instrument portfolio (cash included) over EUR 500,000;
- at least one year's work in the financial sector in a role that needs knowledge of such
  transactions.

A compliance officer may also set a category directly (`client_category_set`), e.g. an
institution as an eligible counterparty. Every change is audited, kept in the client record's
history, told to the client by email in their language (and in their communication history),
and reaches their trading accounts: a lower leverage cap lowers an account's leverage on the
platform, a higher one restores what the product lowered (`clients.trading.reach`).

Leverage: the kernel's limits (`brokerage.leverage_limits`) by the client's country of
residence and category. `leverage_cap_of(client)` is the highest leverage an account may have
(the highest class cap); `leverage_check` refuses more, naming the limit.
"""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from brokerage.errors import DomainError, InvalidInput
from brokerage.intl import country_name
from brokerage.leverage_limits import (
    FINER_CLASSES,
    Cap,
    CapBook,
    class_caps,
    highest,
    not_allowed,
)
from brokerage.models import ClientCategory
from brokerage.permissions import actor_require
from brokerage.services import Actor, audit_record

from . import audit_events
from .locks import lock_client
from .models import CategoryRequest, Client
from .notify import client_notify

PERM = "clients.decide_category"
CRITERIA_NEEDED = 2


class LeverageNotAllowed(DomainError):
    """That leverage is above what the client may have."""

    code = "leverage_not_allowed"


def by_nationality() -> bool:
    """Whether the nationality's limits cap a client too (off by default: ESMA's and the FCA's
    limits follow residence)."""
    return bool(getattr(settings, "LEVERAGE_LIMITS_BY_NATIONALITY", False))


def leverage_caps_of(client: Client) -> dict[str, Cap]:
    """The client's cap per instrument class: their country of residence's, and, where the
    brokerage caps by nationality too, the stricter of it and their nationality's."""
    if by_nationality() and client.nationality and client.nationality != client.country:
        return caps_from(
            CapBook.load(),
            country=client.country,
            nationality=client.nationality,
            category=client.category,
        )
    return class_caps(country=client.country, category=client.category)


def leverage_cap_of(client: Client) -> Cap | None:
    """The highest leverage an account of the client may have (the highest class cap)."""
    return highest(leverage_caps_of(client))


def caps_from(book: CapBook, *, country: str, nationality: str, category: str) -> dict[str, Cap]:
    """`leverage_caps_of` for a client of this residence, nationality and category, from
    limits read once (the book sweep): per class, the residence's cap, or the nationality's
    where the brokerage caps by nationality and it is stricter (or the residence has none)."""
    caps = book.class_caps(country=country, category=category)
    if not by_nationality() or not nationality or nationality == country:
        return caps
    for code, cap in book.class_caps(country=nationality, category=category).items():
        held = caps.get(code)
        if held is None or cap.max_leverage < held.max_leverage:
            caps[code] = replace(cap, via="nationality")
    return caps


def account_cap_from(book: CapBook, *, country: str, nationality: str, category: str):
    return highest(caps_from(book, country=country, nationality=nationality, category=category))


def leverages_allowed(client: Client, leverages) -> list[int]:
    cap = leverage_cap_of(client)
    return [x for x in leverages if cap is None or x <= cap.max_leverage]


def leverage_who(client: Client, cap: Cap) -> str:
    """Whom the cap is for, as a refusal says it: 'a retail client residing in United Kingdom'
    (or 'of France nationality', where the nationality's cap applied)."""
    category = client.get_category_display().lower()
    if cap.via == "nationality":
        return f"a {category} client of {country_name(client.nationality)} nationality"
    return f"a {category} client residing in {cap.jurisdiction_name}"


def leverage_refusal(client: Client, leverage: int) -> str | None:
    """Why `leverage` is above what the client may have, naming the limit; None if it is not."""
    cap = leverage_cap_of(client)
    if cap is None or leverage <= cap.max_leverage:
        return None
    who = leverage_who(client, cap)
    return f"1:{leverage} is above the 1:{cap.max_leverage} {who} may have, under {cap.title}."


def account_type_refusal(client: Client, account_type) -> str | None:
    """Why the client may not open an account of this type, naming the limit: it trades an
    instrument class a limit does not allow them at all (FCA PS20/10: crypto for UK retail
    clients); None if nothing keeps them from it."""
    from .instruments import LEVERAGE_CLASS_LABELS

    traded = set(account_type.instrument_classes or [])
    if not traded:
        return None
    for code, cap in not_allowed(leverage_caps_of(client)).items():
        if code in traded or FINER_CLASSES.get(code) in traded:
            return (
                f"{LEVERAGE_CLASS_LABELS.get(code, code)} is not allowed to "
                f"{leverage_who(client, cap)}, under {cap.title}, and {account_type.name} "
                "trades it. Choose another account type."
            )
    return None


def account_type_check(client: Client, account_type) -> None:
    refusal = account_type_refusal(client, account_type)
    if refusal:
        raise LeverageNotAllowed(
            refusal, code="class_not_allowed", fields={"account_type": [refusal]}
        )


def leverage_check(client: Client, leverage: int) -> None:
    refusal = leverage_refusal(client, leverage)
    if refusal:
        raise LeverageNotAllowed(refusal, fields={"leverage": [refusal]})


def _require(actor: Actor) -> None:
    actor_require(actor, PERM, "Only compliance officers decide a client's category.")


def _category(value: str) -> str:
    if value not in ClientCategory.values:
        raise InvalidInput(
            "Choose a category.", fields={"category": ["Retail, professional or eligible."]}
        )
    return value


CRITERIA = ("trades", "portfolio", "experience")
# MiFID II Annex II.II.1, as officers tick them.
CRITERIA_LABELS = {
    "trades": "10 significant trades a quarter over the last four quarters",
    "portfolio": "A portfolio, cash included, over EUR 500,000",
    "experience": "At least a year's relevant professional work in finance",
}


def _direct_check(category: str, criteria: dict, evidence: str) -> None:
    """Set directly by an officer, a professional client meets two of the three criteria and
    an eligible counterparty is named for what it is, each with the evidence seen."""
    met = sum(bool(criteria.get(c)) for c in CRITERIA)
    errors: dict[str, list[str]] = {}
    message = "The decision is incomplete."
    if category == ClientCategory.PROFESSIONAL and met < CRITERIA_NEEDED:
        message = (
            f"A professional client meets at least {CRITERIA_NEEDED} of the 3 criteria; "
            f"{met} ticked."
        )
        errors["trades_met"] = [message]
    if category != ClientCategory.RETAIL and not evidence:
        errors["evidence"] = ["Note the evidence you saw (statements, documents, licence)."]
    if len(evidence) > 2000:
        errors["evidence"] = ["At most 2,000 characters."]
    if errors:
        raise InvalidInput(message, fields=errors)


@transaction.atomic
def client_category_set(
    *,
    client: Client,
    category: str,
    actor: Actor,
    reason: str,
    notify: bool = True,
    criteria: dict | None = None,
    evidence: str = "",
) -> Client:
    """Set the client's category (compliance); audited, the client told, accounts reconciled.
    Set directly by an officer (`criteria` given: trades, portfolio, experience met), the
    criteria and the evidence are checked and kept in the audit event."""
    from .trading.reach import platform_reach_request

    _require(actor)
    category = _category(category)
    reason = (reason or "").strip()
    evidence = (evidence or "").strip()
    if not reason:
        raise InvalidInput("Say why.", fields={"reason": ["A reason is required."]})
    if criteria is not None:
        _direct_check(category, criteria, evidence)
    client = lock_client(client)
    before = client.category
    if before == category:
        return client
    client.category = category
    client.save(update_fields=["category"])
    recorded = {"from": before, "to": category}
    if criteria is not None:
        recorded.update({c: bool(criteria.get(c)) for c in CRITERIA}, evidence=evidence)
    audit_record(
        actor=actor,
        action=audit_events.CLIENT_CATEGORY_CHANGED,
        target=client,
        reason=reason[:300],
        evidence=recorded,
    )
    platform_reach_request(clients=[client], reason="category changed")
    if notify:
        _told(client, key=f"category:{client.pk}:{timezone.now().isoformat()}", actor=actor)
    return client


def _told(client: Client, *, key: str, actor: Actor, refused: str = "") -> None:
    cap = leverage_cap_of(client)
    client_notify(
        client,
        email="category_decided",
        key=key,
        actor=actor,
        url_name="portal:category",
        context={
            "category": client.get_category_display(),
            "refused": refused,
            "leverage": f"1:{cap.max_leverage}" if cap else "",
        },
        data={"category": client.category},
    )


@transaction.atomic
def category_request_submit(*, client: Client, statement: str, actor: Actor) -> CategoryRequest:
    """The client asks to be treated as a professional client."""
    statement = (statement or "").strip()
    if len(statement) < 20:
        raise InvalidInput(
            "Tell us about your trading, your portfolio and your work (a few sentences).",
            fields={"statement": ["At least 20 characters."]},
        )
    client = lock_client(client)
    if client.category != ClientCategory.RETAIL:
        raise InvalidInput("You are already treated as a professional client.")
    if client.category_requests.filter(status=CategoryRequest.Status.PENDING).exists():
        raise InvalidInput("Your request is already with our compliance team.")
    request_ = CategoryRequest.objects.create(
        client=client, category=ClientCategory.PROFESSIONAL, statement=statement[:2000]
    )
    audit_record(
        actor=actor,
        action=audit_events.CATEGORY_REQUESTED,
        target=request_,
        subject=client,
        evidence={"category": request_.category},
    )
    return request_


@transaction.atomic
def category_request_decide(
    *,
    category_request: CategoryRequest,
    approve: bool,
    trades_met: bool,
    portfolio_met: bool,
    experience_met: bool,
    evidence: str,
    reason: str,
    actor: Actor,
) -> CategoryRequest:
    """A compliance officer approves (two of three criteria met, the evidence noted) or refuses
    (with a reason) a client's request; the client is told by email either way."""
    _require(actor)
    lock_client(category_request.client_id)
    req = CategoryRequest.objects.select_for_update().get(pk=category_request.pk)
    if req.status != CategoryRequest.Status.PENDING:
        raise InvalidInput(f"This request is already decided ({req.get_status_display()}).")
    evidence, reason = (evidence or "").strip(), (reason or "").strip()
    met = sum((bool(trades_met), bool(portfolio_met), bool(experience_met)))
    errors = {}
    message = "The decision is incomplete."
    if approve and met < CRITERIA_NEEDED:
        message = (
            f"A professional client meets at least {CRITERIA_NEEDED} of the 3 criteria; "
            f"{met} ticked."
        )
    if approve and not evidence:
        errors["evidence"] = ["Note the evidence you saw for the criteria met."]
    if not approve and not reason:
        errors["reason"] = ["Say why the request is refused: the client reads it."]
    for field, text, most in (("evidence", evidence, 2000), ("reason", reason, 500)):
        if len(text) > most:
            errors[field] = [f"At most {most:,} characters."]
    if errors or (approve and met < CRITERIA_NEEDED):
        raise InvalidInput(message, fields=errors)
    req.status = CategoryRequest.Status.APPROVED if approve else CategoryRequest.Status.REFUSED
    req.trades_met, req.portfolio_met = bool(trades_met), bool(portfolio_met)
    req.experience_met = bool(experience_met)
    req.evidence, req.decision_reason = evidence, reason
    req.decided_by = None if isinstance(actor, str) else actor
    req.decided_at = timezone.now()
    req.save()
    audit_record(
        actor=actor,
        action=(
            audit_events.CATEGORY_REQUEST_APPROVED
            if approve
            else audit_events.CATEGORY_REQUEST_REFUSED
        ),
        target=req,
        subject=req.client,
        reason=reason or evidence,
        evidence={
            "category": req.category,
            "trades": req.trades_met,
            "portfolio": req.portfolio_met,
            "experience": req.experience_met,
            "evidence": req.evidence,
        },
    )
    key = f"category_request:{req.pk}:decided"
    if approve:
        client_category_set(
            client=req.client,
            category=req.category,
            actor=actor,
            reason=f"category request {req.pk} approved: {evidence}"[:300],
            notify=False,
        )
        _told(Client.objects.get(pk=req.client_id), key=key, actor=actor)
    else:
        _told(req.client, key=key, actor=actor, refused=reason)
    return req


def category_requests_pending():
    return CategoryRequest.objects.filter(status=CategoryRequest.Status.PENDING).select_related(
        "client__user"
    )


def category_360(client: Client, user):
    """The client 360's section: the category and the leverage caps by instrument class (each
    account's state on the platform is in the trading section). No query for a client no
    limit can reach (no country); two otherwise."""
    from django.urls import reverse

    from .client360 import Contribution, Section
    from .instruments import LEVERAGE_CLASSES

    caps = leverage_caps_of(client)
    return Contribution(
        sections=[
            Section(
                "category",
                "Category and leverage",
                "clients/360/_category.html",
                {
                    "category": client.get_category_display(),
                    "cap": highest(caps),
                    "class_caps": [(label, caps[k]) for k, label in LEVERAGE_CLASSES if k in caps],
                    "manage_url": reverse("clients:leverage", args=[client.pk])
                    if user.has_perm(PERM) or user.has_perm("clients.change_account_leverage")
                    else "",
                },
                order=25,
                column="side",
                icon="speedometer2",
                badge=client.get_category_display(),
            )
        ]
    )
