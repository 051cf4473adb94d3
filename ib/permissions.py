from brokerage.permissions import require


def is_partner(user) -> bool:
    return not user.is_staff and hasattr(user, "partner")


partner_required = require(is_partner, "The partner area is for our introducing brokers.")
