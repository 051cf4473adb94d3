"""Compliance's queues and tables, and the client's category and finances pages, read as many
queries with eight rows as with one: a cap on one size alone lets a query per row slip under
it while the rows are few."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients.categories import category_request_submit
from compliance.jurisdictions import country_rule_add
from compliance.models import PeriodicReview
from compliance.rating import country_risk_set, review_complete, risk_assess
from kyc.financial_profile import sof_document_upload
from tests.conftest import login, make_client_user, make_staff
from tests.kyc.test_financial_profile import _pdf

pytestmark = pytest.mark.django_db

COUNTRIES = ["FR", "DE", "ES", "IT", "PT", "NL", "BE", "AT"]
BACKOFFICE = [
    "/backoffice/compliance/reviews/",
    "/backoffice/compliance/reviews/?due=completed",
    "/backoffice/kyc/source-of-funds/",
    "/backoffice/kyc/source-of-funds/?status=",
    "/backoffice/compliance/categories/",
    "/backoffice/compliance/categories/?status=all",
    "/backoffice/compliance/jurisdictions/",
    "/backoffice/compliance/country-risk/",
    "/backoffice/compliance/leverage/",
]
PORTAL = ["/portal/category/", "/portal/finances/"]


def _row(n: int, officer, first_user):
    """One more row in every table: a client with a category request, a rating and its
    reviews (one completed), a source-of-funds document; a rule and a country risk. The
    first client gets one more request and document each time, for the portal's lists."""
    user = make_client_user(f"q{n}@test.example")
    trader = user.client
    trader.country = "GB"
    trader.save()
    category_request_submit(client=trader, statement="Forty trades a quarter " * 2, actor=user)
    risk_assess(client_id=trader.pk, cause="test")
    review = PeriodicReview.objects.get(client=trader, status="open")
    review_complete(review=review, actor=officer, outcome="satisfactory", notes="Checked")
    for owner in {user, first_user}:
        sof_document_upload(
            client=owner.client, actor=owner, description=f"Payslips {n}", uploaded_file=_pdf()
        )
    country_rule_add(actor=officer, country=COUNTRIES[n], kind="edd", basis="FATF grey list")
    country_risk_set(actor=officer, country=COUNTRIES[n], level="medium", note="FATF")


def _counts(client, user, urls) -> dict[str, int]:
    login(client, user)
    out = {}
    for url in urls:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200, url
        out[url] = len(ctx)
    return out


def test_the_queues_read_as_many_queries_with_eight_rows_as_with_one(client):
    officer = make_staff("compliance_officer")
    first = make_client_user("first@test.example")
    _row(0, officer, first)
    PeriodicReview.objects.update(due_on="2020-01-01")  # every open review overdue: listed
    one = {**_counts(client, officer, BACKOFFICE), **_counts(client, first, PORTAL)}
    for n in range(1, 8):
        _row(n, officer, first)
    PeriodicReview.objects.update(due_on="2020-01-01")
    eight = {**_counts(client, officer, BACKOFFICE), **_counts(client, first, PORTAL)}
    assert eight == one
    page = client.get("/portal/finances/").content.decode()
    assert page.count("data-sof=") == 8  # the first client's eight documents are listed


def test_the_alert_and_case_queues_read_as_many_queries_with_30_rows_as_with_3(client):
    from compliance.cases import case_open
    from compliance.monitoring import evaluate_transaction
    from tests.compliance.monitoring import factories as f
    from tests.compliance.test_alerts import listed_client, watch_list

    officer = make_staff("compliance_officer")
    watch_list()

    def add(start, n):
        for i in range(start, start + n):
            _listed, screening_alert = listed_client(f"listed{i}@test.example")
            trader = f.client(f"Aml Trader{i}")
            rows = [f.deposit(trader, a, at=f.ago(d + 1)) for d, a in enumerate([9500, 9600, 9700])]
            assert evaluate_transaction("deposit", rows[-1].pk)
            case_open(client=screening_alert.client, actor=officer, summary=f"Case {i}")

    urls = [
        "/backoffice/compliance/alerts/",
        "/backoffice/compliance/monitoring/alerts/",
        "/backoffice/compliance/cases/",
        "/backoffice/compliance/",
    ]
    add(0, 3)
    few = _counts(client, officer, urls)
    add(3, 27)
    assert _counts(client, officer, urls) == few
