from django.db import transaction

from brokerage.errors import InvalidInput
from brokerage.services import Actor, audit_record

from .models import Partner, Referral


@transaction.atomic
def partner_create(
    *,
    actor: Actor,
    user,
    company_name: str = "",
    referral_code: str | None = None,
    parent: Partner | None = None,
) -> Partner:
    """Make a (non-staff, non-client) user an IB partner."""
    if user.is_staff:
        raise InvalidInput("Staff users cannot be IB partners.")
    if hasattr(user, "client"):
        raise InvalidInput("This user is a client; an IB needs a partner login of its own.")
    fields = {"company_name": company_name, "parent": parent}
    if referral_code:
        if Partner.objects.filter(referral_code=referral_code).exclude(user=user).exists():
            raise InvalidInput(
                "That referral code is taken.", fields={"referral_code": ["Already in use."]}
            )
        fields["referral_code"] = referral_code
    partner, created = Partner.objects.get_or_create(user=user, defaults=fields)
    if created:
        audit_record(
            actor=actor,
            action="partner.created",
            target=partner,
            evidence={
                "referral_code": partner.referral_code,
                "parent": parent.pk if parent else None,
            },
        )
    return partner


@transaction.atomic
def referral_attribute(*, client, code: str, actor: Actor, request=None) -> Referral | None:
    """Attribute a newly registered client to the active partner owning `code`.

    An unknown or suspended code, or a client already attributed, attributes nothing.
    """
    partner = Partner.objects.filter(
        referral_code=code.strip().upper(), status=Partner.Status.ACTIVE
    ).first()
    if partner is None or Referral.objects.filter(client=client).exists():
        return None
    referral = Referral.objects.create(partner=partner, client=client, code=partner.referral_code)
    audit_record(
        actor=actor,
        action="referral.attributed",
        target=client,
        evidence={"partner": partner.pk, "code": partner.referral_code},
        request=request,
    )
    return referral
