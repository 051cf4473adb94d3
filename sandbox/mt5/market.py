"""The market: the server's symbols and their prices, what an open position is worth in an
account's currency (profit, swap, margin), and opening and closing positions as deals."""

import random
from dataclasses import dataclass

from .protocol import (
    GROUP_TRADE_MODES,
    GROUPS,
    RET_CLOSE_ONLY,
    RET_NO_MONEY,
    RET_TRADE_DISABLED,
    TRADE_MODE_CLOSEONLY,
    TRADE_MODE_FULL,
    USER_RIGHT_TRADE_DISABLED,
    ApiError,
    ServerClock,
)
from .store import FIRST_ORDER, INSERT_POSITION, Store


@dataclass(frozen=True)
class Symbol:
    name: str
    digits: int
    contract: float
    quote: str  # profit currency
    start: float
    volatility: float  # standard deviation of one simulation tick's relative move
    swap: float  # USD per lot per night held (a cost)
    commission: float  # USD per lot, charged on the closing deal


SYMBOLS = {
    s.name: s
    for s in (
        Symbol("EURUSD", 5, 100_000, "USD", 1.08500, 0.00015, 7.0, 7.0),
        Symbol("GBPUSD", 5, 100_000, "USD", 1.27000, 0.00018, 5.0, 7.0),
        Symbol("USDJPY", 3, 100_000, "JPY", 151.500, 0.00015, 3.0, 7.0),
        Symbol("XAUUSD.m", 2, 100, "USD", 2350.00, 0.0003, 25.0, 7.0),
        Symbol("US30.cash", 2, 1, "USD", 39000.00, 0.0003, 3.0, 0.0),
        Symbol("BTCUSD.pro", 2, 1, "USD", 65000.00, 0.0008, 40.0, 30.0),
    )
}
LOT_CHOICES = (100, 100, 200, 300, 500, 1000, 1000, 2000, 5000, 10000)  # volume, 1/10000 lot


def trade_disabled(user: dict) -> bool:
    return bool(user["rights"] & USER_RIGHT_TRADE_DISABLED)


def refuse_if_trade_disabled(user: dict) -> None:
    if trade_disabled(user):
        raise ApiError(RET_TRADE_DISABLED)


def refuse_if_close_only(user: dict) -> None:
    """An order opening a position in a group whose symbols are close-only."""
    if GROUP_TRADE_MODES.get(user["grp"], TRADE_MODE_FULL) == TRADE_MODE_CLOSEONLY:
        raise ApiError(RET_CLOSE_ONLY)


