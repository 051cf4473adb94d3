from brokerage.permissions import require


def is_client(user) -> bool:
    """A signed-in trading client (an IB partner's account holder is not one)."""
    if user.is_staff:
        return False
    record = getattr(user, "client", None)
    return record is not None and record.holder == record.Holder.CLIENT


client_required = require(is_client, "The client portal is for our clients.")
