import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from leads.models import Lead, LeadActivity, NurtureEnrollment, NurtureSend
from leads.services import lead_status_change, nurture_send_due

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _send_on_commit_at_once(monkeypatch):
    """Emails go out after commit; inside a test's transaction, run that at once."""
    from django.db import transaction

    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())


@pytest.fixture
def newbie(floor):
    return floor.capture(country="GB", experience="none", first_name="Nia", email="nia@example.com")


def later(minutes):
    return timezone.now() + timedelta(minutes=minutes)


def test_steps_are_sent_on_schedule_and_shown_in_the_history(newbie):
    assert nurture_send_due() == 1
    assert mail.outbox[0].subject == "Welcome: how trading works"
    assert "Hello Nia" in mail.outbox[0].body and "/unsubscribe/" in mail.outbox[0].body
    assert nurture_send_due() == 0  # step 2 waits a day
    assert nurture_send_due(now=later(24 * 60 + 1)) == 1
    assert mail.outbox[1].subject == "Leverage and risk, in plain words"
    emails = LeadActivity.objects.filter(lead=newbie, kind="email")
    assert emails.count() == 2 and emails.first().data["to"] == "nia@example.com"


def test_language_versions_fall_back_to_english(floor):
    arabic = floor.capture(country="GB", experience="none", language="ar", email="ar@example.com")
    nurture_send_due()
    assert mail.outbox[0].subject == "مرحبًا: كيف يعمل التداول"
    nurture_send_due(now=later(24 * 60 + 1))
    assert mail.outbox[1].subject == "Leverage and risk, in plain words"
    assert arabic.pk


def test_a_step_is_never_sent_twice(newbie):
    nurture_send_due()
    enrollment = NurtureEnrollment.objects.get(lead=newbie)
    NurtureEnrollment.objects.filter(pk=enrollment.pk).update(
        next_position=1, next_send_at=timezone.now()
    )
    nurture_send_due()  # a retried run
    assert NurtureSend.objects.filter(enrollment=enrollment).count() == 1
    assert len(mail.outbox) == 1


def test_unsubscribe_link_stops_the_sequence(client, newbie):
    nurture_send_due()
    path = re.search(r"http://[^/]+(/unsubscribe/\S+)", mail.outbox[0].body).group(1)
    assert client.get(path).status_code == 200  # a confirmation page; scanners change nothing
    assert NurtureEnrollment.objects.get(lead=newbie).state == "active"
    assert client.post(path).status_code == 200
    assert Lead.objects.get(pk=newbie.pk).email_opt_out
    assert NurtureEnrollment.objects.get(lead=newbie).stopped_reason == "unsubscribed"
    assert nurture_send_due(now=later(10 * 24 * 60)) == 0


def test_forged_unsubscribe_link_is_refused(client, newbie):
    response = client.post(f"/unsubscribe/{newbie.pk}:forged/")
    assert response.status_code == 400 and b"not valid" in response.content


def test_agent_takeover_and_conversion_stop_the_sequence(floor, newbie):
    from leads.services import lead_reassign

    lead_reassign(lead=newbie, actor="test", to_user=floor.global_en, reason="hot lead")
    assert NurtureEnrollment.objects.get(lead=newbie).stopped_reason == "an agent took over"
    other = floor.capture(country="GB", experience="none", email="other@example.com")
    from brokerage.models import User

    ops = User.objects.create_superuser("root@test.example", "x-long-password")
    lead_status_change(lead=other, actor=ops, to="converted")
    assert NurtureEnrollment.objects.get(lead=other).stopped_reason == "converted"


def test_completing_the_sequence_hands_the_lead_to_the_sales_floor(newbie, floor):
    for minutes in (0, 24 * 60 + 1, 3 * 24 * 60 + 2, 4 * 24 * 60):
        nurture_send_due(now=later(minutes))
    enrollment = NurtureEnrollment.objects.get(lead=newbie)
    assert enrollment.state == "completed"
    lead = Lead.objects.get(pk=newbie.pk)
    assert lead.desk == floor.global_ and lead.assigned_to is not None
    assert len(mail.outbox) == 3


def test_opted_out_leads_get_no_email_but_the_sequence_moves_on(newbie):
    Lead.objects.filter(pk=newbie.pk).update(email_opt_out=True)
    nurture_send_due()
    assert mail.outbox == []


def test_a_broken_template_never_stops_the_sequence(newbie):
    from leads.models import NurtureStep

    NurtureStep.objects.filter(position=1).update(body="Hi {first_name} {PROMO} { oops")
    assert nurture_send_due() == 1
    assert "Hi Nia" in mail.outbox[0].body


def test_step_templates_are_validated_in_admin(floor):
    from django.core.exceptions import ValidationError

    from leads.models import NurtureSequence, NurtureStep

    step = NurtureStep(
        sequence=NurtureSequence.objects.get(), position=9, subject="x", body="Hello {PROMO}"
    )
    with pytest.raises(ValidationError):
        step.clean()