class Market:
    """Current prices (one per symbol, no spread), kept in the store; the figures and trades
    that follow from them. Callers hold the store's lock (or a transaction)."""

    def __init__(self, store: Store, clock: ServerClock, rng: random.Random):
        self.store, self.clock, self.rng = store, clock, rng
        self.prices = {name: s.start for name, s in SYMBOLS.items()}
        self.prices.update(store.saved_prices(store.db))

    def reset_prices(self) -> None:
        self.prices = {name: s.start for name, s in SYMBOLS.items()}

    def price_texts(self) -> dict:
        return {n: f"{p:.{SYMBOLS[n].digits}f}" for n, p in self.prices.items()}

    def move_prices(self) -> None:
        gauss = self.rng.gauss
        for name, spec in SYMBOLS.items():
            price = self.prices[name]
            price *= 1 + gauss(0, spec.volatility) + (spec.start - price) / spec.start * 0.001
            self.prices[name] = round(price, spec.digits)

    def save_prices(self, db) -> None:
        self.store.save_prices(db, self.prices)

    # --- money ---------------------------------------------------------------------------------

    def _usd_value(self, currency: str) -> float:
        if currency == "EUR":
            return self.prices["EURUSD"]
        if currency == "GBP":
            return self.prices["GBPUSD"]
        if currency == "JPY":
            return 1 / self.prices["USDJPY"]
        return 1.0

    def conv(self, source: str, target: str) -> float:
        return 1.0 if source == target else self._usd_value(source) / self._usd_value(target)

    def figures(self, pos: tuple, currency: str, leverage: int, now: int) -> tuple:
        """(profit, storage, margin) in cents of the account currency, and the current price."""
        _, _, symbol, action, created, _, price_open, volume, _, _ = pos
        spec = SYMBOLS[symbol]
        price = self.prices[symbol]
        lots = volume / 10000
        conv = self.conv(spec.quote, currency)
        move = (price - price_open) if action == 0 else (price_open - price)
        profit = round(move * lots * spec.contract * conv * 100)
        nights = max(0, now // 86400 - created // 86400)
        storage = -round(spec.swap * lots * nights * self.conv("USD", currency) * 100)
        margin = round(lots * spec.contract * price / max(leverage, 1) * conv * 100)
        return profit, storage, margin, price

    def account(self, user: dict, positions: list[tuple], now: int) -> dict:
        currency = GROUPS.get(user["grp"], "USD")
        profit = storage = margin = 0
        for pos in positions:
            p, s, m, _ = self.figures(pos, currency, user["leverage"], now)
            profit, storage, margin = profit + p, storage + s, margin + m
        equity = user["balance"] + user["credit"] + profit + storage
        return {
            "balance": user["balance"],
            "credit": user["credit"],
            "profit": profit,
            "storage": storage,
            "margin": margin,
            "equity": equity,
            "free": equity - margin,
            "level": equity / margin * 100 if margin else 0.0,
        }

    def free_margin(self, db, user: dict, now: int) -> int:
        return self.account(user, self.store.positions(db, [user["login"]]), now)["free"]

    # --- trades ---------------------------------------------------------------------------------

    def open(self, db, user: dict, symbol: str, action: int, volume: int, srv: float) -> tuple:
        """Open a position at the current price: (deal ticket, position id). Raises 10019 when
        its margin is beyond the account's free margin, 10017 when trading is disabled for the
        account (USER_RIGHT_TRADE_DISABLED in its `Rights`), 10044 when its group's symbols are
        close-only (closing is allowed)."""
        refuse_if_trade_disabled(user)
        refuse_if_close_only(user)
        now = int(srv)
        spec = SYMBOLS[symbol]
        currency = GROUPS.get(user["grp"], "USD")
        price = round(self.prices[symbol], spec.digits)
        need = (volume / 10000) * spec.contract * price / user["leverage"]
        need = round(need * self.conv(spec.quote, currency) * 100)
        if need > self.free_margin(db, user, int(self.clock.srv_time())):
            raise ApiError(RET_NO_MONEY)
        position = self.store.alloc(db, "order", FIRST_ORDER)
        ticket = self.store.insert_deal(
            db,
            (user["login"], position, now, int(srv * 1000), action, 0, symbol, volume, price)
            + (0, 0, 0, position, "", None),
        )
        db.execute(
            INSERT_POSITION,
            (position, user["login"], symbol, action, now, now, price, volume),
        )
        db.execute("UPDATE users SET last_access = ? WHERE login = ?", (now, user["login"]))
        return ticket, position

    def close(self, db, user: dict, position: int, srv: float, profit: int | None = None) -> int:
        """Close a position at the current price (or, given `profit`, at the price that makes
        exactly that profit, without swap or commission). Returns the deal ticket. Refused with
        10017 when trading is disabled for the account: the client closes nothing either."""
        refuse_if_trade_disabled(user)
        now = int(srv)
        pos = self.store.position(db, position)
        _, login, symbol, action, _, _, price_open, volume, _, _ = pos
        spec = SYMBOLS[symbol]
        currency = GROUPS.get(user["grp"], "USD")
        if profit is None:
            profit, storage, _, price = self.figures(pos, currency, user["leverage"], now)
            commission = -round(spec.commission * volume / 10000 * self.conv("USD", currency) * 100)
        else:
            storage = commission = 0
            move = profit / 100 / self.conv(spec.quote, currency) / (volume / 10000 * spec.contract)
            price = price_open + (move if action == 0 else -move)
        price = round(max(price, 10**-spec.digits), spec.digits)
        order = self.store.alloc(db, "order", FIRST_ORDER)
        ticket = self.store.insert_deal(
            db,
            (login, order, now, int(srv * 1000), 1 - action, 1, symbol, volume, price, profit)
            + (storage, commission, position, "", None),
        )
        db.execute("DELETE FROM positions WHERE position = ?", (position,))
        self.store.change_balance(db, login, profit + storage + commission, now)
        return ticket
