"""The demo's trading book (`seed_demo`): a trading server pointing at the MT5 sandbox, account
types, a trading account for the demo client and each named trader funded by a wallet transfer,
and a book of thousands of clients whose accounts and history live in the sandbox and reach us
through the real sync.

The history is what the sandbox is asked to give its accounts (its /_sandbox/mt5/ control
endpoints: the past cannot be traded live); everything after that is the product's own path:
the MT5 Web API, the sync, the transfers. Idempotent: a second run adds nothing.
"""

from __future__ import annotations

import json
import logging
import random
import urllib.error
import urllib.request
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from brokerage.models import Desk, StaffProfile, User
from clients.categories import leverages_allowed
from clients.instruments import subclass_guess
from clients.models import (
    AccountType,
    AccountTypeMarkup,
    Client,
    Instrument,
    TradingAccount,
    TradingServer,
)
from clients.platforms import PlatformError, platform_for
from clients.platforms.secrets import password_encrypt
from clients.sync import server_sync
from clients.trading.services import trading_account_open
from clients.trading.sweep import leverage_book_sweep
from finance.models import Transfer
from finance.transfers import transfer_execute, transfer_request

log = logging.getLogger(__name__)

SERVER_NAME = "MT5 Sandbox"
ACCOUNT_TYPES = [
    # name, group, currency, leverages, default, min KYC level, book, markups (points)
    (
        "Standard USD",
        "real\\standard-usd",
        "USD",
        [30, 100, 200, 500],
        100,
        0,
        AccountType.Book.B_BOOK,
        {"EURUSD": 10, "GBPUSD": 12, "USDJPY": 10, "XAUUSD": 25, "BTCUSD": 1500},
    ),
    (
        "Standard EUR",
        "real\\standard-eur",
        "EUR",
        [30, 100, 200],
        100,
        0,
        AccountType.Book.B_BOOK,
        {"EURUSD": 10, "GBPUSD": 12, "XAUUSD": 25},
    ),
    ("Pro USD", "real\\pro-usd", "USD", [100, 200, 500], 200, 1, AccountType.Book.A_BOOK, {}),
    ("Crypto USD", "real\\pro-usd", "USD", [2, 5, 10], 2, 1, AccountType.Book.A_BOOK, {}),
]
# The classes an account type trades that a leverage limit may not allow a client: the crypto
# account is not offered to UK retail clients (FCA PS20/10, docs/leverage-limits.md).
TRADES = {"Crypto USD": ["crypto"]}
# Real-world contract specifications of the instruments the demo's server quotes (the MT5
# sandbox's symbols: EURUSD, GBPUSD, USDJPY, XAUUSD.m, US30.cash, BTCUSD.pro) and of the other
# common ones: symbol, contract size (units per lot), digits, quote currency.
INSTRUMENT_SPECS = [
    ("EURUSD", 100_000, 5, "USD"),
    ("GBPUSD", 100_000, 5, "USD"),
    ("USDJPY", 100_000, 3, "JPY"),
    ("USDCHF", 100_000, 5, "CHF"),
    ("AUDUSD", 100_000, 5, "USD"),
    ("USDCAD", 100_000, 5, "CAD"),
    ("EURGBP", 100_000, 5, "GBP"),
    ("XAUUSD", 100, 2, "USD"),
    ("XAGUSD", 5_000, 3, "USD"),
    ("US30", 1, 2, "USD"),
    ("US500", 1, 2, "USD"),
    ("NAS100", 1, 2, "USD"),
    ("GER40", 1, 2, "EUR"),
    ("BTCUSD", 1, 2, "USD"),
    ("ETHUSD", 1, 2, "USD"),
    ("USOIL", 1_000, 2, "USD"),
    ("UK100", 1, 2, "GBP"),
    ("ES35", 1, 1, "EUR"),
]
# Indices the demo quotes beyond the installed ones: a major one (ESMA's list) and one that is
# not, so the leverage limits' two index classes both have an instrument.
DEMO_INDICES = [("UK100", "FTSE 100", ["FTSE100"]), ("ES35", "IBEX 35", ["SPA35"])]
# Named traders' pasts: (profile, days, trades, quiet_days). Losing and quiet ones land in the
# retention queue with their reasons.
PASTS = {
    "client@demo.test": ("active", 30, 24, 0),
    "trader01@demo.test": ("active", 30, 30, 0),
    "trader02@demo.test": ("winner", 30, 20, 0),
    "trader03@demo.test": ("losing", 30, 14, 16),
    "trader04@demo.test": ("active", 30, 26, 0),
    "trader05@demo.test": ("quiet", 30, 10, 20),
    "trader06@demo.test": ("active", 30, 40, 0),
    "trader07@demo.test": ("losing", 30, 12, 13),
    "trader08@demo.test": ("active", 30, 18, 0),
    "trader09@demo.test": ("losing", 30, 10, 0),
    "trader10@demo.test": ("winner", 30, 22, 0),
    "trader11@demo.test": ("quiet", 30, 8, 25),
    "trader12@demo.test": ("losing", 30, 16, 18),
    "trader13@demo.test": ("active", 30, 28, 0),
    "trader14@demo.test": ("active", 30, 20, 0),
    "trader15@demo.test": ("winner", 30, 24, 0),
}
FIRST = ["Ava", "Noah", "Mia", "Leo", "Zoe", "Omar", "Lina", "Ivan", "Sara", "Tom", "Nina", "Ali",
         "Eva", "Max", "Ines", "Raj", "Yuki", "Hugo", "Aya", "Finn"]  # fmt: skip
