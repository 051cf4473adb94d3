"""Demo jurisdiction rules: beside the default set (blocked: US, IR, KP; enhanced due
diligence: SY, MM), Belarus restricted (withdraw only) with a client living there, restricted
when the rule started and told by email; and Nigeria under enhanced due diligence from a month
ahead (a scheduled rule)."""

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.utils import timezone

from brokerage.models import CountryRule, User
from clients.services import client_register
from compliance.jurisdictions import country_rule_add, rule_apply_job_run
from compliance.models import JobStatus, RuleApplyJob

ACTOR = "system:seed_demo"
EMAIL = "restricted.client@demo.test"


def install_demo_jurisdictions(password: str) -> None:
    """Once: the client from Belarus registered, then the rules that reach them added."""
    user = User.objects.filter(email=EMAIL).first()
    if user is None:
        user = User.objects.create_user(EMAIL, password, first_name="Alena", last_name="Kavalenka")
        EmailAddress.objects.create(user=user, email=EMAIL, verified=True, primary=True)
    client_register(user=user, actor=ACTOR, country="BY", language="en")
    for country, kind, basis, start in (
        (
            "BY",
            CountryRule.Kind.RESTRICTED,
            "EU restrictive measures (Council Regulation 765/2006): no new business.",
            None,
        ),
        (
            "NG",
            CountryRule.Kind.EDD,
            "FATF increased monitoring: enhanced due diligence from next month.",
            timezone.now() + timedelta(days=30),
        ),
    ):
        if not CountryRule.objects.filter(country=country).exists():
            country_rule_add(
                actor=ACTOR, country=country, kind=kind, basis=basis, effective_from=start
            )
    # A rule added with effect now is applied by a background job once the officer's change
    # commits; the demo applies its own at once, so it opens with the client restricted.
    for job in RuleApplyJob.objects.filter(rule__country="BY").exclude(status=JobStatus.DONE):
        rule_apply_job_run(job_id=job.pk)
