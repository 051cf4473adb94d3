"""Clients of the demo book built to fire one AML typology each, at the typology's default
parameters (the live version 1 the compliance migrations ship), recorded in
`demo.models.PlantedCase` and read through `demo.planted.planted_cases()`.

Each planted client is otherwise ordinary: a lead, an approved KYC, a financial profile that
covers what they deposit (but for `beyond_declared`), their own instruments in their own name
(but for `third_party_funding`), issued where they live (but for `high_risk_country`). What
each typology gets, relative to the seeding time (what judges single payments is planted
within the last day, as the nightly run reads a night's rows):

- `quick_in_out`: registered 40 days ago, deposits USD 6,000 by card 9 days ago and withdraws USD
  5,500 to it 4 days ago, with the book's few hundredths of a lot traded in between;
- `structuring`: three card deposits of USD 9,400, 9,650 and 9,800 over six days;
- `velocity`: USD 500 every two weeks for half a year, then USD 7,200 in the last week;
- `third_party_funding`: a USD 1,500 card deposit this morning whose cardholder is someone
  else, or (every other pair) one bitcoin address funding two clients;
- `beyond_declared`: four USD 4,000 deposits in the year against a declared income under 25,000
  and USD 3,000 of expected deposits;
- `high_risk_country`: a USD 2,500 deposit this morning by a card issued in Myanmar
  (`CountryRisk` high);
- `psp_switching`: card payments declined at Stripe and then Checkout.com, then paid in crypto,
  within an hour this morning;
- `dormant_reactivation`: a client of over a year (no trading account) quiet for ten months,
  then USD 15,000 three days ago;
- `mirror_trading`: pairs of clients signing in from one device and address, who opened four
  opposite positions in one symbol seconds apart five days ago;
- `chargeback_ratio`: four USD 600 card deposits, two of them charged back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from brokerage.models import User
from clients.models import Client, Deal, TradingAccount
from clients.models_access import AccessRecord
from compliance.models import CountryRisk

from .book_money import Money, instrument_row
from .book_people import onboard, profile_row
from .book_rows import Person, Rows, token
from .models import PlantedCase
from .planted import TYPOLOGIES

D = Decimal
PLANTED_EMAILS = "@planted.demo.test"
HIGH_RISK = ("MM", "FATF: high-risk jurisdiction subject to a call for action")
OTHER_PAYERS = ["MARIA GONZALEZ", "CHEN WEI", "JOHN O'CONNOR", "FATIMA YUSUF", "PETER KOVACS"]
MIRROR_TICKETS = 9_500_000_000


def plant(rows: Rows, rnd, people: list[Person], methods, now: datetime, per_typology, extras):
    """Plant `per_typology` clients per typology (an even number for the paired ones). Returns
    (PlantedCase objects to save, (client, registered, verified, ftd) dates, the people left
    for the ordinary year)."""
    CountryRisk.objects.get_or_create(
        country=HIGH_RISK[0], defaults={"level": "high", "note": HIGH_RISK[1]}
    )
    paired = per_typology + per_typology % 2
    with_accounts = [p for p in people if p.account_id is not None]
    step = max(1, len(with_accounts) // (9 * paired + 1))
    chosen = with_accounts[::step]
    needed = {code: paired if code in ("third_party_funding", "mirror_trading") else per_typology
              for code in TYPOLOGIES if code != "dormant_reactivation"}  # fmt: skip
    if len(chosen) < sum(needed.values()):
        return [], [], people
    taken: set[int] = set()
    by_code: dict[str, list[Person]] = {}
    pool = iter(chosen)
    for code, count in needed.items():
        by_code[code] = [next(pool) for _ in range(count)]
        taken.update(p.client_id for p in by_code[code])
    by_code["dormant_reactivation"] = fresh_people(per_typology)
    servers = dict(
        TradingAccount.objects.filter(pk__in=[p.account_id for p in chosen]).values_list(
            "pk", "server_id"
        )
    )
    planted, dates = [], []
    planter = Planter(rows, rnd, methods, now, extras, servers)
    for code, group in by_code.items():
        stories = getattr(planter, code)(group)
        for person, (story, registered, verified, ftd) in zip(group, stories, strict=True):
            planted.append(
                PlantedCase(typology=code, client_id=person.client_id, story=story, planted_at=now)
            )
            dates.append((person.client_id, registered, verified, ftd))
    return planted, dates, [p for p in people if p.client_id not in taken]


def fresh_people(count: int) -> list[Person]:
    """Clients of over a year ago with no trading account (their history is only money)."""
    from .trading import COUNTRIES, FIRST, LAST

    start = User.objects.filter(email__endswith=PLANTED_EMAILS).count()
    users = User.objects.bulk_create(
        [
            User(
                email=f"dormant{start + n:04d}{PLANTED_EMAILS}",
                first_name=FIRST[(start + n) % len(FIRST)],
                last_name=LAST[(start + n * 7) % len(LAST)],
                password="!",
            )
            for n in range(count)
        ]
    )
    clients = Client.objects.bulk_create(
        [
            Client(
                user=u,
                status=Client.Status.ACTIVE,
                country=COUNTRIES[n % len(COUNTRIES)],
                kyc_level=1,
            )
            for n, u in enumerate(users)
        ]
    )
    return [
        Person(c.pk, u.pk, u.email, u.first_name, u.last_name, c.country, None, None, None)
        for u, c in zip(users, clients, strict=True)
    ]


class Planter:
    def __init__(self, rows, rnd, methods, now, extras, servers):
        self.rows, self.rnd, self.methods, self.now = rows, rnd, methods, now
        self.extras, self.servers = extras, servers

    def days(self, n: float) -> datetime:
        return self.now - timedelta(days=n, minutes=self.rnd.randint(0, 90))

    def start(self, person: Person, registered_days: float, *, yearly_usd, **profile):
        registered = self.days(registered_days)
        verified = onboard(self.rows, self.rnd, person, registered, self.extras)
        profile_row(
            self.rows, self.rnd, person, verified + timedelta(minutes=1),
            yearly_usd=D(yearly_usd), **profile,
        )  # fmt: skip
        return registered, verified, Money(self.rows, person, self.methods, self.now)

    def each(self, group, registered_days, yearly_usd, story, build, **profile):
        """Every client of `group`: onboarded `registered_days` ago, then `build(money)`."""
        out = []
        for person in group:
            registered, verified, money = self.start(
                person, registered_days, yearly_usd=yearly_usd, **profile
            )
            build(person, money)
            out.append((story, registered, verified, money.ftd_at))
        return out

    def quick_in_out(self, group):
        def build(person, money):
            money.deposit("checkout_usd", D(6000), self.days(9))
            money.transfer(D(6000), self.days(8.9), to_trading=True)
            money.transfer(D(5600), self.days(4.1), to_trading=False)
            money.withdrawal("USD", D(5500), self.days(4), "paid")

        story = "USD 6,000 in by card, USD 5,500 back out five days later, barely traded"
        return self.each(group, 40, 6000, story, build)

    def structuring(self, group):
        def build(person, money):
            for amount, day in (("9400", 6), ("9650", 4), ("9800", 2)):
                money.deposit("checkout_usd", D(amount), self.days(day))

        story = "three card deposits of USD 9,400 to 9,800 within six days"
        return self.each(group, 45, 29000, story, build)

    def velocity(self, group):
        def build(person, money):
            day = 190.0
            while day > 12:
                money.deposit("stripe_usd", D(500), self.days(day))
                day -= 14
            money.deposit("checkout_usd", D(3600), self.days(5))
            money.deposit("checkout_usd", D(3600), self.days(2))

        story = "USD 500 every two weeks for six months, then USD 7,200 in one week"
        return self.each(group, 200, 14000, story, build)

    def third_party_funding(self, group):
        out = []
        pairs = [group[n : n + 2] for n in range(0, len(group), 2)]
        for n, pair in enumerate(pairs):
            if n % 2 == 0:  # paid with someone else's card
                for person in pair:
                    registered, verified, money = self.start(person, 60, yearly_usd=1500)
                    payer = OTHER_PAYERS[person.client_id % len(OTHER_PAYERS)]
                    at = self.now - timedelta(hours=5)
                    card = instrument_row(self.rows, person, "stripe", at, holder_name=payer)
                    money.deposit("stripe_usd", D(1500), at, instrument=card)
                    story = f"USD 1,500 paid by a card in the name of {payer.title()}"
                    out.append((story, registered, verified, money.ftd_at))
            else:  # one bitcoin address funding both
                address = "bc1q" + token(f"shared:{pair[0].client_id}", 38)
                for k, person in enumerate(pair):
                    registered, verified, money = self.start(person, 60, yearly_usd=1600)
                    wallet = instrument_row(
                        self.rows,
                        person,
                        "coinpayments",
                        self.days(20 - 5 * k),
                        key=f"BTC:{address}",
                        address=address,
                        label=f"BTC {address[:10]}…",
                    )
                    money.deposit(
                        "coinpayments_usd", D(800), self.days(20 - 5 * k), instrument=wallet
                    )
                    money.deposit(
                        "coinpayments_usd", D(800), self.days(10 - 5 * k), instrument=wallet
                    )
                    other = pair[1 - k].client_id
                    story = f"the same bitcoin address funded this client and client {other}"
                    out.append((story, registered, verified, money.ftd_at))
        return out

    def beyond_declared(self, group):
        def build(person, money):
            for day in (200, 150, 100, 50):
                money.deposit("stripe_usd", D(4000), self.days(day))

        story = "USD 16,000 deposited in the year; declared income under 25,000, USD 3,000"
        return self.each(
            group, 220, 0, story, build, annual_income="under_25k", net_worth="25k_100k",
            expected_deposits_amount=D(3000),
        )  # fmt: skip

    def high_risk_country(self, group):
        def build(person, money):
            at = self.now - timedelta(hours=6)  # last night's: the nightly run reads a day
            card = instrument_row(self.rows, person, "stripe", at, country=HIGH_RISK[0])
            money.deposit("stripe_usd", D(2500), at, instrument=card)

        return self.each(group, 50, 2500, "USD 2,500 by a card issued in Myanmar", build)

    def psp_switching(self, group):
        def build(person, money):
            at = self.now - timedelta(hours=10)
            money.deposit("stripe_usd", D(1200), at, "failed")
            money.deposit("checkout_usd", D(1200), at + timedelta(minutes=20), "failed")
            money.deposit("coinpayments_usd", D(1200), at + timedelta(minutes=45))

        story = "declined at Stripe, then at Checkout.com, then paid in crypto within an hour"
        return self.each(group, 30, 1200, story, build)

    def dormant_reactivation(self, group):
        def build(person, money):
            money.deposit("stripe_usd", D(2000), self.days(400))
            money.deposit("stripe_usd", D(1500), self.days(380))
            money.withdrawal("USD", D(1000), self.days(300), "paid")
            money.deposit("checkout_usd", D(15000), self.days(3))

        story = "quiet for ten months, then USD 15,000 three days ago"
        return self.each(group, 420, 15000, story, build)

    def mirror_trading(self, group):
        out = []
        for n in range(0, len(group), 2):
            pair = group[n : n + 2]
            device = token(f"device:{pair[0].client_id}", 32)
            ip = f"198.51.100.{(pair[0].client_id % 250) + 1}"
            for k, person in enumerate(pair):
                registered, verified, money = self.start(person, 70, yearly_usd=2000)
                money.deposit("stripe_usd", D(1000), self.days(20 + k))
                for day in (6.5, 5.5):
                    self.rows.add(
                        AccessRecord,
                        {
                            "user_id": person.user_id,
                            "client_id": person.client_id,
                            "kind": AccessRecord.Kind.LOGIN,
                            "at": self.days(day),
                            "ip": ip,
                            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                            "device_id": device,
                            "identifier": "",
                        },
                    )
                other = pair[1 - k].client_id
                story = f"four opposite positions with client {other}, same device, seconds apart"
                out.append((story, registered, verified, money.ftd_at))
            self._opposite(pair)
        return out

    def _opposite(self, pair: list[Person]) -> None:
        """Four positions in one symbol, opened by the two within seconds on opposite sides and
        closed ten minutes later, five days ago."""
        buyer, seller = pair
        base = self.now - timedelta(days=5, hours=2)
        for k, (symbol, price) in enumerate(
            [
                ("EURUSD", "1.08412"),
                ("EURUSD", "1.08530"),
                ("XAUUSD", "2391.20"),
                ("EURUSD", "1.08297"),
            ]
        ):
            opened = base + timedelta(hours=3 * k)
            for side, person, delay in ((0, buyer, 0), (1, seller, 2 + k)):
                ticket = MIRROR_TICKETS + 2 * self.rows.next_id(Deal)
                common = {
                    "server_id": self.servers[person.account_id],
                    "account_id": person.account_id,
                    "client_id": person.client_id,
                    "symbol": symbol,
                    "volume": 5000,
                    "volume_ext": 0,
                    "swap_amount": D(0),
                    "commission_amount": D(0),
                    "position_id": ticket,
                    "comment": "",
                    "synced_at": opened + timedelta(seconds=30),
                    "removed_at": None,
                }
                at = opened + timedelta(seconds=delay)
                self.rows.add(
                    Deal,
                    common | {"ticket": ticket, "time": at, "action": side, "entry": 0,
                              "price": D(price), "profit_amount": D(0)},
                )  # fmt: skip
                self.rows.add(
                    Deal,
                    common | {"ticket": ticket + 1, "time": at + timedelta(minutes=10),
                              "action": 1 - side, "entry": 1, "price": D(price),
                              "profit_amount": D("-12.40") if side else D("11.90")},
                )  # fmt: skip

    def chargeback_ratio(self, group):
        def build(person, money):
            deposits = [
                money.deposit("stripe_usd", D(600), self.days(d)) for d in (120, 90, 60, 30)
            ]
            money.chargeback(deposits[0], self.days(50), "lost", "fraudulent")
            money.chargeback(deposits[2], self.days(10), "lost", "unrecognized")

        return self.each(group, 150, 2400, "two of four card deposits charged back", build)


__all__ = ["PLANTED_EMAILS", "plant"]