LAST = ["Novak", "Khan", "Silva", "Meyer", "Rossi", "Haddad", "Ivanova", "Smith", "Tanaka",
        "Dubois", "Garcia", "Olsen", "Kaya", "Brown", "Costa", "Weber"]  # fmt: skip
COUNTRIES = ["GB", "DE", "FR", "ES", "IT", "AE", "SG", "AU", "NL", "SE", "PL", "ZA", "IE", "CH"]


def sandbox_control(path: str, payload: dict | None = None, method: str = "POST") -> dict:
    """Ask the MT5 sandbox (not a real server: its control endpoints) for demo history."""
    url = settings.SANDBOX_MT5_URL.rstrip("/") + "/_sandbox/mt5/" + path
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(  # noqa: S310 (the local sandbox's http URL)
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=600) as resp:  # noqa: S310 (the local sandbox)
        return json.loads(resp.read() or b"null")


def demo_server() -> TradingServer:
    server, created = TradingServer.objects.get_or_create(
        name=SERVER_NAME,
        defaults={
            "url": settings.SANDBOX_MT5_URL,
            "manager_login": settings.SANDBOX_MT5_LOGIN,
            "manager_password": password_encrypt(settings.SANDBOX_MT5_PASSWORD),
            "timezone": "Europe/Athens",
            "symbol_suffixes": [".m", ".pro", ".cash"],
            "backfill_hours": 24 * 40,  # the demo's histories reach 30 days back
            "max_requests_per_second": 50,
            # MetaQuotes' own pages: a real server's admin sets the brokerage's branded ones.
            "download_url": "https://www.metatrader5.com/en/download",
            "web_terminal_url": "https://web.metatrader.app/terminal",
        },
    )
    demo_instruments()
    for order, (name, group, currency, leverages, default, level, book, markups) in enumerate(
        ACCOUNT_TYPES
    ):
        account_type, _ = AccountType.objects.get_or_create(
            server=server,
            name=name,
            defaults={
                "group": group,
                "currency": currency,
                "leverages": leverages,
                "default_leverage": default,
                "min_kyc_level": level,
                "order": order,
                "instrument_classes": TRADES.get(name, []),
            },
        )
        if not account_type.book:  # its commission terms, set once: an admin's edits stay
            account_type.book = book
            account_type.save(update_fields=["book"])
            instruments = Instrument.objects.in_bulk(list(markups), field_name="symbol")
            for symbol, points in markups.items():
                if symbol in instruments:
                    AccountTypeMarkup.objects.get_or_create(
                        account_type=account_type,
                        instrument=instruments[symbol],
                        defaults={"markup_points": points},
                    )
    return server


