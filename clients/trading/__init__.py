"""Trading accounts on the client's side: `services` (writes: opening exactly once, the
openings sweeper, password resets) and `selectors` (reads for the portal and back-office).

The public names are re-exported here for callers that take the package as a whole
(`from clients import trading`); new code imports from the module it needs.
"""

from .selectors import (
    account_types_for,
    deals_of,
    openings_to_show,
    positions_of,
    trading_accounts_of,
)
from .services import (
    MAX_ACCOUNTS_PER_CLIENT,
    AccountNotAllowed,
    account_openings_look_again,
    account_openings_resolve,
    trading_account_leverage_change,
    trading_account_open,
    trading_account_password_reset,
)

__all__ = [
    "MAX_ACCOUNTS_PER_CLIENT",
    "AccountNotAllowed",
    "account_openings_look_again",
    "account_openings_resolve",
    "account_types_for",
    "deals_of",
    "openings_to_show",
    "positions_of",
    "trading_account_leverage_change",
    "trading_account_open",
    "trading_account_password_reset",
    "trading_accounts_of",
]
