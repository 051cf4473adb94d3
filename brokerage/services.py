"""Writes of the shared kernel: the audit log, roles and staff, API keys."""

import ipaddress
import json
import secrets
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.management import create_contenttypes
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from .errors import InvalidInput
from .models import ApiKey, AuditChainHead, AuditEvent, Desk, StaffProfile, User
from .roles import ROLES

# An actor is a user or the name of a system rule ("rule:lead_routing", "system:seed_demo").
Actor = User | str


def _actor_fields(actor: Actor) -> dict:
    if isinstance(actor, str):
        if not actor:
            raise ValueError("A system actor needs a name.")
        return {"actor": None, "actor_label": actor}
    if not getattr(actor, "pk", None):
        raise ValueError("An anonymous user cannot be an audit actor; name the system rule.")
    return {"actor": actor, "actor_label": actor.email}


def _target_fields(target) -> dict:
    if target is None:
        return {"target_type": "", "target_id": "", "target_repr": ""}
    if isinstance(target, models.Model):
        return {
            "target_type": target._meta.label_lower,
            "target_id": str(target.pk),
            "target_repr": str(target)[:255],
        }
    kind, ident = target  # ("integration", "stripe"), for things that are not rows
    return {"target_type": kind, "target_id": str(ident), "target_repr": f"{kind}:{ident}"[:255]}


def _no_nul(value):
    """Postgres text and jsonb cannot hold NUL; evidence may carry raw outside input."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nul(v) for v in value]
    return value


def _has_float(value) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def _as_stored(evidence: dict) -> dict:
    """Evidence exactly as jsonb will give it back, so the hash verifies on re-read.

    jsonb keeps numbers as numeric (1e16 comes back as an integer, -0.0 as 0.0); only evidence
    with floats needs the database's own rendering, one cheap round trip.
    """
    if not _has_float(evidence):
        return evidence
    with connection.cursor() as cur:
        cur.execute("SELECT %s::jsonb::text", [json.dumps(evidence)])
        return json.loads(cur.fetchone()[0])


def client_ip(request) -> str | None:
    """The visitor's address: REMOTE_ADDR, or the address our TRUSTED_PROXY_COUNT proxies saw."""
    if request is None:
        return None
    raw = request.META.get("REMOTE_ADDR") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        raw = hops[-proxies] if len(hops) >= proxies else ""
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def audit_record(
    *,
    actor: Actor,
    action: str,
    target=None,
    reason: str = "",
    evidence: dict | None = None,
    request=None,
) -> AuditEvent:
    """Append one event to the audit chain, inside the caller's transaction.

    The chain head row is locked until the caller's transaction ends, so events are chained
    in commit order; a rolled-back transaction leaves no event and no gap. Since the lock
    serialises audited transactions from this call to their commit, record the event as late
    in the transaction as the decision allows.
    """
    fields = _no_nul(
        {
            "action": action,
            "reason": reason,
            "ip_address": client_ip(request),
            **_actor_fields(actor),  # raises before anything is written
            **_target_fields(target),
        }
    )
    evidence = _as_stored(json.loads(json.dumps(_no_nul(evidence or {}), cls=DjangoJSONEncoder)))
    # Joins the caller's transaction without a savepoint: two round trips fewer per event.
    with transaction.atomic(savepoint=False):
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None:  # only after a TRUNCATE (test databases are flushed that way)
            AuditChainHead.objects.bulk_create([AuditChainHead(pk=1)], ignore_conflicts=True)
            head = AuditChainHead.objects.select_for_update().get(pk=1)
        event = AuditEvent(
            seq=head.seq + 1,
            occurred_at=timezone.now(),
            evidence=evidence,  # as JSON will read it back, so the hash verifies later
            prev_hash=head.last_hash,
            **fields,
        )
        event.hash = event.compute_hash()
        event.save(force_insert=True)
        head.seq = event.seq
        head.last_hash = event.hash
        head.save(update_fields=["seq", "last_hash"])
    return event


def audit_record_many(
    *, actor: Actor, action: str, entries: list[tuple[object, str, dict | None]]
) -> int:
    """Append one event per `(target, reason, evidence)` in `entries`, chained in order, with
    one lock of the chain head and one batched insert: for rules that decide about thousands
    of rows at once (the daily retention run). Same chain, same hashes as `audit_record`; the
    head still moves forward one event at a time (the database allows nothing else), in one
    round trip."""
    if not entries:
        return 0
    actor_fields = _actor_fields(actor)
    with transaction.atomic(savepoint=False):
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            AuditChainHead.objects.bulk_create([AuditChainHead(pk=1)], ignore_conflicts=True)
            head = AuditChainHead.objects.select_for_update().get(pk=1)
        seq, prev_hash, now = head.seq, head.last_hash, timezone.now()
        events = []
        for target, reason, evidence in entries:
            seq += 1
            stored = json.dumps(_no_nul(evidence or {}), cls=DjangoJSONEncoder)
            event = AuditEvent(
                seq=seq,
                occurred_at=now,
                evidence=_as_stored(json.loads(stored)),
                prev_hash=prev_hash,
                ip_address=None,
                **_no_nul(
                    {"action": action, "reason": reason or "", **actor_fields}
                    | _target_fields(target)
                ),
            )
            event.hash = prev_hash = event.compute_hash()
            events.append(event)
        AuditEvent.objects.bulk_create(events, batch_size=2000)
        table = connection.ops.quote_name(AuditChainHead._meta.db_table)
        with connection.cursor() as cur:
            if len(events) > 1:
                steps = int(len(events) - 1)
                cur.execute(
                    f"DO $$ BEGIN FOR i IN 1..{steps} LOOP "  # noqa: S608 (an int we counted)
                    f"UPDATE {table} SET seq = seq + 1 WHERE id = 1; END LOOP; END $$"
                )
            cur.execute(
                f"UPDATE {table} SET seq = seq + 1, last_hash = %s WHERE id = 1",  # noqa: S608
                [prev_hash],
            )
    return len(events)


