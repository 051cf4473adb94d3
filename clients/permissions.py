from brokerage.permissions import require


def is_client(user) -> bool:
    return not user.is_staff and hasattr(user, "client")


client_required = require(is_client, "The client portal is for our clients.")
