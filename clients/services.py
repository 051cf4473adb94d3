"""Writes on clients. Every change is audited in the same transaction."""

from django.db import transaction

from brokerage.errors import InvalidInput
from brokerage.hooks import (
    AML_CASE_LIFT_REFUSALS,
    CLIENT_COUNTRY_CHANGED,
    CLIENT_NAME_REPORTED,
    CLIENT_REGISTERED,
    contributions,
)
from brokerage.intl import is_country, is_language, phone_e164
from brokerage.services import Actor, audit_record
from clients import audit_events

from .locks import lock_client
from .models import Client
from .registration import registration_check


@transaction.atomic
def client_register(*, user, actor: Actor, request=None, **profile) -> Client:
    """Give a signed-up user their client record (once; a repeat returns the same record)."""
    if user.is_staff:
        raise ValueError("Staff users cannot be clients.")
    if not Client.objects.filter(user=user).exists():
        registration_check(profile.get("country") or "")
    client, created = Client.objects.get_or_create(user=user, defaults=profile)
    if client.holder != Client.Holder.CLIENT:
        raise InvalidInput("This login belongs to an IB partner; a client needs one of its own.")
    if created:
        audit_record(
            actor=actor,
            action=audit_events.CLIENT_REGISTERED,
            target=client,
            evidence={"email": user.email, **profile},
            request=request,
        )
        _registered(client)
    return client


def _registered(client: Client) -> None:
    """Tell the apps above (compliance screens the name) that a holder was registered."""
    for fn in contributions(CLIENT_REGISTERED):
        fn(client.pk)


def client_name_report(
    *,
    client_id: int,
    origin: str,
    name: str = "",
    reference: str = "",
    dob=None,
    nationality: str = "",
) -> None:
    """Something new is known of who a client is (a name on a KYC document, a deposit's payer,
    changed details): tell the apps that screen names (the kernel's `client.name_reported`
    hook), in the caller's transaction."""
    for fn in contributions(CLIENT_NAME_REPORTED):
        fn(
            client_id,
            origin=origin,
            name=name,
            reference=reference,
            dob=dob,
            nationality=nationality,
        )


@transaction.atomic
def partner_holder_open(
    *, user, actor: Actor, legal_name: str = "", country: str = "", language: str = "en"
) -> Client:
    """The account holder of an IB partner: its commissions wallet, its withdrawals and its KYC
    live on it, under the same rules as a client's (once; a repeat returns the same record).
    A user who is a client cannot also be a partner's holder; a resident of a country under a
    blocked jurisdiction rule is refused, the rule named (`registration_check`)."""
    if user.is_staff:
        raise ValueError("Staff users cannot hold money.")
    holder = Client.objects.filter(user=user).first()
    if holder is not None:
        if holder.holder != Client.Holder.PARTNER:
            raise InvalidInput("This user is a client; an IB needs a partner login of its own.")
        if legal_name and holder.legal_name != legal_name[:140]:
            holder.legal_name = legal_name[:140]
            holder.save(update_fields=["legal_name"])
        return holder
    registration_check(country, partner=True)
    profile = {"country": country, "language": language, "legal_name": legal_name[:140]}
    holder = Client.objects.create(
        user=user, holder=Client.Holder.PARTNER, status=Client.Status.ACTIVE, **profile
    )
    audit_record(
        actor=actor,
        action=audit_events.CLIENT_REGISTERED,
        target=holder,
        evidence={"email": user.email, "holder": "partner", **profile},
    )
    _registered(holder)
    return holder


@transaction.atomic
def client_contact_change(*, client: Client, actor: Actor, phone: str) -> Client:
    """The client changes their phone number (E.164). Audited with the number before and
    after; no change, no event."""
    try:
        phone = phone_e164(phone or "", client.country)
    except ValueError as exc:
        raise InvalidInput("Check the phone number.", fields={"phone": [str(exc)]}) from exc
    client = lock_client(client.pk)
    changes = {
        field: {"from": getattr(client, field), "to": value}
        for field, value in (("phone", phone),)
        if getattr(client, field) != value
    }
    if not changes:
        return client
    for field, change in changes.items():
        setattr(client, field, change["to"])
    client.save(update_fields=list(changes))
    audit_record(
        actor=actor, action=audit_events.CLIENT_CONTACT_CHANGED, target=client, evidence=changes
    )
    return client


