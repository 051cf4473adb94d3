"""The server's state in sqlite: accounts, deals, positions, prices and id sequences. One
connection, guarded by one lock that the rest of the server shares; a file survives a restart,
no file means memory."""

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

FIRST_LOGIN = 500001
FIRST_DEAL = 1001
FIRST_ORDER = 300001

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    login INTEGER PRIMARY KEY, grp TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL,
    country TEXT NOT NULL, leverage INTEGER NOT NULL, balance INTEGER NOT NULL DEFAULT 0,
    credit INTEGER NOT NULL DEFAULT 0, registration INTEGER NOT NULL,
    last_access INTEGER NOT NULL, pw_hash TEXT NOT NULL DEFAULT '', profile TEXT,
    comment TEXT NOT NULL DEFAULT '', pw_investor TEXT NOT NULL DEFAULT '',
    rights INTEGER NOT NULL DEFAULT 355
);
CREATE INDEX IF NOT EXISTS users_grp ON users(grp);
CREATE TABLE IF NOT EXISTS deals (
    deal INTEGER PRIMARY KEY, login INTEGER NOT NULL, ord INTEGER NOT NULL, time INTEGER NOT NULL,
    time_msc INTEGER NOT NULL, action INTEGER NOT NULL, entry INTEGER NOT NULL,
    symbol TEXT NOT NULL, volume INTEGER NOT NULL, price REAL NOT NULL, profit INTEGER NOT NULL,
    storage INTEGER NOT NULL, commission INTEGER NOT NULL, position_id INTEGER NOT NULL,
    comment TEXT NOT NULL, raw TEXT
);
CREATE INDEX IF NOT EXISTS deals_time ON deals(time);
CREATE INDEX IF NOT EXISTS deals_login_time ON deals(login, time);
CREATE TABLE IF NOT EXISTS positions (
    position INTEGER PRIMARY KEY, login INTEGER NOT NULL, symbol TEXT NOT NULL,
    action INTEGER NOT NULL, time_create INTEGER NOT NULL, time_update INTEGER NOT NULL,
    price_open REAL NOT NULL, volume INTEGER NOT NULL, sl REAL NOT NULL DEFAULT 0,
    tp REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS positions_login ON positions(login);
CREATE TABLE IF NOT EXISTS seq (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS prices (symbol TEXT PRIMARY KEY, price REAL NOT NULL);
"""
# deals(deal) is the table's INTEGER PRIMARY KEY (its rowid b-tree): the ticket index.
DEAL_COLS = (
    "deal, login, ord, time, time_msc, action, entry, symbol, volume, price, profit, storage, "
    "commission, position_id, comment, raw"
)
POSITION_COLS = (
    "position, login, symbol, action, time_create, time_update, price_open, volume, sl, tp"
)
USER_COLS = (
    "login, grp, name, email, country, leverage, balance, credit, registration, last_access, "
    "profile, comment, rights"
)
# The columns above are fixed names; only values are bound.
SELECT_USER = f"SELECT {USER_COLS} FROM users WHERE login = ?"  # noqa: S608
SELECT_USERS_IN = (
    f"SELECT {USER_COLS} FROM users WHERE login IN (SELECT value FROM json_each(?)) ORDER BY login"  # noqa: S608
)
SELECT_POSITION = f"SELECT {POSITION_COLS} FROM positions WHERE position = ?"  # noqa: S608
SELECT_POSITIONS_IN = (
    f"SELECT {POSITION_COLS} FROM positions WHERE login IN (SELECT value FROM json_each(?)) "  # noqa: S608
    "ORDER BY position"
)
SELECT_DEALS_WHERE = f"SELECT {DEAL_COLS} FROM deals WHERE "  # noqa: S608
INSERT_DEAL = f"INSERT INTO deals ({DEAL_COLS}) VALUES ({','.join('?' * 16)})"  # noqa: S608
INSERT_DEAL_NO_RAW = f"INSERT INTO deals ({DEAL_COLS}) VALUES ({','.join('?' * 15)},NULL)"  # noqa: S608
INSERT_POSITION = f"INSERT INTO positions ({POSITION_COLS}) VALUES (?,?,?,?,?,?,?,?,0,0)"  # noqa: S608
TABLES = ("users", "deals", "positions", "seq", "prices")
USER_UPDATABLE = {"grp", "name", "email", "country", "leverage", "comment", "rights"}
PASSWORD_COLUMNS = {"main": "pw_hash", "investor": "pw_investor"}


class Store:
    """Everything the server keeps. `tx()` for a write (BEGIN IMMEDIATE .. COMMIT), `read()`
    for reads; both hold `lock`. The other methods take the connection those give."""

    def __init__(self, state_path: str | os.PathLike | None = None):
        self.lock = threading.RLock()
        if state_path:
            Path(state_path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            str(state_path) if state_path else ":memory:",
            check_same_thread=False,
            isolation_level=None,
        )
        if state_path:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        # A state file from before a column was added gets it (sqlite has no ADD IF NOT EXISTS).
        have = {row[1] for row in self.db.execute("PRAGMA table_info(users)")}
        for column in ("comment", "pw_investor"):
            if column not in have:
                self.db.execute(f"ALTER TABLE users ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
        if "rights" not in have:  # USER_RIGHT_DEFAULT (protocol.py)
            self.db.execute("ALTER TABLE users ADD COLUMN rights INTEGER NOT NULL DEFAULT 355")

    @contextmanager
    def tx(self):
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    @contextmanager
    def read(self):
        with self.lock:
            yield self.db

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # --- ids ----------------------------------------------------------------------------------

    @staticmethod
    def alloc(db, name: str, first: int, count: int = 1) -> int:
        row = db.execute("SELECT value FROM seq WHERE name = ?", (name,)).fetchone()
        value = row[0] if row else first
        db.execute("INSERT OR REPLACE INTO seq (name, value) VALUES (?, ?)", (name, value + count))
        return value

    @staticmethod
    def next_deal(db) -> int:
        top = db.execute("SELECT MAX(deal) FROM deals").fetchone()[0]
        return FIRST_DEAL if top is None else top + 1

    @staticmethod
    def next_login(db) -> int:
        top = db.execute("SELECT MAX(login) FROM users").fetchone()[0]
        return FIRST_LOGIN if top is None else top + 1

    # --- accounts -------------------------------------------------------------------------------

    @staticmethod
    def user(db, login) -> dict | None:
        row = db.execute(SELECT_USER, (login,)).fetchone()
        return dict(zip(USER_COLS.split(", "), row, strict=True)) if row else None

    @staticmethod
    def users(db, logins: list[int]) -> list[dict]:
        return [
            dict(zip(USER_COLS.split(", "), row, strict=True))
            for row in db.execute(SELECT_USERS_IN, (json.dumps(logins),))
        ]

    @staticmethod
    def add_user(db, login: int, fields: tuple) -> None:
        """`fields`: group, name, email, country, leverage, registration, last access, main and
        investor password hashes (hex), comment, rights."""
        db.execute(
            "INSERT INTO users (login, grp, name, email, country, leverage, registration, "
            "last_access, pw_hash, pw_investor, comment, rights) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (login, *fields),
        )

    @staticmethod
    def existing_logins(db, logins: list[int]) -> list[int]:
        return [
            r[0]
            for r in db.execute(
                "SELECT login FROM users WHERE login IN (SELECT value FROM json_each(?))",
                (json.dumps(logins),),
            )
        ]

    @staticmethod
    def logins_in_groups(db, groups: list[str]) -> list[int]:
        return [
            r[0]
            for r in db.execute(
                "SELECT login FROM users WHERE grp IN (SELECT value FROM json_each(?))",
                (json.dumps(groups),),
            )
        ]

    @staticmethod
    def group_and_leverage(db, logins: list[int]) -> list[tuple]:
        return db.execute(
            "SELECT login, grp, leverage FROM users WHERE login IN "
            "(SELECT value FROM json_each(?))",
            (json.dumps(logins),),
        ).fetchall()

    @staticmethod
    def set_password(db, login: int, kind: str, hashed: str) -> bool:
        """Set the `kind` ("main", "investor") password hash; False for an unknown login."""
        column = PASSWORD_COLUMNS[kind]
        return bool(
            db.execute(
                f"UPDATE users SET {column} = ? WHERE login = ?",  # noqa: S608 (fixed names)
                (hashed, login),
            ).rowcount
        )

    @staticmethod
    def password(db, login: int, kind: str) -> str | None:
        """The `kind` password hash (hex); None for an unknown login."""
        column = PASSWORD_COLUMNS[kind]
        row = db.execute(
            f"SELECT {column} FROM users WHERE login = ?",  # noqa: S608 (fixed names)
            (login,),
        ).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def update_user(db, login: int, changes: dict) -> None:
        """Set the user's columns in `changes` (names from USER_UPDATABLE only)."""
        if not changes:
            return
        unknown = set(changes) - USER_UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        assignments = ", ".join(f"{column} = ?" for column in changes)
        db.execute(
            f"UPDATE users SET {assignments} WHERE login = ?",  # noqa: S608 (fixed names)
            (*changes.values(), login),
        )

    @staticmethod
    def change_balance(db, login: int, cents: int, now: int) -> None:
        db.execute(
            "UPDATE users SET balance = balance + ?, last_access = ? WHERE login = ?",
            (cents, now, login),
        )

    # --- deals and positions ------------------------------------------------------------------

    def insert_deal(self, db, row: tuple) -> int:
        """Write a deal (`row`: its columns after the ticket); its ticket."""
        ticket = self.next_deal(db)
        db.execute(
            INSERT_DEAL,
            (ticket, *row),
        )
        return ticket

    @staticmethod
    def deals(db, *, start=None, end=None, tickets=None, logins=None) -> list[tuple]:
        """Deal rows (DEAL_COLS) by ticket; each given filter narrows them."""
        where, params = [], []
        if start is not None:
            where.append("time >= ?")
            params.append(start)
        if end is not None:
            where.append("time <= ?")
            params.append(end)
        if tickets is not None:
            where.append("deal IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(tickets))
        if logins is not None:
            where.append("login IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(logins))
        return db.execute(
            SELECT_DEALS_WHERE + " AND ".join(where) + " ORDER BY deal",
            params,
        ).fetchall()

    @staticmethod
    def positions(db, logins: list[int]) -> list[tuple]:
        return db.execute(
            SELECT_POSITIONS_IN,
            (json.dumps(logins),),
        ).fetchall()

    @staticmethod
    def position(db, position: int) -> tuple | None:
        return db.execute(SELECT_POSITION, (position,)).fetchone()

    # --- prices, and the whole --------------------------------------------------------------

    @staticmethod
    def saved_prices(db) -> dict:
        return dict(db.execute("SELECT symbol, price FROM prices"))

    @staticmethod
    def save_prices(db, prices: dict) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO prices (symbol, price) VALUES (?, ?)", prices.items()
        )

    @staticmethod
    def wipe(db) -> None:
        for table in TABLES:
            db.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed names)

    @staticmethod
    def counts(db) -> dict:
        return {
            table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("users", "deals", "positions")
        }