def demo_instruments() -> None:
    """Fill in the specifications of the instruments the demo trades, where they are not set
    (a value an admin set, or a second run, is left alone)."""
    for symbol, description, aliases in DEMO_INDICES:
        Instrument.objects.get_or_create(
            symbol=symbol,
            defaults={"description": description, "asset_class": "indices", "aliases": aliases},
        )
    known = Instrument.objects.in_bulk([spec[0] for spec in INSTRUMENT_SPECS], field_name="symbol")
    for symbol, contract_size, digits, quote in INSTRUMENT_SPECS:
        instrument = known.get(symbol)
        if instrument is None:
            continue  # the clients migrations install them; one an admin deleted stays deleted
        values = {"contract_size": contract_size, "digits": digits, "quote_currency": quote}
        # Gold and the major indices, which leverage limits cap apart (XAGUSD: other metal).
        if subclass := subclass_guess(instrument.asset_class, symbol):
            values["subclass"] = subclass
        fill = [f for f in values if getattr(instrument, f) in (None, "")]
        for field in fill:
            setattr(instrument, field, values[field])
        if fill:
            instrument.save(update_fields=fill)


def sandbox_reachable(server: TradingServer) -> bool:
    platform = platform_for(server, timeout=5)
    try:
        platform.call("/api/test/access")
        return True
    except PlatformError as exc:
        log.warning("MT5 sandbox unreachable (%s)", exc.message)
        return False
    finally:
        platform.close()


def install_demo_trading(*, actor, book_clients: int | None = None, out=None) -> dict:
    """The trading side of the demo. Needs the sandbox running (make up starts it first)."""
    say = out or (lambda msg: None)
    server = demo_server()
    if not sandbox_reachable(server):
        say(f"The MT5 sandbox at {server.url} is not answering: no trading data installed.")
        return {"skipped": True}
    named = _named_traders(server, actor)
    if named:
        say(f"Opened and funded {named} trading accounts for the demo traders.")
    book = book_clients if book_clients is not None else settings.DEMO_BOOK_CLIENTS
    made = _book(server, book, say)
    # The book opened at 1:100 whatever its clients' limits: the leverage sweep lowers those
    # above their cap (the worker reconciles them on the platform), as its nightly run would.
    swept = leverage_book_sweep(reason="demo book seeded")
    if swept:
        say(f"{len(swept)} book accounts above their clients' leverage cap, to be lowered.")
    result = server_sync(server_id=server.pk)
    deals = result.get("deals", {})
    say(
        f"Synced {deals.get('ingested', 0)} deals from the sandbox ({deals.get('calls', 0)} calls)."
    )
    return {"named": named, "book": made, "sync": result}


# Who looks after the named traders (when no lead gave them an owner): the London desk's
# retention agent has the demo client and the quiet, losing traders in their queue.
OWNERS = {
    "client@demo.test": ("London", "retention_agent@demo.test"),
    **{f"trader{n:02d}@demo.test": ("London", "retention_agent@demo.test") for n in range(1, 9)},
    **{f"trader{n:02d}@demo.test": ("Dubai", "dubai.agent1@demo.test") for n in range(9, 13)},
    **{f"trader{n:02d}@demo.test": ("Global", "global.agent1@demo.test") for n in range(13, 16)},
}


def _owners(actor) -> None:
    from clients.services import client_assign

    desks = {d.name: d for d in Desk.objects.all()}
    staff = {u.email: u for u in User.objects.filter(email__in={e for _, e in OWNERS.values()})}
    for client in Client.objects.filter(user__email__in=list(OWNERS), desk__isnull=True):
        desk, email = OWNERS[client.user.email]
        if desk in desks:
            client_assign(
                client=client,
                desk=desks[desk],
                account_manager=staff.get(email),
                actor=actor,
                reason="demo: the desk that looks after this client",
            )


def _named_traders(server: TradingServer, actor) -> int:
    _owners(actor)
    opened = 0
    types = {t.currency: t for t in server.account_types.filter(min_kyc_level=0)}
    clients = Client.objects.select_related("user").filter(user__email__in=list(PASTS))
    clients = clients.order_by("pk")
    for client in clients:
        if client.trading_accounts.exists():
            continue
        wallets = [w for w in _wallets(client) if w.available_amount > 0]
        wallet = max(wallets, key=lambda w: w.available_amount, default=None)
        currency = wallet.currency if wallet and wallet.currency in types else "USD"
        # 1:100, or the highest the client's leverage limit allows below it (1:30 for the UK's
        # and the EEA's retail clients).
        allowed = leverages_allowed(client, types[currency].leverages)
        leverage = max((x for x in allowed if x <= 100), default=min(allowed))
        account, _ = trading_account_open(
            client=client, account_type=types[currency], leverage=leverage, actor=actor
        )
        profile, days, trades, quiet = PASTS[client.user.email]
        # The past first (it carries its own opening deposit), then today's wallet transfer.
        sandbox_control(
            "history",
            {
                "login": account.login,
                "days": days,
                "profile": profile,
                "trades": trades,
                "quiet_days": quiet,
                "deposit": "2000.00",
            },
        )
        if wallet is not None and wallet.available_amount >= Decimal("20"):
            amount = (wallet.available_amount / 2).quantize(Decimal("0.01"))
            t = transfer_request(
                client=client,
                trading_account=account,
                direction=Transfer.Direction.TO_TRADING,
                amount=amount,
                actor=actor,
            )
            transfer_execute(transfer_id=t.pk)
        if profile in ("active", "winner") and not quiet:
            sandbox_control("profile", {"login": account.login, "profile": profile})
        opened += 1
    return opened


