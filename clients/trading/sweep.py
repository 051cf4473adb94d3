"""The book sweep of leverage: every live trading account whose leverage is above its client's
cap, and every account whose leverage the product lowered while its cap has since risen, marked
for the platform reach (`reach.platform_reach_request`), which lowers or restores it on the
platform, audits each account and tells the client.

Set-based: the distinct (country, nationality, category) of the clients in scope is read once,
each one's cap is worked out from the limits read once (`brokerage.leverage_limits.CapBook`),
and one query joins the accounts to those caps; no Python loop over accounts. Run when a limit
is edited (for the jurisdictions it touches), when a client's residence, nationality or
category changes, and nightly for the whole book (`clients-leverage-sweep`).
"""

from __future__ import annotations

import logging

from django.db import connection, transaction
from django.db.models import Q

from brokerage.leverage_limits import CapBook

from ..categories import account_cap_from
from ..models import Client, PlatformRestraint, TradingAccount
from .reach import platform_reach_request

logger = logging.getLogger(__name__)


def _caps(scope: Q) -> list[tuple[str, str, str, int]]:
    """Each (country, nationality, category) in scope that has a cap, with the cap."""
    book = CapBook.load()
    combos = (
        Client.objects.filter(scope, trading_accounts__status=TradingAccount.Status.ACTIVE)
        .values_list("country", "nationality", "category")
        .order_by()
        .distinct()
    )
    rows = []
    for country, nationality, category in combos:
        cap = account_cap_from(book, country=country, nationality=nationality, category=category)
        if cap is not None:
            rows.append((country, nationality, category, cap.max_leverage))
    return rows


def leverage_above_cap(scope: Q | None = None) -> list[int]:
    """The active accounts of the clients in `scope` (all when None) whose leverage is above
    their client's cap, or whose leverage the product lowered below a cap that has since
    risen (or gone): one query."""
    caps = _caps(scope or Q())
    values = ", ".join(["(%s::varchar, %s::varchar, %s::varchar, %s::integer)"] * len(caps))
    params: list = [v for row in caps for v in row]
    if not caps:
        values, params = "(NULL::varchar, NULL::varchar, NULL::varchar, NULL::integer)", []
    within, within_params = "", []
    if scope is not None:
        subquery, within_params = Client.objects.filter(scope).values("pk").query.sql_with_params()
        within = f"AND a.client_id IN ({subquery})"
    account = TradingAccount._meta.db_table
    client = Client._meta.db_table
    restraint = PlatformRestraint._meta.db_table
    # Table names from the models; every value a parameter.
    sql = f"""
        WITH caps (country, nationality, category, cap) AS (VALUES {values})
        SELECT a.id FROM {account} a
        JOIN {client} c ON c.id = a.client_id
        LEFT JOIN caps ON caps.country = c.country AND caps.nationality = c.nationality
            AND caps.category = c.category
        LEFT JOIN {restraint} r ON r.account_id = a.id
        WHERE a.status = %s {within}
          AND (
            a.leverage > caps.cap
            OR (
              r.leverage_cap IS NOT NULL AND r.leverage_before IS NOT NULL
              AND a.leverage = r.leverage_cap
              AND (caps.cap IS NULL OR caps.cap > r.leverage_cap)
            )
          )
        ORDER BY a.id
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, TradingAccount.Status.ACTIVE, *within_params])
        return [row[0] for row in cursor.fetchall()]


def leverage_book_sweep(*, scope: Q | None = None, reason: str = "leverage sweep") -> list[int]:
    """Mark, in the caller's transaction (or one of its own), every account `leverage_above_cap`
    finds for the platform reach. Returns the accounts marked."""
    with transaction.atomic():
        accounts = leverage_above_cap(scope)
        if accounts:
            platform_reach_request(accounts=accounts, reason=reason)
    logger.info("Leverage sweep (%s): %s accounts to bring under their cap", reason, len(accounts))
    return accounts
