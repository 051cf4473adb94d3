"""Campaign links: a partner makes one per campaign; the public link counts each visitor once
per window (never bots or prefetches), carries the campaign to sign-up, and each link has its
funnel from click to first trade."""

import re
from datetime import timedelta

import pytest
from django.test import Client as Browser
from django.utils import timezone

from brokerage.errors import InvalidInput
from brokerage.models import AuditEvent
from clients.models import Client
from clients.services import client_kyc_level_set
from ib.links import CLICK_WINDOW, campaign_link_create, link_click_record
from ib.models import CampaignLink, LinkClick, LinkDay, Referral
from ib.services import partner_create
from tests.clients.factories import make_account, make_deal
from tests.conftest import login, make_client_user, make_partner_user, make_staff
from tests.ib.conftest import signup_confirmed

pytestmark = pytest.mark.django_db
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def link_of(partner, name="Spring webinar", **fields):
    return campaign_link_create(partner=partner, name=name, actor=partner.user, **fields)


def visit(code, agent=CHROME, ip="203.0.113.7", browser=None, **headers):
    browser = browser or Browser()
    return browser.get(f"/r/{code}", HTTP_USER_AGENT=agent, REMOTE_ADDR=ip, **headers)


def clicks(link):
    """The link's counted clicks: its total, which is always the sum of its days."""
    total = CampaignLink.objects.get(pk=link.pk).clicks
    assert total == sum(LinkDay.objects.filter(link=link).values_list("clicks", flat=True))
    return total


def test_a_link_has_its_own_code_lands_where_chosen_and_refuses_bad_input():
    partner = make_partner_user().partner
    link = link_of(
        partner, landing="signup", utm_source="newsletter", utm_campaign="spring-2026", sub_id="a1"
    )
    other = link_of(partner, name="Forum banner", landing="login")
    assert link.code != other.code and link.code != partner.referral_code
    assert AuditEvent.objects.filter(action="campaign_link.created", target_id=str(link.pk))

    response = visit(link.code.lower())
    assert response.status_code == 302
    assert response["Location"] == (
        "/accounts/signup/?utm_source=newsletter&utm_campaign=spring-2026&sub_id=a1"
    )
    assert visit(other.code)["Location"] == "/accounts/login/"

    for fields, field in [
        ({"name": " "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"landing": "https://evil.example"}, "landing"),
        ({"utm_source": "a b"}, "utm_source"),
        ({"sub_id": "<script>"}, "sub_id"),
        ({"name": "Spring webinar"}, "name"),  # taken
    ]:
        with pytest.raises(InvalidInput) as refused:
            link_of(partner, **{"name": "New one", **fields})
        assert field in refused.value.fields
    assert CampaignLink.objects.count() == 2

    # a partner may not take a link's code as its referral code
    with pytest.raises(InvalidInput, match="taken"):
        partner_create(
            actor="test",
            user=make_partner_user("other@test.example", "OTHER001"),
            referral_code=link.code,
        )


def test_a_visitor_counts_once_per_window_and_bots_and_prefetches_not_at_all():
    link = link_of(make_partner_user().partner)
    assert visit(link.code).status_code == 302
    visit(link.code)  # the same visitor again: not counted
    visit(link.code, ip="198.51.100.9")  # another address
    visit(link.code, agent=FIREFOX)  # another browser
    assert clicks(link) == 3
    for agent in ["Googlebot/2.1 (+http://www.google.com/bot.html)", "facebookexternalhit/1.1", ""]:
        assert visit(link.code, agent=agent, ip="192.0.2.50").status_code == 302
    visit(link.code, ip="192.0.2.51", HTTP_SEC_PURPOSE="prefetch;prerender")
    visit(link.code, ip="192.0.2.52", HTTP_PURPOSE="prefetch")
    assert Browser().head(f"/r/{link.code}", HTTP_USER_AGENT=CHROME).status_code == 302
    assert clicks(link) == 3

    # nothing personal is kept: no address, no browser string
    for row in LinkClick.objects.values("visitor"):
        assert len(row["visitor"]) == 32 and "203.0.113.7" not in row["visitor"]

    # past the window the same visitor counts again; one row per day holds the counts
    click = LinkClick.objects.order_by("clicked_at").first()
    later = click.clicked_at + timedelta(seconds=CLICK_WINDOW)
    assert link_click_record(link=link, visitor=click.visitor, at=later)
    assert not link_click_record(link=link, visitor=click.visitor, at=later)
    assert clicks(link) == 4


