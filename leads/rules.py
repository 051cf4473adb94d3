"""Scoring and routing rules, cached per process and refreshed the moment ops change them.

Every lead is scored and routed against the rules; reading them from the database each time
costs more than the decision itself. A version number in the shared cache (Redis) is bumped
whenever a rule, a nurture sequence or a desk changes, and each process reloads on a new
version: one cache read per lead instead of two queries, and no stale rule after an edit.
"""

import uuid

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save

VERSION_KEY = "leads:rules:version"
_local = {"version": None, "scoring": None, "routing": None}


def _version() -> str | None:
    """A random token, not a counter: after a cache flush no process can mistake an old
    version for the current one. None when the cache cannot be reached: the rules are then
    read from the database for every lead (capture needs only the database)."""
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY)
    return version


def bump(**_kwargs) -> None:
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    _local["version"] = None


def _load():
    from .models import RoutingRule, ScoringRule

    version = _version()
    if version is None or _local["version"] != version:
        _local["scoring"] = list(
            ScoringRule.objects.filter(is_active=True).order_by("order", "name")
        )
        _local["routing"] = list(
            RoutingRule.objects.filter(is_active=True)
            .select_related("desk", "sequence")
            .order_by("order", "name")
        )
        _local["version"] = version


def scoring_rules():
    _load()
    return _local["scoring"]


def routing_rules():
    _load()
    return _local["routing"]


def connect() -> None:
    from brokerage.models import Desk

    from .models import NurtureSequence, NurtureStep, RoutingRule, ScoringRule

    for model in (ScoringRule, RoutingRule, NurtureSequence, NurtureStep, Desk):
        post_save.connect(bump, sender=model, dispatch_uid=f"leads.rules.{model.__name__}.save")
        post_delete.connect(bump, sender=model, dispatch_uid=f"leads.rules.{model.__name__}.delete")