@transaction.atomic
def client_kyc_level_set(
    *,
    client: Client,
    level: int,
    actor: Actor,
    reason: str,
    evidence: dict | None = None,
    document_expires_on=None,
) -> Client:
    """Raise or lower the client's KYC level (KYC decisions and expiry call this)."""
    from django.utils import timezone

    client = lock_client(client)
    before = client.kyc_level
    client.kyc_level = level
    client.kyc_verified_at = timezone.now() if level > 0 else None
    if document_expires_on is not None:
        client.id_document_expires_on = document_expires_on
    if level > 0 and client.restricted and client.restriction_reason.startswith("KYC"):
        client.restricted, client.restriction_reason = False, ""
    client.save()
    audit_record(
        actor=actor,
        action=audit_events.CLIENT_KYC_LEVEL_CHANGED,
        target=client,
        reason=reason,
        evidence={"from": before, "to": level, **(evidence or {})},
    )
    client_risk_factor_changed(client_id=client.pk, cause="KYC outcome")
    return client


@transaction.atomic
def client_nationality_set(
    *, client: Client, nationality: str, actor: Actor, reason: str
) -> Client:
    """Record the nationality the client declared (KYC calls this on each submission); the
    country rules on nationals read it. Audited with the value before and after; no change, no
    event."""
    nationality = (nationality or "").upper()
    if nationality and not is_country(nationality):
        raise InvalidInput("Choose a country.", fields={"nationality": ["Choose a country."]})
    return _client_country_set(
        client,
        "nationality",
        nationality,
        actor=actor,
        action=audit_events.CLIENT_NATIONALITY_SET,
        reason=reason,
    )


@transaction.atomic
def client_residence_set(*, client: Client, country: str, actor: Actor, reason: str) -> Client:
    """Record the client's new country of residence (staff, on evidence of the move; KYC, when
    a submission whose proof of address declares another country is approved). Audited with
    the value before and after and kept in the client's history (which the IB engine reads to
    price a deal by the country the client had when it closed); the country rules, leverage
    limits and risk rating then follow the new country."""
    country = (country or "").upper()
    if not is_country(country):
        raise InvalidInput("Choose a country.", fields={"country": ["Choose a country."]})
    if not (reason or "").strip():
        raise InvalidInput("Say why.", fields={"reason": ["A reason is required."]})
    return _client_country_set(
        client,
        "country",
        country,
        actor=actor,
        action=audit_events.CLIENT_RESIDENCE_CHANGED,
        reason=reason.strip(),
    )


def _client_country_set(client, field: str, value: str, **kwargs) -> Client:
    """A residence or nationality changed: the apps above are told (`client.country_changed`:
    compliance applies the jurisdiction rules to the client at once), what follows it
    (leverage limits) reaches the client's trading accounts, and their risk is rated again."""
    from .trading.reach import platform_reach_request

    before = getattr(lock_client(client), field)
    client = _client_field_set(client, field, value, **kwargs)
    if before != value:
        via = "residence" if field == "country" else "nationality"
        for fn in contributions(CLIENT_COUNTRY_CHANGED):
            fn(client.pk, via)
        platform_reach_request(clients=[client], reason=f"{field} changed")
        client_risk_factor_changed(client_id=client.pk, cause=f"{field} changed")
    return client


@transaction.atomic
def client_restrict(*, client: Client, actor: Actor, reason: str) -> Client:
    client = lock_client(client)
    if not client.restricted:
        client.restricted, client.restriction_reason = True, reason[:200]
        client.save(update_fields=["restricted", "restriction_reason"])
        audit_record(
            actor=actor, action=audit_events.CLIENT_RESTRICTED, target=client, reason=reason
        )
    return client


@transaction.atomic
def client_flag_add(
    *, client: Client, flag: str, actor: Actor, reason: str, evidence: dict | None = None
) -> Client:
    """Add a standing flag (e.g. "chargeback"); a flag already there is left as it is."""
    client = lock_client(client)
    if flag not in client.risk_flags:
        client.risk_flags = [*client.risk_flags, flag]
        client.save(update_fields=["risk_flags"])
        audit_record(
            actor=actor,
            action=audit_events.CLIENT_FLAGGED,
            target=client,
            reason=reason,
            evidence={"flag": flag, **(evidence or {})},
        )
    return client


