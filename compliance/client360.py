"""Compliance's part of the client 360, for compliance officers only (never tip off sales or
support): the client's risk rating with its factors and periodic review, the last screening,
the alerts undecided or blocking, and who signed in as the client and which staff opened their
data, and their AML cases. Ten queries."""

from django.urls import reverse

from clients.access import FAILURES
from clients.client360 import Contribution, Section
from clients.selectors import client_access_summary

from .case_selectors import client_case_summary
from .jurisdiction_selectors import client_rules_summary
from .permissions import PERM
from .risk import client_risk_summary
from .selectors import client_alert_summary


def compliance_360(client, user) -> Contribution:
    if not user.has_perm(PERM):
        return Contribution()
    summary = client_alert_summary(client)
    rows = [
        {
            "alert": a,
            "url": reverse("compliance:alert", args=[a.pk]),
            "score_pct": round(100 * a.score),
        }
        for a in summary["alerts"]
    ]
    badge = "blocked" if summary["blocking"] else (str(len(rows)) if rows else "")
    risk = client_risk_summary(client)
    cases = client_case_summary(client)
    return Contribution(
        sections=[
            Section(
                "cases",
                "AML cases",
                "compliance/_360_cases.html",
                {**cases, "client_id": client.pk},
                order=22,
                column="side",
                icon="folder2-open",
                badge=f"{cases['active']} active" if cases["active"] else "",
            ),
            Section(
                "risk",
                "Risk rating",
                "compliance/_360_risk.html",
                {**risk, "client": client},
                order=23,
                column="side",
                icon="speedometer2",
                badge=client.get_risk_rating_display() if client.risk_rating else "",
            ),
            Section(
                "access",
                "Access",
                "compliance/_360_access.html",
                {
                    **client_access_summary(client),
                    "email": client.user.email,
                    "client_id": client.pk,
                    "failures": FAILURES,
                },
                order=26,
                column="side",
                icon="eye",
            ),
            Section(
                "compliance",
                "Sanctions screening",
                "compliance/_360_screening.html",
                {"last_run": summary["last_run"], "rows": rows, "blocking": summary["blocking"]},
                order=24,
                column="side",
                icon="shield-exclamation",
                badge=badge,
            ),
        ]
    )


def jurisdiction_360(client, user) -> Contribution:
    """The jurisdiction rules that apply to the client now (by residence and nationality) and
    what the restricting ones imposed, with when; for compliance officers only, as the rest of
    compliance's 360 (the rules themselves are public policy, but which were applied to a
    client and when is compliance's record). Other staff read what stops the client in its
    standing, whose reasons name the rule. Two queries."""
    if not user.has_perm(PERM):
        return Contribution()
    summary = client_rules_summary(client)
    applied = summary["applied"]
    return Contribution(
        sections=[
            Section(
                "jurisdictions",
                "Jurisdiction rules",
                "compliance/_360_jurisdictions.html",
                {**summary, "manage": True},
                order=25,
                column="side",
                icon="globe2",
                badge=applied[0].rule.get_kind_display() if applied else "",
            )
        ]
    )