def _wallets(client):
    from finance.models import LedgerAccount

    return list(LedgerAccount.objects.filter(kind=LedgerAccount.Kind.CLIENT_WALLET, client=client))


# Cohorts of the book: (share, days quiet, loss bias). Quiet and losing clients are what the
# retention queue is for.
BOOK_SEED = 20_261_205
COHORTS = [(0.55, 0, 0.02), (0.15, 0, 0.25), (0.15, 16, 0.02), (0.15, 20, 0.35)]


def _book(server: TradingServer, size: int, say, deals_per_account: int = 40) -> int:
    """`size` clients, each with an MT5 account and a month of history made in the sandbox, spread
    over the desks and their agents. Only what is missing is made."""
    have = Client.objects.filter(user__email__endswith="@book.demo.test").count()
    missing = size - have
    if missing <= 0:
        return 0
    rnd = random.Random(have)  # noqa: S311 (demo data)
    desks = list(Desk.objects.order_by("pk"))
    agents: dict[int, list[int]] = {}
    for desk_id, user_id in StaffProfile.objects.filter(desk__isnull=False).values_list(
        "desk_id", "user_id"
    ):
        agents.setdefault(desk_id, []).append(user_id)
    made = 0
    for n, (share, quiet, bias) in enumerate(COHORTS):
        count = missing - made if n == len(COHORTS) - 1 else round(missing * share)
        if count <= 0:
            continue
        answer = sandbox_control(
            "bulk",
            {
                "accounts": count,
                "deals_per_account": deals_per_account,
                "days": 30,
                "balance": "5000.00",
                "quiet_days": quiet,
                "loss_bias": bias,
                # the same history on every seeding: the demo's IB network earns on it, and
                # its fraud checks find exactly what the demo plants (demo.ib), no chance pair
                "seed": BOOK_SEED + have + made,
            },
        )
        first, last = answer["logins"]
        logins = list(range(first, last + 1))
        with transaction.atomic():
            start = have + made
            users = User.objects.bulk_create(
                [
                    User(
                        email=f"client{start + i:06d}@book.demo.test",
                        first_name=rnd.choice(FIRST),
                        last_name=rnd.choice(LAST),
                        password="!",  # no password: book clients are data, not logins
                    )
                    for i in range(len(logins))
                ]
            )
            now = timezone.now()
            clients = []
            for user in users:
                desk = rnd.choice(desks) if desks else None
                team = agents.get(desk.pk, []) if desk else []
                clients.append(
                    Client(
                        user=user,
                        status=Client.Status.ACTIVE,
                        country=rnd.choice(COUNTRIES),
                        kyc_level=1,
                        kyc_verified_at=now,
                        first_deposit_at=now - timezone.timedelta(days=31),
                        desk=desk,
                        account_manager_id=rnd.choice(team) if team else None,
                    )
                )
            clients = Client.objects.bulk_create(clients)
            TradingAccount.objects.bulk_create(
                [
                    TradingAccount(
                        client=c,
                        server=server,
                        login=login,
                        group="real\\standard-usd",
                        currency="USD",
                        leverage=100,
                        backfill_pending=True,
                    )
                    for c, login in zip(clients, logins, strict=True)
                ]
            )
            # Opened a month ago, like their history (auto_now_add wrote today).
            TradingAccount.objects.filter(login__in=logins, server=server).update(
                opened_at=now - timezone.timedelta(days=31)
            )
        made += count
        say(f"Book: {count} clients (quiet {quiet} days, loss bias {bias}).")
    return made
