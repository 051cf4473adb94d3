"""Who is screened beyond registration: the name an identity document's MRZ reads when it is
not the registered one, the payer a PSP names for a deposit, and a client whose name, date of
birth or nationality changed. Each screening records why it ran; an alert says where the name
it screened came from."""

from datetime import date

import pytest

from compliance.models import Alert, ScreeningRun
from kyc import specimens
from kyc.services import kyc_details_save, kyc_submission_autocheck, kyc_submission_submit
from tests.compliance.test_alerts import eager, register, watch_list  # noqa: F401
from tests.finance.conftest import fresh, methods  # noqa: F401
from tests.finance.test_payment_instruments import deliver, stripe_charge
from tests.finance.test_webhooks import open_deposit
from tests.kyc.conftest import details, prepared

pytestmark = pytest.mark.django_db


def test_the_name_on_an_identity_document_is_screened_and_the_alert_says_so(
    eager,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    watch_list()
    listed = specimens.Person(
        surname="ZLOBNIKOV", given_names="IVAN", nationality="RUS", birth=date(1970, 3, 4)
    )
    with django_capture_on_commit_callbacks(execute=True):
        user, submission = prepared(
            listed, email="ivan@test.example", first_name="Ivan", last_name="Smirnov"
        )
        kyc_submission_submit(submission=submission, actor=user)
    with django_capture_on_commit_callbacks(execute=True):
        kyc_submission_autocheck(submission_id=submission.pk)
    run = ScreeningRun.objects.get(client=user.client, reason="kyc_document")
    assert run.reference == f"KYC submission {submission.pk}"
    assert "IVAN ZLOBNIKOV" in run.names
    alert = Alert.objects.get(client=user.client)
    assert (alert.list_id, alert.name_origin, alert.run) == ("W-1", "kyc_document", run)
    assert alert.screened_name == "IVAN ZLOBNIKOV"
    assert not alert.breakdown["lowered_by"]  # the document's date of birth is the listed one


def test_a_document_that_reads_the_registered_name_is_not_screened_again(
    eager,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    watch_list()
    with django_capture_on_commit_callbacks(execute=True):
        user, submission = prepared(email="olivia@test.example")
        kyc_submission_submit(submission=submission, actor=user)
    with django_capture_on_commit_callbacks(execute=True):
        kyc_submission_autocheck(submission_id=submission.pk)
    assert not ScreeningRun.objects.filter(client=user.client, reason="kyc_document").exists()


def test_the_payer_a_psp_names_for_a_deposit_is_screened(
    client,
    methods,  # noqa: F811
    eager,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    watch_list()
    deposit = open_deposit(methods, "stripe")
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, "stripe", stripe_charge(deposit, holder="Ivan Zlobnikov"))
    assert fresh(deposit).status == "completed"
    run = ScreeningRun.objects.get(client=deposit.client, reason="deposit_payer")
    assert run.reference == f"Deposit {deposit.reference}" and "Ivan Zlobnikov" in run.names
    alert = Alert.objects.get(client=deposit.client)
    assert (alert.list_id, alert.name_origin) == ("W-1", "deposit_payer")


def change_details(submission, *, born):
    """The client tells KYC they are Ivan Zlobnikov, born `born`."""
    kyc_details_save(
        submission=submission,
        actor=submission.client.user,
        data=details(first_name="Ivan", last_name="Zlobnikov", date_of_birth=born),
    )


def test_a_name_change_screens_the_client_again(eager, django_capture_on_commit_callbacks):  # noqa: F811
    watch_list()
    with django_capture_on_commit_callbacks(execute=True):
        client = register("Ivan", "Petrov")
    assert not Alert.objects.filter(client=client).exists()
    submission = client.kyc_submissions.create(first_name="Ivan", last_name="Petrov")
    with django_capture_on_commit_callbacks(execute=True):
        change_details(submission, born=date(1970, 3, 4))
    run = ScreeningRun.objects.get(client=client, reason="details_changed")
    assert "Ivan Zlobnikov" in run.names
    alert = Alert.objects.get(client=client)
    assert (alert.list_id, alert.name_origin) == ("W-1", "kyc_details")
    # Saving the same details again screens nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        change_details(submission, born=date(1970, 3, 4))
    assert ScreeningRun.objects.filter(client=client, reason="details_changed").count() == 1


def test_a_changed_date_of_birth_lowers_a_common_name_below_the_threshold(
    eager,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    watch_list()
    with django_capture_on_commit_callbacks(execute=True):
        client = register("Nora", "Ng")
    submission = client.kyc_submissions.create(first_name="Nora", last_name="Ng")
    with django_capture_on_commit_callbacks(execute=True):
        change_details(submission, born=date(1990, 1, 1))
    run = ScreeningRun.objects.get(client=client, reason="details_changed")
    assert run.hit_count == 0  # the same name, born 20 years later: lowered below 0.70
