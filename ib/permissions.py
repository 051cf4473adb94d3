from functools import wraps

from django.shortcuts import redirect

from brokerage.permissions import actor_require, require
from brokerage.services import Actor


def is_partner(user) -> bool:
    return not user.is_staff and hasattr(user, "partner")


partner_only = require(is_partner, "The partner area is for our introducing brokers.")


def partner_required(view):
    """A page of the partner dashboard: a partner's only, once it is approved and has accepted
    the agreement version in force (else it is sent to its application or the agreement)."""

    @partner_only
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        from .onboarding import partner_gate

        elsewhere = partner_gate(request.user.partner)
        if elsewhere:
            return redirect(elsewhere)
        return view(request, *args, **kwargs)

    return wrapped


def actor_label(actor: Actor) -> str:
    return actor if isinstance(actor, str) else actor.email


def require_manager(actor: Actor) -> None:
    """Writes on plans, the tree, lines and fraud thresholds are IB managers' (or a rule's)."""
    actor_require(
        actor,
        "ib.manage_commissions",
        "Only IB managers change plans, the partner tree and commission lines.",
    )
