"""Clients' Celery tasks (queue `sync`): trading platform sync, retention flags. Thin: ids in,
a service call out."""

from celery import shared_task  # noqa: F401
