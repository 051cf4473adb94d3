from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def secret_key_not_a_dev_default(app_configs, **kwargs):
    if "insecure" in settings.SECRET_KEY:
        return [
            Error(
                "DJANGO_SECRET_KEY is a development default.",
                hint="Set DJANGO_SECRET_KEY to a long random value in production.",
                id="brokerage.E001",
            )
        ]
    return []
