"""The Web API calls after authentication (users, accounts, groups, balance operations, deals,
positions), as MetaQuotes documents them; see the package docstring for the contract. Each
handler takes the server's state and the request's parameters and returns the answer, or
raises ApiError with the retcode; `API` maps the paths to them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import deals
from .deals import record as deal_record
from .market import SYMBOLS
from .protocol import (
    GROUP_TRADE_MODES,
    GROUPS,
    MAX_BATCH_LOGINS,
    MAX_COMMENT,
    MAX_UPDATE_LEVERAGE,
    MAX_USER_COMMENT,
    RET_BAD_PARAMS,
    RET_NO_MONEY,
    RET_NO_PERMISSIONS_HERE,
    RET_NOT_FOUND,
    RET_OK,
    RET_USER_PASSWORD,
    TRADE_MODE_FULL,
    USER_RIGHT_ALL,
    USER_RIGHT_DEFAULT,
    VOLUME_EXT_PER_VOLUME,
    ApiError,
    account_record,
    groups_matching,
    int_param,
    list_param,
    money,
    parse_cents,
    password_hash,
    user_record,
    valid_password,
)

if TYPE_CHECKING:
    from .state import MT5State


def call(state: MT5State, path: str, q: dict, body: bytes = b"") -> dict:
    if path in WITH_BODY:  # a request whose JSON body is the record itself
        return WITH_BODY[path](state, q, body)
    handler = API.get(path)
    if handler is None:
        raise ApiError(RET_NOT_FOUND, 404)
    return handler(state, q)


def selected_logins(state: MT5State, db, q: dict, limit: int | None = None) -> list[int]:
    """login=1,2,3 and/or group=<mask>: the union, existing accounts only."""
    logins = list_param(q, "login", limit)
    mask = q.get("group")
    if logins is None and not mask:
        raise ApiError(RET_BAD_PARAMS)
    found: set[int] = set()
    if logins:
        found.update(state.store.existing_logins(db, logins))
    if mask:
        found.update(state.store.logins_in_groups(db, groups_matching(mask)))
    return sorted(found)


def access_test(state: MT5State, q: dict) -> dict:
    return {"retcode": RET_OK}


# --- users ------------------------------------------------------------------------------------


def user_add(state: MT5State, q: dict) -> dict:
    group = q.get("group", "")
    if not group:
        raise ApiError(RET_BAD_PARAMS)
    if group not in GROUPS:  # MetaQuotes: a group that does not exist answers 8
        raise ApiError(RET_NO_PERMISSIONS_HERE)
    if not valid_password(q.get("pass_main", "")):
        raise ApiError(RET_USER_PASSWORD)
    if "pass_investor" in q and not valid_password(q["pass_investor"]):
        raise ApiError(RET_USER_PASSWORD)
    if len(q.get("comment", "")) > MAX_USER_COMMENT:
        raise ApiError(RET_BAD_PARAMS)
    leverage = int_param(q, "leverage")
    if not 1 <= leverage <= 1000:
        raise ApiError(RET_BAD_PARAMS)
    rights = int_param(q, "rights", required=False, default=USER_RIGHT_DEFAULT)
    if not 0 <= rights <= USER_RIGHT_ALL:
        raise ApiError(RET_BAD_PARAMS)
    now = int(state.srv_time())
    store = state.store
    with store.tx() as db:
        login = store.next_login(db)
        store.add_user(
            db,
            login,
            (
                group,
                q.get("name", ""),
                q.get("email", ""),
                q.get("country", ""),
                leverage,
                now,
                now,
                password_hash(q["pass_main"]).hex(),
                password_hash(q.get("pass_investor", "")).hex(),
                q.get("comment", ""),
                rights,
            ),
        )
        user = store.user(db, login)
    return {"retcode": RET_OK, "login": str(login), "answer": user_record(user)}


def user_get(state: MT5State, q: dict) -> dict:
    login = int_param(q, "login")
    with state.store.read() as db:
        user = state.store.user(db, login)
    if user is None:
        raise ApiError(RET_NOT_FOUND)
    return {"retcode": RET_OK, "answer": user_record(user)}


def user_get_batch(state: MT5State, q: dict) -> dict:
    with state.store.read() as db:
        logins = selected_logins(state, db, q, MAX_BATCH_LOGINS)
        users = [user_record(u) for u in state.store.users(db, logins)]
    return {"retcode": RET_OK, "answer": users}


def user_logins(state: MT5State, q: dict) -> dict:
    mask = q.get("group")
    if not mask:
        raise ApiError(RET_BAD_PARAMS)
    with state.store.read() as db:
        logins = selected_logins(state, db, {"group": mask})
    return {"retcode": RET_OK, "answer": [str(n) for n in logins]}


def _optional_int(q: dict, name: str, low: int, high: int) -> int | None:
    """An integer parameter within [low, high], or None when absent or incorrect (MetaQuotes:
    "If a parameter value is incorrect, the parameter does not change")."""
    raw = q.get(name)
    try:
        value = int(raw) if raw is not None and raw.strip() else None
    except ValueError:
        return None
    return value if value is not None and low <= value <= high else None


def user_update(state: MT5State, q: dict) -> dict:
    """Change a user record: `login` names it ("13 Not found" when unknown); each of rights,
    leverage (1 to 500), group, name, email, country and comment given and correct replaces
    the record's, an incorrect one leaves it as it is. The answer is the record as it now
    stands."""
    login = int_param(q, "login")
    changes: dict = {}
    rights = _optional_int(q, "rights", 0, USER_RIGHT_ALL)
    if rights is not None:
        changes["rights"] = rights
    leverage = _optional_int(q, "leverage", 1, MAX_UPDATE_LEVERAGE)
    if leverage is not None:
        changes["leverage"] = leverage
    if q.get("group") in GROUPS:
        changes["grp"] = q["group"]
    for name in ("name", "email", "country"):
        if q.get(name):
            changes[name] = q[name][:128]
    if "comment" in q:
        changes["comment"] = q["comment"][:MAX_USER_COMMENT]
    with state.store.tx() as db:
        if state.store.user(db, login) is None:
            raise ApiError(RET_NOT_FOUND)
        state.store.update_user(db, login, changes)
        user = state.store.user(db, login)
    return {"retcode": RET_OK, "answer": user_record(user)}


def user_change_password(state: MT5State, q: dict) -> dict:
    login = int_param(q, "login")
    kind = q.get("type", "main")
    password = q.get("password", "")
    if kind not in ("main", "investor"):
        raise ApiError(RET_BAD_PARAMS)
    if not valid_password(password):
        raise ApiError(RET_USER_PASSWORD)
    with state.store.tx() as db:
        changed = state.store.set_password(db, login, kind, password_hash(password).hex())
    if not changed:
        raise ApiError(RET_NOT_FOUND)
    return {"retcode": RET_OK}


def user_check_password(state: MT5State, q: dict) -> dict:
    login = int_param(q, "login")
    kind = q.get("type", "main")
    if kind not in ("main", "investor"):
        raise ApiError(RET_BAD_PARAMS)
    with state.store.read() as db:
        stored = state.store.password(db, login, kind)
    if stored is None:
        raise ApiError(RET_NOT_FOUND)
    if stored != password_hash(q.get("password", "")).hex():
        raise ApiError(RET_USER_PASSWORD)
    return {"retcode": RET_OK}


# --- accounts and groups ------------------------------------------------------------------


def _accounts(state: MT5State, db, logins: list[int]) -> list[dict]:
    now = int(state.srv_time())
    users = state.store.users(db, logins)
    by_login: dict[int, list] = {}
    for pos in state.store.positions(db, logins):
        by_login.setdefault(pos[1], []).append(pos)
    return [
        account_record(u, state.market.account(u, by_login.get(u["login"], []), now)) for u in users
    ]


def account_get(state: MT5State, q: dict) -> dict:
    login = int_param(q, "login")
    with state.store.read() as db:
        records = _accounts(state, db, [login])
    if not records:
        raise ApiError(RET_NOT_FOUND)
    return {"retcode": RET_OK, "answer": records[0]}


def account_get_batch(state: MT5State, q: dict) -> dict:
    with state.store.read() as db:
        logins = selected_logins(state, db, q, MAX_BATCH_LOGINS)
        records = _accounts(state, db, logins)
    return {"retcode": RET_OK, "answer": records}


def group_get(state: MT5State, q: dict) -> dict:
    group = q.get("group", "")
    if group not in GROUPS:
        raise ApiError(RET_BAD_PARAMS)
    mode = GROUP_TRADE_MODES.get(group, TRADE_MODE_FULL)
    return {
        "retcode": RET_OK,
        "answer": {
            "Group": group,
            "Currency": GROUPS[group],
            "CurrencyDigits": "2",
            "Symbols": [{"Path": "*", "TradeMode": str(mode)}],
        },
    }


# --- balance operations, deals, positions ---------------------------------------------------


def trade_balance(state: MT5State, q: dict) -> dict:
    login = int_param(q, "login")
    if int_param(q, "type") != 2:
        raise ApiError(RET_BAD_PARAMS)
    amount = parse_cents(q.get("balance", ""))
    comment = q.get("comment", "")
    if amount == 0 or len(comment) > MAX_COMMENT:
        raise ApiError(RET_BAD_PARAMS)
    check_margin = q.get("check_margin", "0") not in ("", "0")
    srv = state.srv_time()
    now = int(srv)
    store = state.store
    with store.tx() as db:
        user = store.user(db, login)
        if user is None:
            raise ApiError(RET_NOT_FOUND)
        if check_margin and amount < 0 and -amount > state.market.free_margin(db, user, now):
            raise ApiError(RET_NO_MONEY)
        ticket = store.insert_deal(
            db,
            (login, 0, now, int(srv * 1000), 2, 0, "", 0, 0.0, amount, 0, 0, 0, comment, None),
        )
        store.change_balance(db, login, amount, now)
    return {"retcode": RET_OK, "answer": {"Ticket": str(ticket)}}


def deal_get_batch(state: MT5State, q: dict) -> dict:
    tickets = list_param(q, "ticket")
    has_owner = q.get("login", "").strip() or q.get("group", "").strip()
    start = int_param(q, "from", required=tickets is None, default=None)
    end = int_param(q, "to", required=tickets is None, default=None)
    with state.store.read() as db:
        logins = None
        if has_owner or tickets is None:
            logins = selected_logins(state, db, q)
        rows = state.store.deals(db, start=start, end=end, tickets=tickets, logins=logins)
    digits = {name: s.digits for name, s in SYMBOLS.items()}
    out = [deal_record(row, digits) for row in rows]
    return {"retcode": RET_OK, "answer": out}


def position_get_batch(state: MT5State, q: dict) -> dict:
    now = int(state.srv_time())
    out = []
    with state.store.read() as db:
        logins = selected_logins(state, db, q)
        users = {
            login: (GROUPS.get(group, "USD"), leverage)
            for login, group, leverage in state.store.group_and_leverage(db, logins)
        }
        for pos in state.store.positions(db, logins):
            position, login, symbol, action, created, updated, price_open, volume, sl, tp = pos
            currency, leverage = users[login]
            profit, storage, _, price = state.market.figures(pos, currency, leverage, now)
            d = SYMBOLS[symbol].digits
            out.append(
                {
                    "Position": str(position),
                    "Login": str(login),
                    "Symbol": symbol,
                    "Action": str(action),
                    "TimeCreate": str(created),
                    "TimeUpdate": str(updated),
                    "PriceOpen": f"{price_open:.{d}f}",
                    "PriceCurrent": f"{price:.{d}f}",
                    "PriceSL": f"{sl:.{d}f}",
                    "PriceTP": f"{tp:.{d}f}",
                    "Volume": str(volume),
                    "VolumeExt": str(volume * VOLUME_EXT_PER_VOLUME),
                    "Profit": money(profit),
                    "Storage": money(storage),
                }
            )
    return {"retcode": RET_OK, "answer": out}


API = {
    "/api/test/access": access_test,
    "/api/user/add": user_add,
    "/api/user/get": user_get,
    "/api/user/get_batch": user_get_batch,
    "/api/user/logins": user_logins,
    "/api/user/update": user_update,
    "/api/user/change_password": user_change_password,
    "/api/user/check_password": user_check_password,
    "/api/user/account/get": account_get,
    "/api/user/account/get_batch": account_get_batch,
    "/api/group/get": group_get,
    "/api/trade/balance": trade_balance,
    "/api/deal/get_batch": deal_get_batch,
    "/api/deal/get": deals.deal_get,
    "/api/deal/delete": deals.deal_delete,
    "/api/position/get_batch": position_get_batch,
}
WITH_BODY = {"/api/deal/update": deals.deal_update}
