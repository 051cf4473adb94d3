"""The access log, the dossiers page and the 360's Access section in the browser, at a phone's
width (390 px) and a desktop's (1440 px): no sideways scrolling; screenshots go to
test-artifacts/."""

import pytest
from django.utils import timezone

from clients.models import AccessRecord, PersonalDataView
from compliance.models import DossierExport
from tests.conftest import browser_session, login, make_client_user, make_staff, screen_check

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_access_log_pages_at_both_widths(live_server, page, client):
    officer = make_staff("compliance_officer")
    agent = make_staff("finance_officer")
    tia = make_client_user("tia.long-address-for-a-phone@mail.test")
    now = timezone.now()
    for what in ("client_360", "kyc_document", "source_of_funds"):
        PersonalDataView.objects.create(
            user=agent, client=tia.client, what=what, detail="Passport (document 12)"
        )
    AccessRecord.objects.create(
        user=tia,
        client=tia.client,
        kind="login",
        at=now,
        ip="203.0.113.9",
        user_agent="Mozilla/5.0 " * 20,
    )
    AccessRecord.objects.create(
        user=None, kind="login_failed", at=now, ip="2001:db8::1", identifier="who@mail.test"
    )
    AccessRecord.objects.create(user=officer, kind="mfa_failed", at=now, ip="198.51.100.4")
    DossierExport.objects.create(
        client=tia.client,
        actor_label=officer.email,
        requested_by=officer,
        total=9,
        done=4,
        status="running",
        step="Trading accounts and deals",
    )
    DossierExport.objects.create(
        client=tia.client,
        actor_label=officer.email,
        requested_by=officer,
        status="done",
        size=401984,
        counts={"audit_events": 5000, "documents": 4},
    )
    problems = []
    path360 = f"/backoffice/clients/{tia.client.pk}/"
    login(client, officer)
    for width, height in ((390, 844), (1440, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.context.clear_cookies()
        browser_session(page.context, client, live_server)
        for name, path, key in (
            ("backoffice-access-log", "/backoffice/compliance/access-log/", "[data-view]"),
            ("backoffice-dossiers", "/backoffice/compliance/dossiers/", "[data-dossier]"),
            (
                "backoffice-access-log-signins",
                "/backoffice/compliance/access-log/?tab=signins",
                "[data-signin]",
            ),
        ):
            problems += screen_check(page, live_server, f"{name}-{width}", path, key)
        # The 360's trading tables scroll on a phone, as they did before this section.
        screen_check(
            page, live_server, f"backoffice-360-access-{width}", path360, "[data-360-access]"
        )
    assert not problems, problems
