from django.apps import AppConfig
from django.core.signals import request_finished
from django.db.models.signals import post_migrate


class BrokerageConfig(AppConfig):
    """The kernel. Apps extend each other's pages and rules only through the hooks of
    `brokerage.hooks`, each in its own `<app>/contributions.py`, which `ready()` imports once
    for every installed app; the apps' own `ready()` keeps only what is not an extension
    (signal receivers)."""

    name = "brokerage"
    verbose_name = "Back-office kernel"

    def ready(self):
        # `checks` is imported for its side effect: Django's own `@register` of system checks
        # (Django's registry, not one of the kernel's hooks); `ids` registers the `<id:...>`
        # path converter every URL module uses.
        from . import (
            checks,  # noqa: F401
            hooks,
            ids,  # noqa: F401
        )
        from .logs import request_context_clear
        from .services import roles_sync
        from .sites import site_sync

        post_migrate.connect(roles_sync, sender=self, dispatch_uid="brokerage.roles_sync")
        post_migrate.connect(site_sync, sender=self, dispatch_uid="brokerage.site_sync")
        request_finished.connect(request_context_clear, dispatch_uid="brokerage.log_context")
        hooks.autodiscover()