def test_one_address_cycling_browser_strings_counts_no_more_than_the_cap():
    from ib.links import ADDRESS_CAP

    link = link_of(make_partner_user().partner)
    for i in range(ADDRESS_CAP + 5):
        assert visit(link.code, agent=f"{CHROME} Build/{i}", ip="198.51.100.77").status_code == 302
    visit(link.code, ip="198.51.100.78")  # another address still counts
    assert clicks(link) == ADDRESS_CAP + 1


def test_click_rows_past_the_window_are_pruned_and_the_counts_stay():
    from ib.tasks import link_clicks_prune_task

    link = link_of(make_partner_user().partner)
    now = timezone.now()
    assert link_click_record(link=link, visitor="a" * 32, at=now - timedelta(days=3))
    assert link_click_record(link=link, visitor="b" * 32, at=now - timedelta(hours=1))
    assert link_clicks_prune_task.apply().get() == 1
    assert list(LinkClick.objects.values_list("visitor", flat=True)) == ["b" * 32]
    assert clicks(link) == 2 and LinkDay.objects.filter(link=link).count() == 2
    # the kept row still counts its visitor once in its window
    assert not link_click_record(link=link, visitor="b" * 32, at=now - timedelta(hours=1))


def test_a_suspended_partners_link_counts_nothing_and_unknown_codes_still_open_signup():
    from ib.services import partner_status_set

    partner = make_partner_user().partner
    link = link_of(partner)
    partner_status_set(partner=partner, status="suspended", actor="test", reason="test")
    assert visit(link.code)["Location"] == "/accounts/signup/"
    assert visit("NOSUCHCODE")["Location"] == "/accounts/signup/"
    assert clicks(link) == 0


def test_the_referral_records_the_link_and_the_funnel_follows_the_client_to_first_trade():
    partner = make_partner_user().partner
    link = link_of(partner)
    other = link_of(partner, name="Forum banner")
    emails = [f"visitor{i}@example.com" for i in range(3)]
    for i, email in enumerate(emails):
        browser = Browser()
        visit(link.code, ip=f"203.0.113.{i + 1}", browser=browser)
        signup_confirmed(browser, email, first_name=f"Visitor{i}")
    visit(other.code, ip="203.0.113.99")
    # the partner's own code keeps working, and records no link
    plain = Browser()
    plain.get(f"/r/{partner.referral_code}")
    signup_confirmed(plain, "plain@example.com", first_name="Plain")

    referrals = Referral.objects.filter(partner=partner)
    assert referrals.count() == 4
    assert set(referrals.filter(campaign_link=link).values_list("client__user__email", flat=True))
    assert referrals.filter(campaign_link=link).count() == 3
    assert referrals.get(client__user__email="plain@example.com").campaign_link is None
    assert referrals.filter(campaign_link=link).first().code == link.code

    c0, c1, _ = (Client.objects.get(user__email=e) for e in emails)
    for c in (c0, c1):
        client_kyc_level_set(client=c, level=1, actor="test", reason="verified")
    Client.objects.filter(pk=c0.pk).update(first_deposit_at=timezone.now())
    account = make_account(c0)
    make_deal(account, action=0, entry=0)

    from ib.selectors_links import link_funnels, partner_funnel

    funnel = link_funnels(CampaignLink.objects.filter(pk__in=[link.pk, other.pk]))
    assert {s["key"]: s["count"] for s in funnel[link.pk]["stages"]} == {
        "clicks": 3,
        "registrations": 3,
        "verified": 2,
        "ftd": 1,
        "traded": 1,
    }
    stages = {s["key"]: s for s in funnel[link.pk]["stages"]}
    assert stages["verified"]["of_previous"] == 66.7 and stages["ftd"]["of_clicks"] == 33.3
    assert funnel[other.pk]["clicks"] == 1 and funnel[other.pk]["registrations"] == 0
    total = partner_funnel(partner=partner)
    assert (total["clicks"], total["registrations"], total["traded"]) == (4, 3, 1)


