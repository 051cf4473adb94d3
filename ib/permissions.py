from brokerage.errors import NotAllowed
from brokerage.permissions import require
from brokerage.services import Actor


def is_partner(user) -> bool:
    return not user.is_staff and hasattr(user, "partner")


partner_required = require(is_partner, "The partner area is for our introducing brokers.")


def actor_label(actor: Actor) -> str:
    return actor if isinstance(actor, str) else actor.email


def require_manager(actor: Actor) -> None:
    """Writes on plans, the tree, lines and fraud thresholds are IB managers' (or a rule's)."""
    if not isinstance(actor, str) and not actor.has_perm("ib.manage_commissions"):
        raise NotAllowed("Only IB managers change plans, the partner tree and commission lines.")
