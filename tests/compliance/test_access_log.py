"""Every view of a client's personal data by staff is logged (append-only, outside the audit
chain), and compliance officers read that log and every sign-in and failed attempt."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from clients.access import personal_data_viewed
from clients.models import AccessRecord, PersonalDataView
from tests.compliance.test_alerts import eager, listed_client, watch_list  # noqa: F401
from tests.conftest import login, make_client_user, make_staff
from tests.kyc.conftest import prepared

pytestmark = pytest.mark.django_db


def logged(**filters):
    return list(PersonalDataView.objects.filter(**filters).values_list("user__email", "what"))


def test_opening_the_360_kyc_case_and_a_document_logs_each_view(client):
    user, submission = prepared()
    officer = make_staff("compliance_officer")
    login(client, officer)
    assert client.get(f"/backoffice/clients/{user.client.pk}/").status_code == 200
    assert client.get(f"/backoffice/kyc/{submission.pk}/").status_code == 200
    document = submission.documents.get(kind="passport")
    assert client.get(f"/backoffice/kyc/documents/{document.pk}/").status_code == 200
    rows = PersonalDataView.objects.filter(client=user.client).order_by("id")
    assert [(r.user, r.what) for r in rows] == [
        (officer, "client_360"),
        (officer, "kyc_case"),
        (officer, "kyc_document"),
    ]
    assert rows[2].detail == f"Passport (document {document.pk})"
    assert rows[0].ip == "127.0.0.1"


def test_a_refused_view_and_the_client_reading_their_own_data_log_nothing(client):
    user, submission = prepared()
    document = submission.documents.first()
    login(client, make_staff("sales_agent"))
    assert client.get(f"/backoffice/kyc/documents/{document.pk}/").status_code == 403
    login(client, user)
    assert client.get(f"/portal/verify/documents/{document.pk}/").status_code == 200
    assert PersonalDataView.objects.count() == 0


def test_a_screening_alert_view_is_logged(client, eager):  # noqa: F811
    watch_list()
    listed, alert = listed_client()
    login(client, make_staff("compliance_officer"))
    assert client.get(f"/backoffice/compliance/alerts/{alert.pk}/").status_code == 200
    assert logged(client=listed) == [("compliance_officer@test.example", "screening_alert")]


def test_the_log_is_append_only_in_the_database():
    user = make_client_user()
    staff = make_staff("compliance_officer")
    view = PersonalDataView.objects.create(user=staff, client=user.client, what="client_360")
    for statement in (
        f"UPDATE clients_personaldataview SET what = 'dossier' WHERE id = {view.pk}",
        f"DELETE FROM clients_personaldataview WHERE id = {view.pk}",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    assert PersonalDataView.objects.get(pk=view.pk).what == "client_360"


def test_only_compliance_officers_read_the_access_log(client):
    for role in ("sales_agent", "finance_officer", "desk_manager", "ib_manager"):
        login(client, make_staff(role))
        assert client.get("/backoffice/compliance/access-log/").status_code == 403
    login(client, make_staff("compliance_officer"))
    assert client.get("/backoffice/compliance/access-log/").status_code == 200


def test_the_access_log_filters_by_person_kind_and_dates(client):
    officer = make_staff("compliance_officer")
    agent = make_staff("sales_agent")
    tia = make_client_user("tia@test.example")
    una = make_client_user("una@test.example")
    now = timezone.now()
    PersonalDataView.objects.create(user=agent, client=tia.client, what="client_360")
    PersonalDataView.objects.create(user=officer, client=una.client, what="kyc_document")
    PersonalDataView.objects.create(
        user=agent, client=una.client, what="client_360", at=now - timedelta(days=20)
    )
    AccessRecord.objects.create(user=tia, client=tia.client, kind="login", at=now, ip="203.0.113.9")
    AccessRecord.objects.create(
        user=None, kind="login_failed", at=now, ip="198.51.100.4", identifier="x@test.example"
    )
    login(client, officer)

    def ids(url, marker):
        response = client.get(url)
        assert response.status_code == 200, response.content[:400]
        return response.content.decode().count(marker)

    base = "/backoffice/compliance/access-log/"
    assert ids(base, "data-view=") == 2  # the last 7 days by default
    assert ids(base + "?tab=views&q=una@test", "data-view=") == 1
    day = (now - timedelta(days=21)).date().isoformat()
    assert ids(base + f"?tab=views&q=una@test&since={day}", "data-view=") == 2
    assert ids(base + "?tab=views&kind=kyc_document", "data-view=") == 1
    assert ids(base + "?tab=signins", "data-signin=") == 2
    assert ids(base + "?tab=signins&kind=login_failed", "data-signin=") == 1
    assert ids(base + "?tab=signins&q=203.0.113.9", "data-signin=") == 1
    assert ids(base + "?tab=signins&q=x@test", "data-signin=") == 1


@pytest.mark.parametrize(
    "query",
    [
        "?tab=views&since=not-a-date",
        "?tab=views&since=2026-05-02&until=2026-05-01",
        "?tab=signins&kind=nonsense",
        "?tab=elsewhere&page=abc",
        "?q=" + "x" * 400,
        "?tab=views&since=0001-01-01&until=9999-12-31",
        "?tab=signins&until=9999-12-31",
    ],
)
def test_bad_filters_are_told_not_a_500(client, query):
    login(client, make_staff("compliance_officer"))
    response = client.get("/backoffice/compliance/access-log/" + query)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert b"invalid-feedback" in response.content


def test_the_access_log_reads_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    officer = make_staff("compliance_officer")
    login(client, officer)
    url = "/backoffice/compliance/access-log/?tab=views"

    def add(n):
        for i in range(n):
            user = make_client_user(f"c{PersonalDataView.objects.count()}-{i}@test.example")
            PersonalDataView.objects.create(user=officer, client=user.client, what="client_360")
            AccessRecord.objects.create(user=user, kind="login", at=timezone.now())

    add(2)
    with django_assert_max_num_queries(12) as small:
        client.get(url)
    add(10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(url)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(url.replace("views", "signins"))


def test_the_360_access_section_is_for_compliance_officers_only(client):
    tia = make_client_user("tia@test.example")
    AccessRecord.objects.create(
        user=tia, kind="login_failed", at=timezone.now(), identifier="tia@test.example"
    )
    login(client, make_staff("finance_officer"))
    response = client.get(f"/backoffice/clients/{tia.client.pk}/")
    assert response.status_code == 200 and "data-360-access" not in response.content.decode()
    login(client, make_staff("compliance_officer"))
    body = client.get(f"/backoffice/clients/{tia.client.pk}/").content.decode()
    assert "data-360-access" in body and "1 failed in 30 days" in body
    assert "finance_officer@test.example" in body  # the finance officer's view is listed


def test_personal_data_viewed_ignores_non_staff():
    from django.test import RequestFactory

    tia = make_client_user("tia@test.example")
    request = RequestFactory().get("/")
    request.user = tia
    personal_data_viewed(request=request, client_id=tia.client.pk, what="client_360")
    assert PersonalDataView.objects.count() == 0