def test_the_partner_makes_links_and_reads_their_funnels_over_http(client):
    user = make_partner_user()
    login(client, user)
    page = client.get("/partners/links/")
    assert page.status_code == 200 and b"No campaign links yet" in page.content

    refused = client.post("/partners/links/", {"name": "", "landing": "nowhere"})
    assert refused.status_code == 400 and not CampaignLink.objects.exists()
    assert b'data-field-error="name"' in refused.content
    made = client.post(
        "/partners/links/",
        {"name": "Spring webinar", "landing": "signup", "utm_campaign": "spring"},
    )
    assert made.status_code == 302
    link = CampaignLink.objects.get(partner=user.partner)
    for i in range(4):
        visit(link.code, ip=f"203.0.113.{i + 1}")
    page = client.get("/partners/links/")
    assert f'data-link="{link.code}"'.encode() in page.content
    assert f"/r/{link.code}".encode() in page.content
    detail = client.get(f"/partners/links/{link.pk}/")
    assert detail.status_code == 200
    assert b'data-stage="clicks"><td>Clicks</td><td class="text-end">4<' in detail.content

    # another partner's link is a 404 to this one; nobody but partners opens the pages
    theirs = link_of(make_partner_user("them@test.example", "THEMIB01").partner, name="Theirs")
    assert client.get(f"/partners/links/{theirs.pk}/").status_code == 404
    assert theirs.code.encode() not in client.get("/partners/links/").content
    for other in (make_client_user(), make_staff("ib_manager")):
        browser = Browser()
        login(browser, other)
        assert browser.get("/partners/links/").status_code == 403
        assert browser.get(f"/partners/links/{link.pk}/").status_code == 403


def test_ib_managers_list_every_partners_links_with_search_filters_and_bounded_queries(
    client, django_assert_max_num_queries
):
    partners = [make_partner_user(f"p{i}@test.example", f"PARTNR0{i}").partner for i in range(3)]
    for i, partner in enumerate(partners):
        for j in range(4):
            link = link_of(partner, name=f"Campaign {i}-{j}", utm_campaign=f"tag-{i}")
            for k in range(j):
                link_click_record(link=link, visitor=f"{k:032x}")
    manager = make_staff("ib_manager")
    login(client, manager)
    with django_assert_max_num_queries(14):
        page = client.get("/backoffice/ib/links/")
    assert page.status_code == 200
    assert page.content.count(b"data-link=") == 12
    found = client.get("/backoffice/ib/links/", {"q": "tag-1"})
    assert found.content.count(b"data-link=") == 4
    one = CampaignLink.objects.get(name="Campaign 2-3")
    found = client.get("/backoffice/ib/links/", {"q": one.code.lower()})
    assert found.content.count(b"data-link=") == 1
    assert (
        client.get("/backoffice/ib/links/", {"converting": "1"}).content.count(b"data-link=") == 0
    )
    # most clicked first
    codes = re.findall(rb'data-link="(\w+)"', client.get("/backoffice/ib/links/").content)
    top = CampaignLink.objects.filter(name__endswith="-3").values_list("code", flat=True)
    assert {c.decode() for c in codes[:3]} == set(top)
    for role in ("sales_agent", "finance_officer"):
        browser = Browser()
        login(browser, make_staff(role))
        assert browser.get("/backoffice/ib/links/").status_code == 403
    browser = Browser()
    login(browser, partners[0].user)
    assert browser.get("/backoffice/ib/links/").status_code in (302, 403)
