"""Production: every secret from the environment, HTTPS everywhere. Passes `check --deploy`."""

from .base import *  # noqa: F403
