from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0012_book_batches"),
    ]

    operations = [
        migrations.AddField(
            model_name="screeningjob",
            name="heartbeat_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the worker running it last said it still was (a delta, every "
                "part of the book it screens); a running delta silent for long is taken over.",
                null=True,
            ),
        ),
    ]
