"""Partners' API tokens: a partner makes one in its dashboard (shown once), lists them and
revokes them; the partner API finds the partner a token stands for.

Only the partner makes its tokens; the partner or an IB manager (or a named rule) revokes one.
Every create and revoke is audited, in the same transaction. At most `PartnerToken.MAX_ACTIVE`
are active per partner: the partner's row is locked while counting, so two requests at once
cannot both take the last place. Nobody can read a token after it is shown: only its prefix
and digest are kept (`brokerage.keys`).
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from brokerage.errors import DomainError, InvalidInput, NotAllowed
from brokerage.keys import key_find, key_new, key_stored
from brokerage.services import Actor, audit_record

from . import audit_events
from .models import Partner, PartnerToken
from .permissions import actor_label, require_manager

NAME_MAX = PartnerToken._meta.get_field("name").max_length


class TokenRefused(DomainError):
    """The partner API needs a partner's token in the `Authorization: Bearer` header."""

    code = "invalid_token"
    status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="partners"'}


def partner_tokens(*, partner: Partner):
    """The partner's tokens, active ones first, newest first (never the token itself)."""
    return PartnerToken.objects.filter(partner=partner).order_by("revoked_at", "-created_at", "-id")


@transaction.atomic
def partner_token_create(
    *, partner: Partner, name: str, actor: Actor, request=None
) -> tuple[PartnerToken, str]:
    """Make a token for `partner`. Returns the row and the token, which is never stored: show
    it once."""
    if isinstance(actor, str) or getattr(actor, "partner", None) != partner:
        raise NotAllowed("Only the partner makes its own API tokens.")
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(
            f"Name the token (1 to {NAME_MAX} characters), e.g. after what will use it.",
            fields={"name": ["Needed." if not name else f"At most {NAME_MAX} characters."]},
        )
    Partner.objects.select_for_update().filter(pk=partner.pk).first()
    active = PartnerToken.objects.filter(partner=partner, revoked_at__isnull=True)
    if active.count() >= PartnerToken.MAX_ACTIVE:
        raise InvalidInput(
            f"You have {PartnerToken.MAX_ACTIVE} active tokens, the most a partner may have: "
            "revoke one you no longer use first.",
            code="too_many_tokens",
        )
    if active.filter(name__iexact=name).exists():
        raise InvalidInput(
            "You have an active token with that name.", fields={"name": ["Already in use."]}
        )
    raw = key_new(PartnerToken.MARKER)
    try:
        with transaction.atomic():
            token = PartnerToken.objects.create(
                partner=partner, name=name, created_by=actor_label(actor), **key_stored(raw)
            )
    except IntegrityError as exc:  # two prefixes alike: one in 2**48; ask again
        raise InvalidInput("The token could not be made; try again.") from exc
    audit_record(
        actor=actor,
        action=audit_events.PARTNER_TOKEN_CREATED,
        target=token,
        evidence={"partner": partner.pk, "name": name, "prefix": token.prefix},
        request=request,
    )
    return token, raw


@transaction.atomic
def partner_token_revoke(
    *,
    token: PartnerToken,
    actor: Actor,
    reason: str = "",
    request=None,
    partner: Partner | None = None,
) -> PartnerToken:
    """Stop `token` working from now on (`partner` given: it must be that partner's). The
    partner revokes its own; an IB manager (from the partner's page) says why. Revoking a
    revoked token changes nothing."""
    token = PartnerToken.objects.select_for_update().select_related("partner").get(pk=token.pk)
    if partner is not None and token.partner_id != partner.pk:
        raise NotAllowed("This token is not the partner's.")
    reason = " ".join((reason or "").split())
    if isinstance(actor, str) or getattr(actor, "partner", None) != token.partner:
        require_manager(actor)
        if len(reason) < 5:
            raise InvalidInput(
                "Say why the partner's token is revoked.", fields={"reason": ["Required."]}
            )
    if token.revoked_at is not None:
        return token
    token.revoked_at, token.revoked_by = timezone.now(), actor_label(actor)
    token.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        actor=actor,
        action=audit_events.PARTNER_TOKEN_REVOKED,
        target=token,
        reason=reason[:200],
        evidence={"partner": token.partner_id, "name": token.name, "prefix": token.prefix},
        request=request,
    )
    return token


def partner_token_authenticate(raw: str) -> PartnerToken | None:
    """The active token `raw` is, of a partner whose login is active, with its partner; or
    None."""
    usable = PartnerToken.objects.filter(
        revoked_at__isnull=True, partner__user__is_active=True
    ).select_related("partner")
    return key_find(usable, raw)
