"""Everything one MT5 sandbox server knows, in one object its handlers are given: the store
(sqlite), the market and its simulation, the manager's sessions and the armed faults, all under
the store's lock."""

import os
import random

from .auth import Sessions
from .control import Faults
from .market import Market
from .protocol import ServerClock
from .simulation import Simulation
from .store import Store


class MT5State:
    def __init__(
        self,
        login: str,
        password: str,
        *,
        state_path: str | os.PathLike | None = None,
        timezone: str = "Europe/Athens",
        session_idle: float = 600,
        max_rps: int = 0,
        tick_seconds: float = 2.0,
        seed: int | None = None,
    ):
        self.clock = ServerClock(timezone)
        self.rng = random.Random(seed)
        self.store = Store(state_path)
        self.lock = self.store.lock
        self.sessions = Sessions(
            login, password, self.lock, session_idle=session_idle, max_rps=max_rps
        )
        self.faults = Faults(self.lock)
        self.market = Market(self.store, self.clock, self.rng)
        self.simulation = Simulation(self.store, self.market, self.clock, self.rng, tick_seconds)

    def srv_time(self, utc: float | None = None) -> float:
        """Server-local epoch: the wall clock in the server's zone written as if it were UTC."""
        return self.clock.srv_time(utc)

    @property
    def closed(self) -> bool:
        return self.simulation.closed.is_set()

    def close(self) -> None:
        self.simulation.stop()
        self.store.close()