@transaction.atomic
def client_aml_case_set(*, client: Client, is_open: bool, actor: Actor, reason: str) -> Client:
    """Set or lift the client's AML case reason. While it stands the client can neither
    deposit, withdraw, transfer, open a trading account nor trade, and no officer can approve
    past it (`clients.standing`). Compliance's cases call this and nothing else does: the first
    active case sets it and the last one to end lifts it (`compliance.cases`). A compliance
    officer (`clients.manage_aml_case`) sets or lifts it; a named compliance rule may set it,
    never lift it. Nobody lifts it while the side that owns cases says one is still active
    (the kernel's `client.aml_case_lift_refusals` hook): the reason ends with the last case."""
    from brokerage.errors import InvalidInput, NotAllowed

    if isinstance(actor, str):
        if not is_open:
            raise NotAllowed("Only a compliance officer closes an AML case.")
    elif not (actor.is_staff and actor.has_perm("clients.manage_aml_case")):
        raise NotAllowed("Only compliance opens or closes an AML case.")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why.", fields={"reason": ["A reason is needed."]})
    client = lock_client(client)
    if client.aml_case_open and not is_open:
        refusals = [r for r in (fn(client) for fn in contributions(AML_CASE_LIFT_REFUSALS)) if r]
        if refusals:
            raise NotAllowed(" ".join(refusals), code="aml_case_active")
    if client.aml_case_open != is_open:
        client.aml_case_open = is_open
        client.save(update_fields=["aml_case_open"])
        audit_record(
            actor=actor,
            action=audit_events.CLIENT_AML_CASE_OPENED
            if is_open
            else audit_events.CLIENT_AML_CASE_CLOSED,
            target=client,
            reason=reason,
        )
        from .trading.reach import platform_reach_request  # reach builds on these services

        # Its trading accounts: trading disabled while the case is open, restored after.
        platform_reach_request(
            clients=[client.pk], reason="AML case opened" if is_open else "AML case closed"
        )
    return client


@transaction.atomic
def client_first_deposit_record(*, client: Client, at, actor: Actor, evidence: dict) -> bool:
    """Mark the client funded at their first deposit (FTD). True only the first time.

    The client becomes active and `client_funded` is sent after commit (leads marks the
    client's lead converted)."""
    from .signals import client_funded

    updated = Client.objects.filter(pk=client.pk, first_deposit_at__isnull=True).update(
        first_deposit_at=at, status=Client.Status.ACTIVE
    )
    if not updated:
        return False
    audit_record(actor=actor, action=audit_events.CLIENT_FTD, target=client, evidence=evidence)
    transaction.on_commit(
        lambda: client_funded.send(sender=Client, client_id=client.pk, actor=actor)
    )
    return True


@transaction.atomic
def client_assign(*, client: Client, desk, account_manager, actor: Actor, reason: str) -> Client:
    """Set the desk and account manager who look after the client (leads calls this when the
    client's lead is linked or reassigned)."""
    client = lock_client(client)
    before = (client.desk_id, client.account_manager_id)
    after = (desk.pk if desk else None, account_manager.pk if account_manager else None)
    if before != after:
        client.desk_id, client.account_manager_id = after
        client.save(update_fields=["desk", "account_manager"])
        audit_record(
            actor=actor,
            action=audit_events.CLIENT_ASSIGNED,
            target=client,
            reason=reason,
            evidence={"desk": after[0], "account_manager": after[1], "before": list(before)},
        )
    return client


# --- Communications: notes and calls (append only) -----------------------------------------


def _check_can_see(actor, client: Client) -> None:
    """A staff actor must be able to see the client (their desk's, or all)."""
    from brokerage.errors import NotAllowed

    from .selectors import clients_visible_to

    if isinstance(actor, str):
        return
    if not clients_visible_to(actor).filter(pk=client.pk).exists():
        raise NotAllowed("This client belongs to another desk.")


@transaction.atomic
def client_note_add(*, client: Client, actor: Actor, text: str):
    """Add a note to the client's communication history. Notes are never edited or deleted."""
    from brokerage.errors import InvalidInput

    from .models import ClientActivity

    _check_can_see(actor, client)
    text = (text or "").strip()
    if not text:
        raise InvalidInput("The note is empty.", fields={"text": ["Write something."]})
    if len(text) > 5000:
        raise InvalidInput("Notes are at most 5,000 characters.", fields={"text": ["Too long."]})
    activity = ClientActivity.objects.create(
        client=client,
        kind=ClientActivity.Kind.NOTE,
        actor=None if isinstance(actor, str) else actor,
        actor_label=actor if isinstance(actor, str) else actor.email,
        body=text,
    )
    audit_record(
        actor=actor,
        action=audit_events.CLIENT_NOTE_ADDED,
        target=client,
        evidence={"activity": activity.pk, "length": len(text)},
    )
    return activity


