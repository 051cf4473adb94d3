"""Walks every page of the product as every audience and checks it against the role matrix.

The matrix below is the one in docs/roles.md. A new URL that is not in it fails this test:
decide who may open it, write it in both places.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from brokerage.models import AuditEvent
from brokerage.roles import ROLES
from tests.conftest import AUDIENCES, login, make_user

STAFF = set(ROLES)
EVERYONE = {*STAFF, "client", "partner", "anonymous"}

CLIENT_VIEWERS = STAFF - {"ib_manager"}
REPORT_READERS = {"desk_manager", "executive", "dealer", "compliance_officer", "finance_officer"}
TICKET_ANSWERERS = {"senior_account_manager", "retention_agent", "desk_manager", "ops_admin"}

MATRIX: dict[str, set[str]] = {
    "root": EVERYONE,  # redirects each audience to its own home
    "healthz": EVERYONE,
    "favicon": EVERYONE,
    "referrals:link": EVERYONE,  # an IB's referral link: remembers the code, opens sign-up
    "backoffice:home": STAFF,
    "backoffice:audit_log": {"compliance_officer", "ops_admin"},
    "backoffice:audit_event": {"compliance_officer", "ops_admin"},
    "backoffice:regions": {"compliance_officer", "ib_manager"},
    "backoffice:region": {"compliance_officer", "ib_manager"},
    "backoffice:team": {"desk_manager", "ops_admin"},
    "backoffice:system": {"ops_admin"},
    # each staff member's alerts; a team's heads set its limits (test_alerts.py)
    "backoffice:alerts": STAFF,
    "backoffice:alerts_read": STAFF,
    "backoffice:alerts_badge": STAFF,
    "backoffice:alert_limit": STAFF,
    # the team dashboards: the roles that lead each team, and executives
    "backoffice:dashboard_sales": {"desk_manager", "executive"},
    "backoffice:dashboard_retention": {"desk_manager", "executive"},
    "backoffice:dashboard_finance": {"finance_officer", "executive"},
    "backoffice:dashboard_compliance": {"compliance_officer", "executive"},
    "backoffice:dashboard_dealing": {"dealer", "executive"},
    # scheduled reports of the dashboards a role opens (tests/brokerage/test_reports.py)
    **{
        f"backoffice:{name}": REPORT_READERS for name in ("reports", "report_end", "report_preview")
    },
    # the money behind the leadership figures, read only, for those who lead
    "finance:figures": {"desk_manager", "executive"},
    "portal:home": {"client"},
    "portal:profile": {"client"},
    "portal:language": {"client"},
    "portal:support": {"client"},
    "portal:ticket": {"client"},  # then: own tickets only (tests/clients/test_support.py)
    "clients:list": CLIENT_VIEWERS,  # then scoped to the desk's clients for desk roles
    "clients:all": {"compliance_officer", "finance_officer", "ops_admin", "executive", "dealer"},
    "clients:detail": CLIENT_VIEWERS,  # then scoped (tests/clients/test_client360.py)
    "clients:deals": CLIENT_VIEWERS,  # the deals behind the trading figures, scoped likewise
    "clients:positions": CLIENT_VIEWERS,  # the open positions behind the exposure, likewise
    # an executive or a dealer reads, records nothing
    "clients:note": CLIENT_VIEWERS - {"executive", "dealer"},
    "clients:call": CLIENT_VIEWERS - {"executive", "dealer"},
    # an account's leverage (compliance, ops) and the category (compliance; ops: 403 on it)
    "clients:leverage": {"compliance_officer", "ops_admin"},
    "clients:tickets": TICKET_ANSWERERS,
    "clients:ticket": TICKET_ANSWERERS,
    "clients:emails": {"compliance_officer", "ops_admin"},  # the emails clients are sent
    "clients:email": {"compliance_officer", "ops_admin"},
    "clients:email_html": {"compliance_officer", "ops_admin"},
    "partners:home": {"partner"},
    "partners:network": {"partner"},
    "partners:clients": {"partner"},  # then: its own referrals only (test_partner_api.py)
    "partners:sub_rates": {"partner"},
    "partners:commissions": {"partner"},
    "ib:partners": {"ib_manager"},
    "ib:partner": {"ib_manager"},
    "ib:periods": {"ib_manager"},
    "ib:unpriced": {"ib_manager"},
    "ib:fraud": {"ib_manager"},
    "ib:disputes": {"ib_manager"},
    "ib:dispute": {"ib_manager"},
    "ib:withheld": {"ib_manager"},
    "ib:plans": {"ib_manager"},
    "ib:plan": {"ib_manager"},
    "ib:version": {"ib_manager"},
    "partners:disputes": {"partner"},
    "partners:dispute_new": {"partner"},  # its own lines only: another's is a 404
    "partners:statements": {"partner"},
    "partners:statement_download": {"partner"},
    "partners:rebates": {"partner"},
    "partners:api_tokens": {"partner"},  # then: own tokens only (tests/ib/test_partner_api.py)
    "partners:api_token_revoke": {"partner"},
    "partners:links": {"partner"},  # then: own links only (tests/ib/test_campaign_links.py)
    "partners:earnings": {"partner"},  # then: own lines only (test_partner_earnings_payouts)
    "partners:payouts": {"partner"},
    "partners:payout_request": {"partner"},
    "partners:link": {"partner"},
    "ib:links": {"ib_manager"},
    "partners:invitations": {"partner"},
    "partners:invitation_withdraw": {"partner"},
    "partners:application": {"partner"},  # an applicant's; a partner with none goes on home
    "partners:agreement": {"partner"},  # the version to accept; with none due, home
    "partners:signup": {"anonymous"},  # visitors only: signed-in users are sent home
    "partners:join": {"anonymous"},
    "ib:applications": {"ib_manager"},
    "ib:application": {"ib_manager"},
    "ib:agreements": {"ib_manager"},
    "admin:index": {"ops_admin"},
    "compliance:lists": {"compliance_officer"},
    "compliance:jobs": {"compliance_officer"},
    "compliance:snapshot": {"compliance_officer"},
    "compliance:screening": {"compliance_officer"},
    "compliance:alerts": {"compliance_officer"},
    "compliance:alert": {"compliance_officer"},
    "compliance:workspace": {"compliance_officer"},
    "compliance:aml_alerts": {"compliance_officer"},
    "compliance:aml_alert": {"compliance_officer"},
    "compliance:aml_scenarios": {"compliance_officer"},
    "compliance:aml_scenario": {"compliance_officer"},
    "compliance:cases": {"compliance_officer"},
    "compliance:case_new": {"compliance_officer"},
    "compliance:case": {"compliance_officer"},
    "compliance:case_attachment": {"compliance_officer"},
    "compliance:case_report": {"compliance_officer"},
    "compliance:jurisdictions": {"compliance_officer"},
    "compliance:jurisdiction": {"compliance_officer"},
    "compliance:leverage_limits": {"compliance_officer"},
    "compliance:leverage_limit_remove": {"compliance_officer"},
    "compliance:category_requests": {"compliance_officer"},
    "compliance:category_request": {"compliance_officer"},
    "compliance:reviews": {"compliance_officer"},
    "compliance:review": {"compliance_officer"},
    "compliance:country_risks": {"compliance_officer"},
    "compliance:access_log": {"compliance_officer"},
    "compliance:dossiers": {"compliance_officer"},
    "compliance:dossier_rows": {"compliance_officer"},
    "compliance:dossier_download": {"compliance_officer"},
    "compliance:dossier_for_client": {"compliance_officer"},
    "leads:inbox": {"sales_agent", "senior_account_manager"},
    "leads:all": {"ops_admin"},
    "leads:desk": {"desk_manager"},
    "leads:detail": STAFF,  # then scoped per lead (tests/leads/test_views.py)
    "leads:note": STAFF,
    "leads:call": STAFF,
    "leads:status": STAFF,
    "leads:reassign": STAFF,
    "leads:email": STAFF,
    "leads:callback": STAFF,  # then scoped per lead (tests/leads/test_callbacks.py)
    "leads:callback_done": STAFF,  # then: own callbacks, or leads one works
    "leads:desk_sla": {"desk_manager"},  # then: desks they manage (tests/leads/test_sla.py)
    "leads:desk_leads": {"desk_manager"},  # their desks' leads
    "leads:figures": {"desk_manager", "executive"},  # the leads behind the figures, read only
    "leads:bulk_reassign": {"desk_manager", "ops_admin"},  # then by desk (test_bulk.py)
    "leads:imports": {"desk_manager", "ops_admin"},
    "leads:import": {"desk_manager", "ops_admin"},
    "leads:import_progress": {"desk_manager", "ops_admin"},
    "leads:import_errors": {"desk_manager", "ops_admin"},
    "lead_unsubscribe": EVERYONE,  # the signed link in nurture emails
    **{
        f"retention:{name}": {"senior_account_manager", "retention_agent", "desk_manager"}
        for name in ("queue", "flag", "action")  # then scoped to their desks' clients
    },
    "retention:settings": {"desk_manager", "ops_admin"},  # desk managers: their desks only
    "kyc:wizard": {"client"},
    "kyc:address": {"client"},  # POST: the profile's address card
    "kyc:document": {"client", "compliance_officer"},  # then: own documents only
    "kyc_review:queue": {"compliance_officer"},
    "kyc_review:review": {"compliance_officer"},
    "kyc_review:document": {"client", "compliance_officer"},
    "kyc:finances": {"client"},
    "kyc:sof_file": {"client", "compliance_officer"},  # then: own documents only
    "kyc_review:sof_queue": {"compliance_officer"},
    "kyc_review:sof_review": {"compliance_officer"},
    "kyc_review:sof_file": {"client", "compliance_officer"},
    "wallet:home": {"client"},
    "wallet:deposit": {"client"},
    "wallet:deposit_status": {"client"},  # then: own deposits only
    "wallet:withdraw": {"client"},
    "wallet:withdraw_wire": {"client"},
    "wallet:withdrawal_cancel": {"client"},
    "wallet:statement": {"client"},
    "wallet:transfer": {"client"},
    "wallet:transfer_status": {"client"},  # then: own transfers only
    "portal:trading": {"client"},
    "platforms:status": {"ops_admin"},
    "portal:account_open": {"client"},
    "portal:account": {"client"},  # then: own accounts only
    "portal:account_password": {"client"},  # then: own accounts only
    "portal:account_leverage": {"client"},  # then: own accounts only
    "portal:category": {"client"},
    "portal:terms": {"client"},  # before anything else in the portal (tests/clients/test_terms.py)
    "portal:terms_text": EVERYONE,  # the sign-up form links to the texts
    "clients:terms": {"compliance_officer"},
    **{
        f"finance:{name}": {"finance_officer", "compliance_officer"}
        for name in (
            "withdrawals",
            "withdrawal",
            "deposits",
            "deposit",
            "transactions",
            "transactions_csv",
            "chargebacks",
            "chargeback",
            "chargeback_evidence",
            "client_statement",
            "thresholds",  # compliance reads; only finance officers change (test_thresholds.py)
            "wires",  # compliance reads; only finance officers act (test_wires_http.py)
            "wire_entry",
            "wire_payments",
        )
    },
    **{
        f"finance:{name}": {"finance_officer"}
        for name in (
            "reconciliations",
            "reconciliation",
            "reconciliation_progress",
            "reconciliation_close",
            "reconciliation_resolve",
            "wire_batch",  # a payment file for the bank
            "wire_return",
            "fx_conversion",  # the broker's own FX position
            "fx_conversion_csv",
        )
    },
}

# A team's head opens what its officers open (brokerage.roles: the same permissions, and the
# team's alerts).
HEADS = {"finance_officer": "head_of_finance", "compliance_officer": "head_of_compliance"}
for _allowed in MATRIX.values():
    _allowed |= {head for officer, head in HEADS.items() if officer in _allowed}

# Pages about one object are walked with an id that does not exist: passing the role gate
# shows as 404. POST-only actions show as 405 once past the gate.
ALLOWED_STATUS = {
    "portal:ticket": 404,
    "portal:terms_text": 404,
    "portal:language": 405,
    "backoffice:region": 404,
    "clients:detail": 404,
    "clients:leverage": 404,
    "clients:note": 405,
    "backoffice:alerts_read": 405,
    "backoffice:alert_limit": 405,
    "backoffice:report_end": 405,
    "backoffice:report_preview": 405,
    "clients:call": 405,
    "clients:ticket": 404,
    "leads:detail": 404,
    "leads:import": 404,
    "leads:import_progress": 404,
    "leads:import_errors": 404,
    "kyc:document": 404,
    "kyc_review:review": 404,
    "kyc_review:document": 404,
    "kyc:sof_file": 404,
    "kyc_review:sof_review": 404,
    "kyc_review:sof_file": 404,
    "wallet:deposit_status": 404,
    "wallet:withdrawal_cancel": 405,
    "kyc:address": 405,
    "wallet:transfer_status": 404,
    "portal:account": 404,
    "portal:account_password": 404,
    "portal:account_leverage": 405,
    "wallet:statement": 404,  # a new client has no wallet yet
    "finance:withdrawal": 404,
    "finance:deposit": 404,
    "finance:chargeback": 404,
    "finance:chargeback_evidence": 404,
    "finance:client_statement": 404,
    "finance:reconciliation": 404,
    "finance:reconciliation_progress": 404,
    "finance:reconciliation_close": 405,
    "finance:reconciliation_resolve": 405,
    "finance:wire_entry": 404,
    "finance:wire_batch": 404,
    "partners:statement_download": 404,
    "partners:sub_rates": 404,
    "partners:api_token_revoke": 405,
    "partners:invitation_withdraw": 405,
    "partners:signup": 404,  # closed: no programme takes public sign-ups in this test
    "partners:join": 404,  # no such invitation
    "ib:application": 404,
    "compliance:snapshot": 404,
    "compliance:alert": 404,
    "compliance:aml_alert": 404,
    "compliance:aml_scenario": 404,  # no such scenario
    "compliance:case_new": 404,  # opened from an alert or a client: none given
    "compliance:case": 404,
    "compliance:case_attachment": 404,
    "compliance:case_report": 404,
    "compliance:jurisdiction": 404,  # no such country
    "compliance:leverage_limit_remove": 405,
    "compliance:dossier_download": 404,
    "compliance:dossier_for_client": 405,
    "compliance:category_request": 404,
    "compliance:review": 404,
    "ib:partner": 404,
    "ib:dispute": 404,
    "ib:plan": 404,
    "ib:version": 404,
    "partners:dispute_new": 404,
    "partners:link": 404,
    "finance:wire_return": 405,
    "retention:flag": 404,
    "retention:action": 405,
    "leads:note": 405,
    "leads:call": 405,
    "leads:status": 405,
    "leads:reassign": 405,
    "leads:email": 405,
    "leads:callback": 405,
    "leads:callback_done": 405,
    "leads:desk_sla": 405,
    "leads:bulk_reassign": 405,
}

URL_KWARGS = {
    "backoffice:report_end": {"pk": 999999},
    "backoffice:report_preview": {"pk": 999999},
    "backoffice:alert_limit": {"metric": "finance.psp_decline_rate"},
    "portal:ticket": {"ticket_id": 999999},
    "portal:terms_text": {"version_id": 999999},
    "clients:detail": {"client_id": 999999},
    "clients:note": {"client_id": 999999},
    "clients:call": {"client_id": 999999},
    "clients:leverage": {"client_id": 999999},
    "clients:ticket": {"ticket_id": 999999},
    "clients:email": {"name": "kyc_approved"},
    "clients:email_html": {"name": "kyc_approved"},
    "referrals:link": {"code": "IBTEST01"},
    "lead_unsubscribe": {"token": "not-a-valid-token"},
    "kyc:document": {"document_id": 999999},
    "kyc_review:document": {"document_id": 999999},
    "kyc:sof_file": {"document_id": 999999},
    "kyc_review:sof_review": {"document_id": 999999},
    "kyc_review:sof_file": {"document_id": 999999},
    "kyc_review:review": {"submission_id": 999999},
    "wallet:deposit_status": {"reference": "DNOSUCH"},
    "wallet:withdrawal_cancel": {"reference": "WNOSUCH"},
    "wallet:transfer_status": {"comment": "BO-TR-NOSUCH"},
    "portal:account": {"account_id": 999999},
    "portal:account_password": {"account_id": 999999},
    "portal:account_leverage": {"account_id": 999999},
    "retention:flag": {"flag_id": 999999},
    "retention:action": {"flag_id": 999999},
    "finance:withdrawal": {"withdrawal_id": 999999},
    "finance:deposit": {"deposit_id": 999999},
    "finance:chargeback": {"chargeback_id": 999999},
    "finance:chargeback_evidence": {"evidence_id": 999999},
    "finance:client_statement": {"client_id": 999999},
    "finance:reconciliation": {"run_id": 999999},
    "finance:reconciliation_progress": {"run_id": 999999},
    "finance:reconciliation_close": {"run_id": 999999},
    "finance:reconciliation_resolve": {"item_id": 999999},
    "finance:wire_entry": {"entry_id": 999999},
    "finance:wire_batch": {"batch_id": 999999},
    "finance:wire_return": {"withdrawal_id": 999999},
    "partners:statement_download": {"statement_id": 999999, "fmt": "pdf"},
    "partners:sub_rates": {"partner_id": 999999},
    "partners:api_token_revoke": {"token_id": 999999},
    "partners:invitation_withdraw": {"invitation_id": 999999},
    "partners:join": {"token": "no-such-invitation"},
    "ib:application": {"application_id": 999999},
    "compliance:snapshot": {"snapshot_id": 999999},
    "compliance:alert": {"alert_id": 999999},
    "compliance:aml_alert": {"alert_id": 999999},
    "compliance:aml_scenario": {"code": "no_such_scenario"},
    "compliance:case": {"case_id": 999999},
    "compliance:case_attachment": {"case_id": 999999, "attachment_id": 999999},
    "compliance:case_report": {"case_id": 999999, "fmt": "pdf"},
    "compliance:jurisdiction": {"country": "ZZ"},
    "backoffice:region": {"pk": 999999},
    "compliance:leverage_limit_remove": {"limit_id": 999999},
    "compliance:dossier_download": {"export_id": 999999},
    "compliance:dossier_for_client": {"client_id": 999999},
    "compliance:category_request": {"request_id": 999999},
    "compliance:review": {"review_id": 999999},
    "ib:partner": {"partner_id": 999999},
    "ib:dispute": {"dispute_id": 999999},
    "ib:plan": {"plan_id": 999999},
    "ib:version": {"version_id": 999999},
    "partners:dispute_new": {"line_id": 999999},
    "partners:link": {"link_id": 999999},
    **{
        name: {"lead_id": 999999}
        for name in (
            "leads:detail",
            "leads:note",
            "leads:call",
            "leads:status",
            "leads:reassign",
            "leads:email",
            "leads:callback",
        )
    },
    "leads:callback_done": {"callback_id": 999999},
    "leads:desk_sla": {"desk_id": 999999},
    **{
        name: {"import_id": 999999}
        for name in ("leads:import", "leads:import_progress", "leads:import_errors")
    },
}

# Sign-up pages: a signed-in user of any audience is sent to its own home.
SIGNED_IN_SENT_HOME = {"partners:signup", "partners:join"}
# Pages with nothing to show the audience allowed them here, which go on to its home: a partner
# that is not an applicant and has no agreement version to accept.
SENT_ON = {"partners:application": "/partners/", "partners:agreement": "/partners/"}

# Mounted by libraries and covered by their own tests here: allauth's pages (test_auth.py),
# the API (test_api.py) and Django admin's model pages (admin:index stands for the whole site).
EXCLUDED_PREFIXES = ("accounts/", "api/", "admin/", "static/")


def walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern) and p.name:
            yield prefix + str(p.pattern), f"{namespace}{p.name}"


def product_url_names() -> set[str]:
    names = {
        name
        for route, name in walk(get_resolver().url_patterns)
        if not route.startswith(EXCLUDED_PREFIXES)
    }
    return names | {"admin:index"}


def test_every_url_is_in_the_matrix():
    missing = product_url_names() - MATRIX.keys()
    assert not missing, f"URLs with no access rule in the matrix (and docs/roles.md): {missing}"
    stale = MATRIX.keys() - product_url_names()
    assert not stale, f"Matrix names URLs that no longer exist: {stale}"


@pytest.mark.parametrize("audience", AUDIENCES)
def test_each_audience_reaches_exactly_its_pages(db, client, audience):
    login(client, make_user(audience))
    # Event ids come from a sequence that test flushes do not reset: take a real one.
    first_event = AuditEvent.objects.order_by("pk").values_list("pk", flat=True).first() or 1
    kwargs = URL_KWARGS | {"backoffice:audit_event": {"pk": first_event}}
    wrong = []
    for name in sorted(product_url_names()):
        url = reverse(name, kwargs=kwargs.get(name))
        response = client.get(url, follow=True)
        final = response.request["PATH_INFO"]
        if name == "healthz":
            ok = response.status_code in (200, 503)
            outcome = "public"
        elif name == "favicon":
            first = client.get(url)
            ok = first.status_code in (301, 302) and first["Location"].startswith("/static/")
            outcome = f"{first.status_code}"
        elif name in ("root", "referrals:link"):
            ok = response.status_code == 200
            outcome = final
        elif name in SIGNED_IN_SENT_HOME and audience != "anonymous":
            ok = response.status_code == 200 and final != url
            outcome = f"{response.status_code} at {final}"
        elif name in SENT_ON and audience in MATRIX[name]:
            ok = response.status_code == 200 and final == SENT_ON[name]
            outcome = f"{response.status_code} at {final}"
        elif audience in MATRIX[name]:
            ok = response.status_code == ALLOWED_STATUS.get(name, 200) and final == url
            outcome = f"{response.status_code} at {final}"
        elif audience == "anonymous":
            ok = final.startswith("/accounts/login/")
            outcome = f"{response.status_code} at {final}"
        else:
            ok = response.status_code == 403
            outcome = f"{response.status_code} at {final}"
        if not ok:
            allowed = "allowed" if audience in MATRIX[name] else "denied"
            wrong.append(f"{name} ({url}) should be {allowed}, got {outcome}")
    assert not wrong, f"{audience}: " + "; ".join(wrong)


@pytest.mark.parametrize(
    ("audience", "home"),
    [
        ("ops_admin", "/backoffice/"),
        ("client", "/portal/"),
        ("partner", "/partners/"),
        ("anonymous", "/accounts/login/"),
    ],
)
def test_root_sends_each_audience_home(db, client, audience, home):
    login(client, make_user(audience))
    response = client.get("/", follow=True)
    assert response.request["PATH_INFO"] == home
