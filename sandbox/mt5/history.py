"""Control endpoints that write a trading past at once: `history` gives one account a plausible
record of trades after its behaviour profile; `bulk` opens many accounts with a deposit and a
trade history each, fast enough for the benchmarks' millions of deals. Contract in control.py."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from .control import bad, cents, control_user, number
from .market import LOT_CHOICES, SYMBOLS
from .protocol import GROUPS, money
from .simulation import PROFILES, default_profile
from .store import FIRST_ORDER, INSERT_DEAL_NO_RAW, INSERT_POSITION

if TYPE_CHECKING:
    from .state import MT5State


def history(state: MT5State, body: dict) -> dict:
    days = number(body, "days", 30, low=1, high=3650)
    deposit = cents(body.get("deposit", "10000.00"))
    rng, market = state.rng, state.market
    with state.store.tx() as db:
        user = control_user(state, db, body)
        login = user["login"]
        profile = body.get("profile") or user["profile"] or default_profile(login)
        if profile not in PROFILES:
            raise bad(f"profile: one of {', '.join(PROFILES)}")
        quiet_days = number(
            body, "quiet_days", max(1, days // 3) if profile == "quiet" else 0, low=0
        )
        if quiet_days >= days:
            raise bad("quiet_days: fewer than days")
        default_trades = {"active": 2 * days, "losing": 2 * days, "winner": days}
        trades = number(
            body, "trades", default_trades.get(profile, max(3, days // 2)), low=0, high=5000
        )
        now = state.srv_time()
        start = int(now) - days * 86400
        end = int(now) - quiet_days * 86400 - 60
        currency = GROUPS.get(user["grp"], "USD")
        usd = market.conv("USD", currency)
        balance = db.execute(
            "SELECT COALESCE(SUM(profit + storage + commission), 0) FROM deals "
            "WHERE login = ? AND time < ? AND raw IS NULL",
            (login, start),
        ).fetchone()[0]
        rows = []
        order = state.store.alloc(db, "order", FIRST_ORDER, 2 * trades)
        credited = 0
        if balance < 10000 and deposit > 0:
            t = start + 1
            rows.append((login, 0, t, t * 1000, 2, 0, "", 0, 0.0, deposit, 0, 0, 0, "Deposit"))
            balance += deposit
            credited = deposit
        slot = (end - start - 120) / max(trades, 1)
        win_rate = {"active": 0.5, "losing": 0.3, "winner": 0.7, "quiet": 0.5}[profile]
        made = 0
        for i in range(trades):
            spec = SYMBOLS[rng.choice(list(SYMBOLS))]
            price_open = round(market.prices[spec.name] * (1 + rng.gauss(0, 0.01)), spec.digits)
            conv = market.conv(spec.quote, currency)
            per_lot = spec.contract * price_open / user["leverage"] * conv * 100
            room = int(balance * 0.2 / per_lot * 100) * 100  # volume whose margin fits 20%
            volume = min(rng.choice(LOT_CHOICES), room)
            if volume < 100:
                continue
            t_open = int(start + 120 + i * slot + rng.uniform(0, slot * 0.4))
            t_close = int(t_open + 60 + rng.uniform(0, slot * 0.5))
            lots = volume / 10000
            nights = max(0, t_close // 86400 - t_open // 86400)
            storage = -round(spec.swap * lots * nights * usd * 100)
            commission = -round(spec.commission * lots * usd * 100)
            loss = profile == "losing" and i >= trades - 3 or rng.random() >= win_rate
            size = max(1, round(balance * rng.uniform(0.002, 0.02)))
            profit = -size if loss else size
            if balance + profit + storage + commission < 0:
                profit = -max(1, balance + storage + commission) if loss else size
                if balance + profit + storage + commission < 0:
                    storage = commission = 0
                    profit = -max(1, balance // 2)
            move = profit / 100 / conv / (lots * spec.contract)
            action = rng.randint(0, 1)
            price_close = price_open + (move if action == 0 else -move)
            price_close = round(max(price_close, 10**-spec.digits), spec.digits)
            position = order + 2 * i
            rows.append(
                (login, position, t_open, t_open * 1000 + rng.randint(0, 999), action, 0)
                + (spec.name, volume, price_open, 0, 0, 0, position, "")
            )
            rows.append(
                (login, position + 1, t_close, t_close * 1000 + rng.randint(0, 999))
                + (1 - action, 1, spec.name, volume, price_close, profit, storage)
                + (commission, position, "")
            )
            balance += profit + storage + commission
            made += 1
        first = state.store.next_deal(db)
        db.executemany(
            INSERT_DEAL_NO_RAW,
            [(first + k, *row) for k, row in enumerate(rows)],
        )
        change = sum(r[9] + r[10] + r[11] for r in rows)
        db.execute(
            "UPDATE users SET balance = balance + ?, profile = ? WHERE login = ?",
            (change, profile, login),
        )
        final = db.execute("SELECT balance FROM users WHERE login = ?", (login,)).fetchone()
    return {
        "login": login,
        "profile": profile,
        "trades": made,
        "deals": len(rows),
        "deposit": money(credited),
        "balance": money(final[0]),
    }


def bulk(state: MT5State, body: dict) -> dict:
    accounts = number(body, "accounts", 100, low=1, high=1_000_000)
    per_account = number(body, "deals_per_account", 50, low=1, high=10_000)
    days = number(body, "days", 30, low=1, high=3650)
    leverage = number(body, "leverage", 100, low=1, high=1000)
    group = body.get("group", "real\\standard-usd")
    if group not in GROUPS:
        raise bad(f"group: one of {', '.join(GROUPS)}")
    deposit = cents(body.get("balance", "5000.00"))
    if deposit <= 0:
        raise bad("balance: positive")
    currency = GROUPS[group]
    rng = state.rng
    if body.get("seed") is not None:  # the same history on every call (times relative to now)
        rng = random.Random(number(body, "seed", 0, low=0, high=2**63))  # noqa: S311
    rnd, randint, market = rng.random, rng.randint, state.market
    specs = list(SYMBOLS.values())
    usd = market.conv("USD", currency)
    factors = [
        (
            s.name,
            s.digits,
            s.contract,
            market.prices[s.name],
            market.conv(s.quote, currency),
            s.swap * usd * 100,
            s.commission * usd * 100,
        )
        for s in specs
    ]
    pairs, open_one = divmod(per_account - 1, 2)
    quiet_days = number(body, "quiet_days", 0, low=0, high=days - 1)
    bias = float(body.get("loss_bias", 0.02))
    if not -0.5 <= bias <= 0.5:
        raise bad("loss_bias: between -0.5 and 0.5")
    now = int(state.srv_time())
    start = now - days * 86400
    span = (days - quiet_days) * 86400
    slot = max(120, (span - 7200) // (pairs + 1))
    deal_sql = INSERT_DEAL_NO_RAW
    total = 0
    with state.store.tx() as db:
        first_login = state.store.next_login(db)
        deal = state.store.next_deal(db)
        order = state.store.alloc(db, "order", FIRST_ORDER, accounts * (2 * pairs + open_one))
        users, deals, positions = [], [], []
        for n in range(accounts):
            login = first_login + n
            balance = deposit
            t0 = start + randint(0, 3600)
            deals.append(
                (deal, login, 0, t0, t0 * 1000, 2, 0, "", 0, 0.0, deposit, 0, 0, 0, "Deposit")
            )
            deal += 1
            for k in range(pairs):
                name, digits, contract, price, conv, swap, fee = factors[int(rnd() * 6)]
                volume = (1 + int(rnd() * 10)) * 100
                lots = volume / 10000
                t_open = t0 + 60 + k * slot + int(rnd() * slot * 0.4)
                t_close = t_open + 60 + int(rnd() * slot * 0.4)
                price_open = round(price * (1 + (rnd() - 0.5) * 0.01), digits)
                profit = int((rnd() - 0.5 - bias) * deposit * 0.01)
                storage = -int(swap * lots * (t_close // 86400 - t_open // 86400))
                commission = -int(fee * lots)
                action = 0 if rnd() < 0.5 else 1
                move = profit / 100 / conv / (lots * contract)
                price_close = round(price_open + (move if action == 0 else -move), digits)
                deals.append(
                    (deal, login, order, t_open, t_open * 1000, action, 0, name, volume)
                    + (price_open, 0, 0, 0, order, "")
                )
                deals.append(
                    (deal + 1, login, order + 1, t_close, t_close * 1000 + 250, 1 - action)
                    + (1, name, volume, price_close, profit, storage, commission, order, "")
                )
                deal += 2
                order += 2
                balance += profit + storage + commission
            if open_one and not quiet_days:
                name, digits, contract, price, conv, swap, fee = factors[int(rnd() * 6)]
                t_open = now - randint(60, 3600)
                deals.append(
                    (deal, login, order, t_open, t_open * 1000, 0, 0, name, 100, price)
                    + (0, 0, 0, order, "")
                )
                positions.append((order, login, name, 0, t_open, t_open, price, 100))
                deal += 1
                order += 1
            users.append(
                (login, group, f"Bulk {login}", f"bulk{login}@sandbox.example", "GB")
                + (leverage, balance, t0, now)
            )
            if len(deals) >= 50_000:
                db.executemany(deal_sql, deals)
                total += len(deals)
                deals.clear()
        db.executemany(deal_sql, deals)
        total += len(deals)
        db.executemany(
            "INSERT INTO users (login, grp, name, email, country, leverage, balance, "
            "registration, last_access) VALUES (?,?,?,?,?,?,?,?,?)",
            users,
        )
        db.executemany(INSERT_POSITION, positions)
    return {"logins": [first_login, first_login + accounts - 1], "deals": total}
