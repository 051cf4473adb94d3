"""Who does compliance's work: compliance officers (the `compliance.manage_screening`
permission), checked by the pages and again by the services that decide."""

from brokerage.errors import NotAllowed

PERM = "compliance.manage_screening"


def require_officer(
    actor, message: str = "Only compliance officers decide screening alerts."
) -> None:
    """Compliance's decisions are compliance officers' (a system rule may act too)."""
    if not isinstance(actor, str) and not actor.has_perm(PERM):
        raise NotAllowed(message)
