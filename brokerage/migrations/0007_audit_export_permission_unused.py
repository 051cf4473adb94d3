"""The "export audit trails" permission was granted to compliance officers and never checked:
nothing exports a trail under it. Its Meta entry goes, and so does the permission row, so no
user or group keeps a grant that means nothing."""

from django.db import migrations


def permission_delete(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(
        content_type__app_label="brokerage",
        content_type__model="auditevent",
        codename="export_audit_trail",
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("brokerage", "0006_audit_sealed_after_commit"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": ["-id"]},
        ),
        migrations.RunPython(permission_delete, migrations.RunPython.noop),
    ]
