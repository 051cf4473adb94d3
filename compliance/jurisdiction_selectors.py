"""Compliance's reads of the jurisdiction rules on a client: the reason their standing carries
while a blocked or restricted rule reaches them, and what the client 360 and the portal show."""

from __future__ import annotations

from brokerage.country_rules import client_country_rules, strictest
from brokerage.models import CountryRule
from brokerage.portal import Notice
from brokerage.statements import Statement
from clients.standing import Purpose, Reason, Severity

from .models import RuleApplication

Kind = CountryRule.Kind
WITHDRAW_ONLY = "Existing clients withdraw only."


def jurisdiction_reason(client) -> Reason | None:
    """The reason a blocked or restricted rule on the client's residence or nationality puts
    on every purpose but withdrawing, naming the rule (to staff and to the client alike: a
    country rule is the brokerage's public policy, not a matter to keep from them)."""
    applied = strictest(client_country_rules(client), Kind.BLOCKED, Kind.RESTRICTED)
    if applied is None:
        return None
    return Reason(
        f"jurisdiction_{applied.kind}",
        Severity.BLOCK,
        f"{applied.message} {WITHDRAW_ONLY}",
        f"{applied.message} Trading on your accounts is stopped; you can withdraw your funds, "
        "and our dealing desk closes open positions for you on request.",
    )


def jurisdiction_standing(client, purpose, *, amount_usd=None):
    """Compliance's jurisdiction reasons in a client's standing (`clients.standing`): withdraw
    only. Every purpose but WITHDRAW (deposit, transfer, account opening, trading and any
    purpose added later) is blocked; a block stops trading on the platform too."""
    if Purpose(purpose) == Purpose.WITHDRAW:
        return
    reason = jurisdiction_reason(client)
    if reason is not None:
        yield reason


_APPLICATIONS = Statement(
    lambda v: (
        RuleApplication.objects.filter(client_id=v.client_id)
        .select_related("rule")
        .order_by("-applied_at", "-pk")[:10]
    )
)


def client_rules_summary(client) -> dict:
    """The rules that apply to the client now, and what the restricting ones imposed."""
    return {
        "applied": client_country_rules(client),
        "applications": _APPLICATIONS(client_id=client.pk),
    }


def jurisdiction_notices(client):
    """The portal notice while a blocked or restricted rule reaches the client, naming it
    (hook `portal.notices`)."""
    reason = jurisdiction_reason(client)
    if reason is not None:
        yield Notice(
            reason.code,
            "Your account is limited to withdrawals.",
            reason.client_message,
            icon="globe2",
            order=10,
        )


def rule_apply_jobs_latest(rule_ids) -> dict:
    """The latest application of each of these rules to its clients (an officer's change with
    effect now), by rule id: one query."""
    from .models import RuleApplyJob

    rows = (
        RuleApplyJob.objects.filter(rule_id__in=list(rule_ids))
        .order_by("rule_id", "-requested_at", "-pk")
        .distinct("rule_id")
    )
    return {job.rule_id: job for job in rows}