@transaction.atomic
def client_call_log(
    *,
    client: Client,
    actor: Actor,
    outcome: str,
    duration_seconds: int = 0,
    notes: str = "",
    direction: str = "outbound",
):
    """Log a call with the client: its outcome, length and notes (append only)."""
    from brokerage.errors import InvalidInput

    from .models import ClientActivity

    _check_can_see(actor, client)
    if outcome not in ClientActivity.CallOutcome.values:
        raise InvalidInput("Unknown call outcome.", fields={"outcome": ["Choose an outcome."]})
    if direction not in ("outbound", "inbound"):
        raise InvalidInput("Unknown call direction.", fields={"direction": ["Choose one."]})
    if not 0 <= duration_seconds <= 24 * 3600:
        raise InvalidInput("Call length out of range.", fields={"duration_minutes": ["0-1440."]})
    notes = (notes or "").strip()
    if len(notes) > 5000:
        raise InvalidInput("Notes are at most 5,000 characters.", fields={"notes": ["Too long."]})
    activity = ClientActivity.objects.create(
        client=client,
        kind=ClientActivity.Kind.CALL,
        actor=None if isinstance(actor, str) else actor,
        actor_label=actor if isinstance(actor, str) else actor.email,
        subject=f"{direction.title()} call: {ClientActivity.CallOutcome(outcome).label}",
        body=notes,
        data={"outcome": outcome, "duration_seconds": duration_seconds, "direction": direction},
    )
    audit_record(
        actor=actor,
        action=audit_events.CLIENT_CALL_LOGGED,
        target=client,
        evidence={"activity": activity.pk, "outcome": outcome, "seconds": duration_seconds},
    )
    return activity


@transaction.atomic
def client_language_set(*, client: Client, language: str, actor: Actor) -> Client:
    """The language the client is written to in (emails); any ISO 639-1 code."""
    from brokerage.errors import InvalidInput

    language = (language or "").strip().lower()
    if not is_language(language):
        raise InvalidInput("Choose a language.", fields={"language": ["Choose a language."]})
    return _client_field_set(
        client, "language", language, actor=actor, action=audit_events.CLIENT_LANGUAGE_CHANGED
    )


def _client_field_set(client, field: str, value, *, actor: Actor, action: str, reason=""):
    """Write one field of the client under its row lock, audited with the value before and
    after; no change, no event."""
    client = lock_client(client)
    before = getattr(client, field)
    if before != value:
        setattr(client, field, value)
        client.save(update_fields=[field])
        audit_record(
            actor=actor,
            action=action,
            target=client,
            reason=reason,
            evidence={"from": before, "to": value},
        )
    return client


def client_risk_factor_changed(*, client_id: int, cause: str) -> None:
    """Tell the apps above (compliance rates the client again) that something the client's
    risk rating reads changed; `cause` names it in the rating's history."""
    from brokerage.hooks import RISK_FACTOR_CHANGED

    for fn in contributions(RISK_FACTOR_CHANGED):
        fn(client_id, cause)


@transaction.atomic
def client_risk_rating_set(
    *, client: Client, rating: str, score: int, actor: Actor, reason: str, evidence: dict
) -> Client:
    """Store compliance's risk rating on the client (compliance computes it). High risk puts
    the client under enhanced due diligence; a lower rating lifts it. Audited when the rating
    or the due diligence changes (a new score within the same rating is only stored)."""
    pk = getattr(client, "pk", client)
    client_risk_ratings_set(ratings={pk: (rating, score, evidence)}, actor=actor, reason=reason)
    return Client.objects.get(pk=pk)


RISK_FIELDS = ["risk_rating", "risk_score", "risk_rated_at", "enhanced_due_diligence"]


@transaction.atomic
def client_risk_ratings_set(
    *, ratings: dict[int, tuple[str, int, dict]], actor: Actor, reason: str
) -> int:
    """`client_risk_rating_set` for many clients at once ({client id: (rating, score,
    evidence)}), set-based: the rows locked in primary-key order, written with their history
    in batches, one audit event per client whose rating or due diligence changed. Returns how
    many changed so."""
    from django.utils import timezone
    from simple_history.utils import bulk_update_with_history

    from brokerage.services import audit_record_many

    from .locks import lock_clients

    unknown = {r for r, _, _ in ratings.values()} - {"low", "medium", "high"}
    if unknown:
        raise InvalidInput(f"Unknown risk rating {sorted(unknown)[0]!r}.")
    clients, now, changed = lock_clients(ratings), timezone.now(), []
    for client in clients:
        rating, score, evidence = ratings[client.pk]
        before = (client.risk_rating, client.enhanced_due_diligence)
        client.risk_rating, client.risk_score, client.risk_rated_at = rating, score, now
        client.enhanced_due_diligence = rating == "high"
        if before != (rating, client.enhanced_due_diligence):
            changed.append(
                (client, reason, {"from": before[0], "to": rating, "score": score, **evidence})
            )
    bulk_update_with_history(clients, Client, RISK_FIELDS, batch_size=500, default_date=now)
    return audit_record_many(actor=actor, action=audit_events.CLIENT_RISK_RATED, entries=changed)
