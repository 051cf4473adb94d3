"""Encrypt TOTP secrets and recovery-code seeds written before they were encrypted at rest.

Idempotent: a value that already decrypts under the current key is left alone.
"""

from django.db import migrations


def encrypt_existing(apps, schema_editor):
    from cryptography.fernet import InvalidToken

    from brokerage.mfa import _fernet

    fernet = _fernet()
    Authenticator = apps.get_model("mfa", "Authenticator")
    for authenticator in Authenticator.objects.all():
        data = dict(authenticator.data)
        changed = False
        for field in ("secret", "seed"):
            value = data.get(field)
            if not isinstance(value, str):
                continue
            try:
                fernet.decrypt(value.encode())
            except InvalidToken:
                data[field] = fernet.encrypt(value.encode()).decode()
                changed = True
        for i, code in enumerate(data.get("migrated_codes") or []):
            try:
                fernet.decrypt(code.encode())
            except InvalidToken:
                data["migrated_codes"][i] = fernet.encrypt(code.encode()).decode()
                changed = True
        if changed:
            authenticator.data = data
            authenticator.save(update_fields=["data"])


class Migration(migrations.Migration):
    dependencies = [
        ("brokerage", "0004_staffprofile_last_lead_assigned_at_apiidempotency"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(encrypt_existing, migrations.RunPython.noop)]
