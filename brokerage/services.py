"""Writes of the shared kernel: roles and staff, API keys. The audit log's writes live in
`brokerage.audit`; `audit_record` is imported here too, where every app has always found it."""

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.management import create_contenttypes
from django.db import transaction

from brokerage import audit_events

from .audit import Actor, audit_record, audit_record_many, client_ip  # noqa: F401
from .errors import InvalidInput
from .keys import KEY_MAX_LEN, KEY_MIN_LEN, key_find, key_new, key_stored
from .models import ApiKey, Desk, StaffProfile, User
from .roles import ROLES


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
            action=audit_events.STAFF_CREATED if created else audit_events.STAFF_UPDATED,
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
    audit_record(actor=actor, action=audit_events.STAFF_DEACTIVATED, target=user, reason=reason)
    staff_deactivated.send(sender=User, user=user, actor=actor)
    return user


@transaction.atomic
def api_key_create(
    *, actor: Actor, name: str, scopes: list[str] | None = None, raw_key: str | None = None
) -> tuple[ApiKey, str]:
    """Issue a key for an integration. Returns the row and the key, which is never stored."""
    raw_key = raw_key or key_new("bo_")
    if not KEY_MIN_LEN <= len(raw_key) <= KEY_MAX_LEN:
        raise InvalidInput(f"An API key is {KEY_MIN_LEN} to {KEY_MAX_LEN} characters.")
    key = ApiKey.objects.create(
        name=name,
        **key_stored(raw_key),
        scopes=scopes or [],
        created_by=actor if isinstance(actor, User) else None,
    )
    audit_record(
        actor=actor, action=audit_events.API_KEY_CREATED, target=key, evidence={"scopes": scopes}
    )
    return key, raw_key


@transaction.atomic
def api_key_revoke(*, actor: Actor, key: ApiKey, reason: str) -> ApiKey:
    key.is_active = False
    key.save(update_fields=["is_active"])
    audit_record(actor=actor, action=audit_events.API_KEY_REVOKED, target=key, reason=reason)
    return key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key`, or None. Constant-time on the digest."""
    return key_find(ApiKey.objects.filter(is_active=True), raw_key)
