"""The all-leads and desk-leads lists: filters (desk, agent, source, country, dates, search),
agents by name, nurture shown as such, bounded queries; bulk reassignment by desk managers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from brokerage.models import AuditEvent, Desk
from leads.models import Lead
from tests.conftest import login, make_staff, page_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads(floor):
    made = {
        "dubai": floor.capture(country="AE", language="ar", experience="some", source="webinar"),
        "dubai_en": floor.capture(country="AE", language="en", experience="some"),
        "global": floor.capture(country="GB", experience="some", source="affiliate-x"),
        "nurture": floor.capture(country="FR", experience="none"),
    }
    Lead.objects.filter(pk=made["global"].pk).update(created_at=timezone.now() - timedelta(days=10))
    return {k: Lead.objects.get(pk=v.pk) for k, v in made.items()}


def _ids(response):
    return {row["lead"].pk for row in response.context["rows"]}


def test_ops_filter_all_leads_by_each_field(client, floor, leads):
    login(client, make_staff("ops_admin"))
    url = "/backoffice/leads/all/"
    assert _ids(client.get(url)) == {lead.pk for lead in leads.values()}
    assert _ids(client.get(url, {"desk": floor.dubai.pk})) == {
        leads["dubai"].pk,
        leads["dubai_en"].pk,
    }
    assert _ids(client.get(url, {"agent": floor.dubai_ar.pk})) == {leads["dubai"].pk}
    assert _ids(client.get(url, {"source": "affiliate-x"})) == {leads["global"].pk}
    assert _ids(client.get(url, {"country": "FR"})) == {leads["nurture"].pk}
    today = timezone.now().date()
    recent = client.get(url, {"created_from": str(today - timedelta(days=1))})
    assert leads["global"].pk not in _ids(recent) and len(_ids(recent)) == 3
    old = client.get(
        url,
        {
            "created_from": str(today - timedelta(days=11)),
            "created_to": str(today - timedelta(days=9)),
        },
    )
    assert _ids(old) == {leads["global"].pk}
    both = client.get(url, {"country": "AE", "q": leads["dubai_en"].email[:10]})
    assert _ids(both) == {leads["dubai_en"].pk}


@pytest.mark.parametrize(
    "params",
    [
        {"desk": "abc"},
        {"desk": "9" * 40},
        {"agent": "-1"},
        {"country": "ZZ"},
        {"created_from": "yesterday"},
        {"created_from": "2026-05-02", "created_to": "2026-05-01"},
        {"status": "<script>"},
    ],
)
def test_a_bad_filter_is_shown_and_ignored_never_a_500(client, floor, leads, params):
    login(client, make_staff("ops_admin"))
    response = client.get("/backoffice/leads/all/", params)
    assert response.status_code == 200
    assert b"data-filter-error" in response.content
    assert len(_ids(response)) >= 1


def test_the_last_day_there_is_as_an_end_is_no_end(client, floor, leads):
    login(client, make_staff("ops_admin"))
    response = client.get("/backoffice/leads/all/", {"created_to": "9999-12-31"})
    assert response.status_code == 200 and len(_ids(response)) == len(leads)


def test_filters_survive_pagination(client, floor, leads):
    for i in range(30):
        floor.capture(country="AE", language="ar", experience="some", source="webinar")
    login(client, make_staff("ops_admin"))
    first = client.get("/backoffice/leads/all/", {"source": "webinar"})
    assert first.context["page"].paginator.count == 31
    assert b"?source=webinar&page=2" in first.content
    second = client.get("/backoffice/leads/all/", {"source": "webinar", "page": 2})
    assert len(second.context["rows"]) == 6


def test_agents_by_name_and_nurture_is_not_unassigned(client, floor, leads):
    assert hasattr(leads["nurture"], "nurture") and leads["nurture"].assigned_to is None
    login(client, make_staff("ops_admin"))
    page = client.get("/backoffice/leads/all/").content.decode()
    assert floor.dubai_ar.get_full_name() in page
    assert "In nurture" in page
    assert f">{floor.dubai_ar.email}<" not in page


def test_the_list_does_not_grow_queries_with_rows(client, floor, django_assert_max_num_queries):
    for i in range(25):
        floor.capture(country=["AE", "GB", "FR"][i % 3], experience="some", source=f"s{i % 4}")
    login(client, make_staff("ops_admin"))
    with django_assert_max_num_queries(16):
        assert client.get("/backoffice/leads/all/", {"country": "AE"}).status_code == 200
    with django_assert_max_num_queries(16):
        assert client.get("/backoffice/leads/all/").status_code == 200
    login(client, floor.manager)
    with django_assert_max_num_queries(18):
        assert client.get("/backoffice/leads/desk/leads/").status_code == 200


def test_the_desk_manager_sees_only_their_desks_leads(client, floor, leads):
    login(client, floor.manager)
    page = client.get("/backoffice/leads/desk/leads/")
    assert _ids(page) == {leads["dubai"].pk, leads["dubai_en"].pk}
    desks = [value for value, _label in page.context["filter_form"].fields["desk"].choices]
    assert desks == ["", floor.dubai.pk]
    assert _ids(client.get("/backoffice/leads/desk/leads/", {"desk": floor.global_.pk})) == {
        leads["dubai"].pk,
        leads["dubai_en"].pk,
    }  # another desk is not a choice: ignored
    assert client.get("/backoffice/leads/all/").status_code == 403


def test_the_desk_manager_reassigns_ticked_leads_in_bulk(client, floor, leads):
    login(client, floor.manager)
    ids = [leads["dubai"].pk, leads["dubai_en"].pk]
    response = client.post(
        "/backoffice/leads/reassign/",
        {
            "leads": ids,
            "to_user": floor.dubai_en.pk,
            "reason": "ar agent on leave",
            "query": "country=AE",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/backoffice/leads/desk/leads/?country=AE"
    assert set(Lead.objects.filter(pk__in=ids).values_list("assigned_to", flat=True)) == {
        floor.dubai_en.pk
    }
    events = AuditEvent.objects.filter(action="lead.reassigned")
    assert events.count() == 2 and {e.reason for e in events} == {"ar agent on leave"}


def test_bulk_reassignment_is_all_or_nothing(client, floor, leads):
    login(client, floor.manager)
    response = client.post(
        "/backoffice/leads/reassign/",
        {"leads": [leads["dubai"].pk, leads["global"].pk], "to_user": floor.dubai_en.pk},
    )
    assert response.status_code == 403  # the Global lead is not on their desk
    assert Lead.objects.get(pk=leads["dubai"].pk).assigned_to == floor.dubai_ar
    assert not AuditEvent.objects.filter(action="lead.reassigned").exists()


def test_agents_and_other_desks_managers_cannot_bulk_reassign(client, floor, leads):
    other = make_staff("desk_manager", email="global.head@test.example", desk=floor.global_)
    Desk.objects.filter(pk=floor.global_.pk).update(manager=other)
    body = {"leads": [leads["dubai"].pk], "to_user": floor.dubai_en.pk}
    login(client, floor.dubai_ar)
    assert client.post("/backoffice/leads/reassign/", body).status_code == 403
    login(client, other)
    # the Dubai agent is not theirs to hand leads to: not a choice
    assert client.post("/backoffice/leads/reassign/", body).status_code == 400
    # and a Global agent cannot take a Dubai lead from them
    body["to_user"] = floor.global_en.pk
    assert client.post("/backoffice/leads/reassign/", body).status_code == 403
    assert Lead.objects.get(pk=leads["dubai"].pk).assigned_to == floor.dubai_ar
    assert not AuditEvent.objects.filter(action="lead.reassigned").exists()


def test_a_manager_cannot_send_a_lead_to_another_desks_agent_through_the_service(floor, leads):
    from brokerage.errors import NotAllowed
    from leads.services import leads_bulk_reassign

    with pytest.raises(NotAllowed):
        leads_bulk_reassign(
            lead_ids=[leads["dubai"].pk], actor=floor.manager, to_user=floor.global_en
        )
    assert Lead.objects.get(pk=leads["dubai"].pk).assigned_to == floor.dubai_ar


def test_bulk_reassign_with_nothing_ticked_is_a_form_error(client, floor, leads):
    login(client, floor.manager)
    response = client.post("/backoffice/leads/reassign/", {"to_user": floor.dubai_en.pk})
    assert response.status_code == 400 and b"Tick the leads" in response.content


def test_the_lead_lists_read_as_many_queries_with_30_leads_as_with_3(client, floor):
    def add(n):
        for i in range(n):
            floor.capture(
                country=["AE", "GB", "FR"][i % 3], language="ar" if i % 3 == 0 else "en",
                experience="some", source=f"s{i % 4}",
            )  # fmt: skip

    pages = {
        "ops_admin": ["/backoffice/leads/all/", "/backoffice/leads/all/?country=AE"],
        "desk_manager": ["/backoffice/leads/desk/", "/backoffice/leads/desk/leads/"],
        "sales_agent": ["/backoffice/leads/"],
    }
    viewers = {
        "ops_admin": make_staff("ops_admin"),
        "desk_manager": floor.manager,
        "sales_agent": floor.dubai_ar,
    }

    def counts():
        return {
            url: n
            for role, urls in pages.items()
            for url, n in page_queries(client, viewers[role], urls).items()
        }

    add(3)
    few = counts()
    add(27)
    assert Lead.objects.filter(assigned_to=floor.dubai_ar).count() > 3
    assert counts() == few
