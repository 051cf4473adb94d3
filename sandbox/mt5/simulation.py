"""Simulated trading: on each tick prices move and a few funded accounts open or close a
position, each after its behaviour profile (active, losing, winner, quiet); an account whose
`Rights` carry USER_RIGHT_TRADE_DISABLED does neither. Ticks run on a
thread every `tick_seconds` while running, or on demand (the control endpoint `tick`)."""

import logging
import random
import threading
import zlib

from .market import LOT_CHOICES, SYMBOLS, Market, trade_disabled
from .protocol import GROUPS, ApiError, ServerClock
from .store import Store

log = logging.getLogger("sandbox.mt5")

PROFILES = ("active", "losing", "winner", "quiet")


def default_profile(login: int) -> str:
    """The behaviour profile an account has unless one is set: stable per login."""
    bucket = zlib.crc32(str(login).encode()) % 20
    return (
        "active"
        if bucket < 8
        else "losing"
        if bucket < 13
        else "winner"
        if bucket < 16
        else "quiet"
    )


class Simulation:
    def __init__(
        self,
        store: Store,
        market: Market,
        clock: ServerClock,
        rng: random.Random,
        tick_seconds: float,
    ):
        self.store, self.market, self.clock, self.rng = store, market, clock, rng
        self.tick_seconds = float(tick_seconds)
        self.running = False
        self.refused = 0  # opens refused as 10019 Not enough money
        self._thread: threading.Thread | None = None
        self.closed = threading.Event()

    def tick(self) -> list[int]:
        """One simulation step: prices move; a few funded, non-quiet accounts open or close a
        position. Returns the deal tickets written."""
        rng, store, market = self.rng, self.store, self.market
        tickets: list[int] = []
        with store.tx() as db:
            market.move_prices()
            market.save_prices(db)
            low, high = db.execute("SELECT MIN(login), MAX(login) FROM users").fetchone()
            if low is None:
                return tickets
            seen = set()
            for _ in range(4):
                row = db.execute(
                    "SELECT login FROM users WHERE login >= ? AND balance > 0 "
                    "ORDER BY login LIMIT 1",
                    (rng.randint(low, high),),
                ).fetchone()
                if row is None or row[0] in seen:
                    continue
                seen.add(row[0])
                user = store.user(db, row[0])
                profile = user["profile"] or default_profile(user["login"])
                if profile == "quiet" or trade_disabled(user) or rng.random() < 0.3:
                    continue  # an account whose trading is disabled neither opens nor closes
                srv = self.clock.srv_time()
                positions = store.positions(db, [user["login"]])
                if positions and (len(positions) >= 3 or rng.random() < 0.45):
                    position = self._pick_close(user, positions, profile, int(srv))
                    if position is not None:
                        tickets.append(market.close(db, user, position, srv))
                    continue
                symbol = rng.choice(list(SYMBOLS))
                try:
                    ticket, _ = market.open(
                        db, user, symbol, rng.randint(0, 1), rng.choice(LOT_CHOICES), srv
                    )
                except ApiError:
                    self.refused += 1  # refused as 10019 Not enough money; skipped
                    continue
                tickets.append(ticket)
        return tickets

    def _pick_close(self, user: dict, positions: list, profile: str, now: int) -> int | None:
        currency = GROUPS.get(user["grp"], "USD")
        scored = sorted(
            (self.market.figures(p, currency, user["leverage"], now)[0], p[0]) for p in positions
        )
        if profile == "losing":  # cuts nothing, realises losses, holds winners
            losers = [s for s in scored if s[0] < 0]
            return losers[0][1] if losers else (scored[0][1] if len(scored) >= 3 else None)
        if profile == "winner":  # takes profit, lets losers run until full
            winners = [s for s in scored if s[0] > 0]
            return winners[-1][1] if winners else (scored[-1][1] if len(scored) >= 3 else None)
        return self.rng.choice(scored)[1]

    def start(self, tick_seconds: float | None = None) -> None:
        with self.store.lock:
            if tick_seconds:
                self.tick_seconds = float(tick_seconds)
            self.running = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="mt5-simulation", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """For good: the thread ends (the server is closing)."""
        self.closed.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self.closed.wait(self.tick_seconds):
            if not self.running:
                continue
            try:
                self.tick()
            except Exception:
                if self.closed.is_set():
                    return
                log.exception("MT5 sandbox simulation tick failed")
