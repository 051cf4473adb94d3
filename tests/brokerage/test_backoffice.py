import pytest

from brokerage.audit import audit_seal_all
from brokerage.models import AuditSeal, Desk
from brokerage.services import audit_record
from tests.conftest import login, make_staff

pytestmark = pytest.mark.django_db


def test_home_shows_kpis_and_charts_for_the_role(as_role):
    client = as_role("compliance_officer")
    page = client.get("/backoffice/")
    assert page.status_code == 200
    kpis = {k.label for k in page.context["panel"].kpis}
    assert {"Clients", "IB partners", "Audited decisions today"} <= kpis
    assert b'id="dashboard-charts"' in page.content
    assert b"chart.umd.min.js" in page.content


def test_home_hides_audit_panels_from_roles_without_the_right(as_role):
    page = as_role("sales_agent").get("/backoffice/")
    assert "Audited decisions today" not in {k.label for k in page.context["panel"].kpis}
    assert page.context["recent_events"] is None
    nav = [i["label"] for i in page.context["nav_items"]]
    assert nav == ["Home", "Clients", "My leads"]


def test_every_page_sends_a_strict_csp(as_role):
    response = as_role("ops_admin").get("/backoffice/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert b"<script>" not in response.content  # no inline scripts anywhere


def test_audit_log_search_filter_and_htmx_fragment(as_role):
    client = as_role("compliance_officer")
    audit_record(actor="rule:test", action="withdrawal.approved", reason="limit ok")
    audit_record(actor="rule:test", action="lead.assigned", reason="round robin")
    page = client.get("/backoffice/audit/", {"action": "lead.assigned"})
    actions = {e.action for e in page.context["page"]}
    assert actions == {"lead.assigned"}
    page = client.get("/backoffice/audit/", {"q": "limit"})
    assert {e.action for e in page.context["page"]} == {"withdrawal.approved"}
    fragment = client.get("/backoffice/audit/", {"q": "robin"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content and b"lead.assigned" in fragment.content


def test_audit_log_query_count_does_not_grow_with_rows(as_role, django_assert_max_num_queries):
    client = as_role("ops_admin")
    for i in range(60):
        audit_record(actor="rule:test", action=f"bulk.{i % 3}")
    with django_assert_max_num_queries(12):
        assert client.get("/backoffice/audit/").status_code == 200


def test_audit_event_detail_and_unknown_event(as_role):
    client = as_role("compliance_officer")
    event = audit_record(actor="rule:test", action="x.y", evidence={"k": "v"})
    audit_seal_all()
    page = client.get(f"/backoffice/audit/{event.pk}/")
    seal = AuditSeal.objects.get(event_id=event.pk)
    assert page.status_code == 200 and seal.hash.encode() in page.content
    assert client.get(f"/backoffice/audit/{event.pk + 10_000}/").status_code == 404


def test_team_query_count_does_not_grow(as_role, django_assert_max_num_queries):
    client = as_role("ops_admin")
    desk = Desk.objects.create(name="Many")
    for i in range(30):
        make_staff("sales_agent", email=f"agent{i}@test.example", desk=desk, totp=False)
    with django_assert_max_num_queries(14):
        page = client.get("/backoffice/team/")
    assert page.status_code == 200
    assert page.context["page"].paginator.count == 31


def test_desk_manager_sees_only_their_desks(client):
    mine = Desk.objects.create(name="Mine")
    other = Desk.objects.create(name="Other")
    manager = make_staff("desk_manager", desk=mine)
    mine.manager = manager
    mine.save()
    make_staff("sales_agent", email="in-mine@test.example", desk=mine, totp=False)
    make_staff("sales_agent", email="in-other@test.example", desk=other, totp=False)
    login(client, manager)
    page = client.get("/backoffice/team/")
    emails = {row["user"].email for row in page.context["rows"]}
    assert "in-mine@test.example" in emails and "in-other@test.example" not in emails
    assert [d.name for d in page.context["desks"]] == ["Mine"]
    assert client.get("/backoffice/team/", {"desk": other.pk}).status_code == 403


def test_names_are_always_escaped(as_role):
    client = as_role("ops_admin")
    desk = Desk.objects.create(name="X")
    make_staff("sales_agent", email="xss@test.example", desk=desk, totp=False)
    from brokerage.models import User

    User.objects.filter(email="xss@test.example").update(first_name="<script>alert(1)</script>")
    page = client.get("/backoffice/team/")
    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content


def test_system_page_and_its_live_fragment(as_role):
    client = as_role("ops_admin")
    page = client.get("/backoffice/system/")
    assert page.status_code == 200
    assert set(page.context["report"]) == {"database", "redis", "celery"}
    fragment = client.get("/backoffice/system/", HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content and b"data-health" in fragment.content


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"There is nothing at this address" in response.content


def test_forbidden_page_explains(as_role):
    response = as_role("sales_agent").get("/backoffice/system/")
    assert response.status_code == 403
    assert b"Your role does not include this page" in response.content


def test_server_error_page_is_plain_and_safe(rf):
    from brokerage.views import server_error

    html = server_error(rf.get("/backoffice/"))
    assert html.status_code == 500 and b"Something went wrong" in html.content
    api = server_error(rf.get("/api/v1/whoami"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"


def test_navigation_marks_only_the_most_specific_entry_active(db):
    from brokerage.navigation import nav_for
    from tests.conftest import make_client_user

    user = make_client_user()
    active = [e["label"] for e in nav_for("portal", user, "/portal/wallet/deposit/") if e["active"]]
    assert active == ["Deposit"]
    active = [e["label"] for e in nav_for("portal", user, "/portal/wallet/") if e["active"]]
    assert active == ["Wallet"]
    assert [e["label"] for e in nav_for("portal", user, "/portal/") if e["active"]] == ["Overview"]


def test_home_and_audit_log_read_as_many_queries_with_30_rows_as_with_3(client):
    from tests.conftest import make_client_user, page_queries

    viewers = [make_staff(role) for role in ("ops_admin", "compliance_officer", "sales_agent")]

    def add(start, n):
        for i in range(start, start + n):
            make_client_user(f"home{i}@test.example")
            audit_record(actor="rule:test", action=f"bulk.{i % 3}", reason=f"row {i}")

    def counts():
        out = {}
        for user in viewers:
            urls = ["/backoffice/"]
            if user.has_perm("brokerage.view_auditevent"):
                urls.append("/backoffice/audit/")
            for url, n in page_queries(client, user, urls).items():
                out[f"{user.email} {url}"] = n
        return out

    add(0, 3)
    few = counts()
    add(3, 27)
    assert counts() == few
