"""Demo partner onboarding: the demo programme takes public sign-ups, its partner agreement v1
is accepted by the demo partners, one visitor's public application awaits an IB manager's
approval, and the demo partner has one outstanding invitation of a sub-IB.

Installed by `seed_demo` after the IB network (demo/ib.py); idempotent: the agreement is
published once, each partner accepts it once, the applicant and the invitation are made once.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from brokerage.models import User
from ib.models import AgreementAcceptance, Partner, PartnerInvitation, Programme
from ib.onboarding import (
    agreement_accept,
    agreement_in_force,
    agreement_publish,
    invitation_create,
    partner_apply,
)

AGREEMENT_V1 = "\n".join(
    [
        "Partner agreement of the Standard IB programme (version 1)",
        "",
        "1. The partner introduces clients to the broker and is paid commissions on their "
        "trades by the plan attached to it, as the partner dashboard shows line by line.",
        "2. The partner never promises returns, never trades on a client's behalf and never "
        "refers itself, its relatives or accounts it controls.",
        "3. Commissions are settled per period into the partner's wallet and paid out through "
        "the broker's withdrawal process once the partner's identity is verified.",
        "4. The broker may withhold a commission line it suspects for review and tells the "
        "partner why; the partner may dispute any line from its dashboard.",
        "5. Either side may end the agreement with 30 days' notice; earned and undisputed "
        "commissions are paid.",
    ]
)

APPLICANT = "applicant@demo.test"


@transaction.atomic
def install_demo_onboarding(*, actor: str, password: str) -> dict:
    programme = Programme.objects.get(name="Standard IB")
    if programme.registration != Programme.Registration.PUBLIC:
        Programme.objects.filter(pk=programme.pk).update(registration=Programme.Registration.PUBLIC)
    agreement = agreement_in_force(programme) or agreement_publish(
        programme=programme, text=AGREEMENT_V1, actor=actor
    )
    accepted = 0
    for partner in Partner.objects.filter(status=Partner.Status.ACTIVE).select_related("user"):
        if not AgreementAcceptance.objects.filter(partner=partner, agreement=agreement).exists():
            agreement_accept(partner=partner, agreement=agreement, actor=partner.user)
            accepted += 1
    if not User.objects.filter(email=APPLICANT).exists():
        user = User.objects.create_user(
            email=APPLICANT, password=password, first_name="Alba", last_name="Ruiz"
        )
        EmailAddress.objects.create(user=user, email=APPLICANT, verified=True, primary=True)
        partner_apply(
            user=user,
            profile={
                "programme": programme.pk,
                "agreement": agreement.pk,
                "company_name": "Ruiz Trading Media",
                "country": "ES",
                "language": "es",
                "website": "https://ruiz-trading.example",
                "message": "A Spanish-language trading blog and a newsletter to 8,000 readers.",
            },
        )
    master = Partner.objects.get(user__email="partner@demo.test")
    open_invitations = PartnerInvitation.objects.filter(
        inviter=master, used_at=None, withdrawn_at=None, expires_at__gt=timezone.now()
    )
    if not open_invitations.exists():
        invitation_create(inviter=master, actor=master.user, note="A moderator of our forum")
    return {"accepted": accepted, "agreement": agreement.version}