def roles_sync(**_kwargs) -> None:
    """Create each role's group with exactly its permissions. Runs after every migrate."""
    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0)
        create_permissions(app_config, verbosity=0)
    for role in ROLES.values():
        group, _ = Group.objects.get_or_create(name=role.label)
        wanted = []
        for perm in role.permissions:
            app_label, codename = perm.split(".", 1)
            try:
                wanted.append(
                    Permission.objects.get(content_type__app_label=app_label, codename=codename)
                )
            except Permission.DoesNotExist as exc:
                raise LookupError(f"Role {role.slug} names unknown permission {perm}") from exc
        group.permissions.set(wanted)


@transaction.atomic
def staff_user_upsert(
    *,
    actor: Actor,
    email: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    desk: Desk | None = None,
    languages: list[str] | None = None,
    password: str | None = None,
) -> User:
    """Create or update a staff member with exactly one role. A no-op leaves no audit event."""
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}.", fields={"role": ["Unknown role."]})
    email = User.objects.normalize_email(email).lower()
    user, created = User.objects.get_or_create(
        email=email,
        defaults={"first_name": first_name, "last_name": last_name, "is_staff": True},
    )
    changed = ["created"] if created else []
    for field, value in (("first_name", first_name), ("last_name", last_name), ("is_staff", True)):
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if password is not None and not user.check_password(password):
        user.set_password(password)
        changed.append("password")
    elif password is None and created:
        user.set_unusable_password()
    if changed:
        user.save()
    group = Group.objects.get(name=ROLES[role].label)
    if list(user.groups.all()) != [group]:
        user.groups.set([group])
        changed.append("role")
    languages = languages or ["en"]
    profile, profile_created = StaffProfile.objects.get_or_create(
        user=user, defaults={"desk": desk, "languages": languages}
    )
    if not profile_created and (profile.desk_id, profile.languages) != (
        desk.pk if desk else None,
        languages,
    ):
        profile.desk, profile.languages = desk, languages
        profile.save()
        changed.append("desk")
    if changed:
        audit_record(
            actor=actor,
            action="staff.created" if created else "staff.updated",
            target=user,
            evidence={"role": role, "desk": desk.name if desk else None, "changed": changed},
        )
    return user


@transaction.atomic
def staff_deactivate(*, actor: Actor, user: User, reason: str = "") -> User:
    """Switch a staff member off; apps hand over their work (e.g. leads are re-routed)."""
    from .signals import staff_deactivated

    if user.is_active:
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
    audit_record(actor=actor, action="staff.deactivated", target=user, reason=reason)
    staff_deactivated.send(sender=User, user=user, actor=actor)
    return user


def _new_raw_key() -> str:
    return "bo_" + secrets.token_urlsafe(32)


@transaction.atomic
def api_key_create(
    *, actor: Actor, name: str, scopes: list[str] | None = None, raw_key: str | None = None
) -> tuple[ApiKey, str]:
    """Issue a key for an integration. Returns the row and the key, which is never stored."""
    raw_key = raw_key or _new_raw_key()
    if len(raw_key) < 24:
        raise InvalidInput("An API key must be at least 24 characters.")
    key = ApiKey.objects.create(
        name=name,
        prefix=raw_key[: ApiKey.PREFIX_LEN],
        key_hash=ApiKey.digest(raw_key),
        scopes=scopes or [],
        created_by=actor if isinstance(actor, User) else None,
    )
    audit_record(actor=actor, action="api_key.created", target=key, evidence={"scopes": scopes})
    return key, raw_key


@transaction.atomic
def api_key_revoke(*, actor: Actor, key: ApiKey, reason: str) -> ApiKey:
    key.is_active = False
    key.save(update_fields=["is_active"])
    audit_record(actor=actor, action="api_key.revoked", target=key, reason=reason)
    return key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key`, or None. Constant-time on the digest."""
    if not raw_key or len(raw_key) < ApiKey.PREFIX_LEN or len(raw_key) > 200:
        return None
    key = ApiKey.objects.filter(prefix=raw_key[: ApiKey.PREFIX_LEN], is_active=True).first()
    if key is None or not key.matches(raw_key):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
