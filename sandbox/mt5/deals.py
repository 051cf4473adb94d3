"""Deals one by one, as MetaQuotes documents them: read one (`/api/deal/get`), correct one
(`/api/deal/update`), delete some (`/api/deal/delete`); see the package docstring for the
contract and the pages it follows. The control endpoints `deal_update` and `deal_delete`
(control.py) do the same without a session, for the demo and the tests."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from .market import SYMBOLS
from .protocol import (
    RET_BAD_PARAMS,
    RET_NOT_FOUND,
    RET_OK,
    VOLUME_EXT_PER_VOLUME,
    ApiError,
    int_param,
    list_param,
)

if TYPE_CHECKING:
    from .state import MT5State

# The record fields a dealer corrects, and the column each is kept in (money in cents).
INTEGER_FIELDS = {"Action": "action", "Entry": "entry", "PositionID": "position_id"}
MONEY_FIELDS = {"Profit": "profit", "Storage": "storage", "Commission": "commission"}
UPDATABLE = {*INTEGER_FIELDS, *MONEY_FIELDS, "Symbol", "Volume", "VolumeExt", "Price"}
UPDATABLE |= {"Time", "Comment"}


def record(row: tuple, digits: dict | None = None) -> dict:
    """The deal record of a stored row (DEAL_COLS), numbers as strings."""
    (deal, login, order, t, msc, action, entry, symbol, volume, price, profit, storage) = row[:12]
    commission, position, comment, raw = row[12:]
    if raw is not None:
        return json.loads(raw)
    digits = digits if digits is not None else {name: s.digits for name, s in SYMBOLS.items()}
    d = digits.get(symbol)
    return {
        "Deal": str(deal),
        "Login": str(login),
        "Order": str(order),
        "Time": str(t),
        "TimeMsc": str(msc),
        "Action": str(action),
        "Entry": str(entry),
        "Symbol": symbol,
        "Volume": str(volume),
        "VolumeExt": str(volume * VOLUME_EXT_PER_VOLUME),
        "Price": "0" if d is None else f"{price:.{d}f}",
        "Profit": f"{profit / 100:.2f}",
        "Storage": f"{storage / 100:.2f}",
        "Commission": f"{commission / 100:.2f}",
        "PositionID": str(position),
        "Comment": comment,
    }


def _one(state: MT5State, db, ticket: int) -> tuple:
    rows = state.store.deals(db, tickets=[ticket])
    if not rows:
        raise ApiError(RET_NOT_FOUND)
    return rows[0]


def _number(value, kind=int):
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ApiError(RET_BAD_PARAMS) from None
    if not number.is_finite():
        raise ApiError(RET_BAD_PARAMS)
    if kind is int:
        if number % 1 or number < 0:
            raise ApiError(RET_BAD_PARAMS)
        return int(number)
    return number


def _columns(fields: dict) -> dict:
    """The stored columns a correction changes, checked ("3 Invalid parameters" when a value
    cannot be one)."""
    out = {}
    for name, column in INTEGER_FIELDS.items():
        if name in fields:
            out[column] = _number(fields[name])
    for name, column in MONEY_FIELDS.items():
        if name in fields:
            cents = _number(fields[name], Decimal) * 100
            if cents % 1:
                raise ApiError(RET_BAD_PARAMS)
            out[column] = int(cents)
    if "VolumeExt" in fields:
        ext = _number(fields["VolumeExt"])
        if ext % VOLUME_EXT_PER_VOLUME:
            raise ApiError(RET_BAD_PARAMS)  # the sandbox keeps volumes in 1/10000 lot
        out["volume"] = ext // VOLUME_EXT_PER_VOLUME
    elif "Volume" in fields:
        out["volume"] = _number(fields["Volume"])
    if "Price" in fields:
        out["price"] = float(_number(fields["Price"], Decimal))
    if "Time" in fields:
        out["time"] = _number(fields["Time"])
        out["time_msc"] = out["time"] * 1000
    if "Symbol" in fields:
        symbol = str(fields["Symbol"])
        if len(symbol) > 32:
            raise ApiError(RET_BAD_PARAMS)
        out["symbol"] = symbol
    if "Comment" in fields:
        comment = str(fields["Comment"])
        if len(comment) > 32:
            raise ApiError(RET_BAD_PARAMS)
        out["comment"] = comment
    return out


def correct(state: MT5State, fields: dict) -> dict:
    """Correct the deal `fields["Deal"]` with the other fields given; its record after."""
    if not isinstance(fields, dict):
        raise ApiError(RET_BAD_PARAMS)
    try:
        ticket = int(str(fields.get("Deal", "")).strip())
    except ValueError:
        raise ApiError(RET_BAD_PARAMS) from None
    unknown = set(fields) - UPDATABLE - {"Deal", "Login"}
    if unknown:
        raise ApiError(RET_BAD_PARAMS)
    columns = _columns(fields)
    with state.store.tx() as db:
        row = _one(state, db, ticket)
        if "Login" in fields and str(fields["Login"]) != str(row[1]):
            raise ApiError(RET_BAD_PARAMS)  # a deal stays on its account
        if row[15] is not None:  # a planted raw record: the record itself changes
            raw = json.loads(row[15])
            raw.update({k: str(v) for k, v in fields.items() if k in UPDATABLE})
            db.execute("UPDATE deals SET raw = ? WHERE deal = ?", (json.dumps(raw), ticket))
        elif columns:
            assignments = ", ".join(f"{column} = ?" for column in columns)
            db.execute(
                f"UPDATE deals SET {assignments} WHERE deal = ?",  # noqa: S608 (fixed names)
                (*columns.values(), ticket),
            )
        return record(_one(state, db, ticket))


def remove(state: MT5State, tickets: list[int]) -> None:
    """Delete the deals; none is deleted when one of them does not exist."""
    if not tickets:
        raise ApiError(RET_BAD_PARAMS)
    with state.store.tx() as db:
        found = {row[0] for row in state.store.deals(db, tickets=tickets)}
        if found != set(tickets):
            raise ApiError(RET_NOT_FOUND)
        db.executemany("DELETE FROM deals WHERE deal = ?", [(t,) for t in tickets])


# --- the Web API calls ----------------------------------------------------------------------


def deal_get(state: MT5State, q: dict) -> dict:
    ticket = int_param(q, "ticket")
    with state.store.read() as db:
        return {"retcode": RET_OK, "answer": record(_one(state, db, ticket))}


def deal_update(state: MT5State, q: dict, body: bytes = b"") -> dict:
    try:
        fields = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        fields = None
    if fields is None:
        raise ApiError(RET_BAD_PARAMS)
    return {"retcode": RET_OK, "answer": correct(state, fields)}


def deal_delete(state: MT5State, q: dict) -> dict:
    remove(state, list_param(q, "ticket") or [])
    return {"retcode": RET_OK}
