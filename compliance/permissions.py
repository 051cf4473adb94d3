"""Who does compliance's work: compliance officers (the `compliance.manage_screening`
permission), checked by the pages and again by the services that decide."""

from brokerage.permissions import actor_require

PERM = "compliance.manage_screening"


def require_officer(
    actor, message: str = "Only compliance officers decide screening alerts."
) -> None:
    """Compliance's decisions are compliance officers' (a system rule may act too)."""
    actor_require(actor, PERM, message)
