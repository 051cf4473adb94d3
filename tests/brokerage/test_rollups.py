"""The leadership rollups (brokerage.rollups): each equals a direct computation from the raw
records, on the demo book's year and on random data; a refresh since a watermark gives what a
rebuild gives; the figures read a fixed number of queries whatever the book's size."""

import random
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.db.models.functions import TruncDate, Upper
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brokerage.models import Desk, RollupState, User
from brokerage.rollups import OVERLAP, Filter, leadership_answer, rollups, rollups_refresh
from clients.models import Client, Deal, RetentionFlag
from finance.models import Chargeback, Deposit, FxRate, Refund, Withdrawal
from finance.selectors import usd_rates_by_day
from ib.models import CommissionLine, Referral
from leads.models import Lead
from leads.sla import sla_minutes
from tests.demo.test_book import make_book

pytestmark = pytest.mark.django_db


def _day(field):
    return TruncDate(field, tzinfo=UTC)


def _rows(table: str, key: list[str], values: list[str]) -> dict:
    with connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(key + values)} FROM {table}")
        out = {}
        for row in cur.fetchall():
            k = tuple(row[: len(key)])
            assert k not in out, f"{table}: two rows for {k}"
            out[k] = tuple(Decimal(v) if v is not None else None for v in row[len(key) :])
        return out


def _add(into: dict, key, values):
    current = into.get(key, tuple(Decimal(0) for _ in values))
    into[key] = tuple(a + Decimal(b or 0) for a, b in zip(current, values, strict=True))


def direct_money() -> dict:
    """Money per (day, desk, psp, country, currency) straight from the finance records."""
    out: dict = {}
    clients = Q(client__holder=Client.Holder.CLIENT)
    for d in Deposit.objects.filter(clients, status="completed").values(
        "completed_at", "client__desk_id", "psp", "client__country", "currency", "amount", "is_ftd"
    ):
        key = (
            d["completed_at"].astimezone(UTC).date(),
            d["client__desk_id"],
            d["psp"],
            d["client__country"],
            d["currency"],
        )
        ftd = d["is_ftd"]
        _add(out, key, (int(ftd), d["amount"] if ftd else 0, 1, d["amount"], 0, 0, 0, 0, 0, 0))
    for w in Withdrawal.objects.filter(clients, status="paid").values(
        "completed_at", "client__desk_id", "psp", "client__country", "currency", "amount"
    ):
        key = (w["completed_at"].astimezone(UTC).date(), w["client__desk_id"], w["psp"])
        key += (w["client__country"], w["currency"])
        _add(out, key, (0, 0, 0, 0, 1, w["amount"], 0, 0, 0, 0))
    for r in Refund.objects.filter(status="succeeded", deposit__client__holder="client").values(
        "completed_at", "deposit__client__desk_id", "deposit__psp", "deposit__client__country",
        "currency", "amount",
    ):  # fmt: skip
        key = (r["completed_at"].astimezone(UTC).date(), r["deposit__client__desk_id"])
        key += (r["deposit__psp"], r["deposit__client__country"], r["currency"])
        _add(out, key, (0, 0, 0, 0, 0, 0, 1, r["amount"], 0, 0))
    for c in Chargeback.objects.exclude(status="won").filter(deposit__client__holder="client"):
        key = (c.opened_at.astimezone(UTC).date(), c.deposit.client.desk_id, c.deposit.psp)
        key += (c.deposit.client.country, c.currency)
        _add(out, key, (0, 0, 0, 0, 0, 0, 0, 0, 1, c.amount))
    return out


MONEY_VALUES = [
    "ftd_count", "ftd_amount", "deposit_count", "deposit_amount", "withdrawal_count",
    "withdrawal_amount", "refund_count", "refund_amount", "chargeback_count", "chargeback_amount",
]  # fmt: skip


def direct_funnel() -> dict:
    out: dict = {}
    for lead in Lead.objects.select_related("client").annotate(code=Upper("referral_code")):
        c = lead.client if lead.client and lead.client.holder == "client" else None
        key = (
            lead.created_at.astimezone(UTC).date(),
            lead.desk_id,
            lead.assigned_to_id,
            lead.country,
            lead.source,
            lead.utm_campaign,
            lead.code,
        )
        ftd = c is not None and c.first_deposit_at is not None
        seconds = max(0, (c.first_deposit_at - lead.created_at).total_seconds()) if ftd else 0
        contacted = lead.first_contact_at
        late = (
            contacted is not None
            and lead.assigned_at is not None
            and contacted > lead.assigned_at + timedelta(minutes=sla_minutes(lead.desk))
        )
        _add(
            out,
            key,
            (
                1,
                int(c is not None),
                int(c is not None and c.kyc_verified_at is not None),
                int(ftd),
                int(c is not None and c.last_trade_at is not None),
                Decimal(seconds).quantize(Decimal(1)) if ftd else 0,
                int(contacted is not None),
                int(late),
            ),
        )
    return out


FUNNEL_KEY = ["day", "desk_id", "agent_id", "country", "source", "campaign", "ib_code"]
FUNNEL_VALUES = ["leads", "registered", "verified", "ftd", "trading", "ftd_seconds"]
FUNNEL_VALUES += ["contacted", "contacted_late"]


def direct_trading() -> dict:
    out: dict = {}
    trades = Deal.objects.filter(action__in=[0, 1], removed_at__isnull=True)
    trades = trades.filter(client__holder="client")
    for d in trades.values(
        "time", "client__desk_id", "client__country", "symbol", "account__currency",
        "volume", "commission_amount", "swap_amount", "profit_amount",
    ):  # fmt: skip
        key = (d["time"].astimezone(UTC).date(), d["client__desk_id"], d["client__country"])
        key += (d["symbol"], d["account__currency"])
        _add(
            out,
            key,
            (1, d["volume"], d["commission_amount"], d["swap_amount"], d["profit_amount"]),
        )
    return out


TRADING_KEY = ["day", "desk_id", "country", "symbol", "currency"]
TRADING_VALUES = ["deals", "volume", "commission_amount", "swap_amount", "profit_amount"]


def _trading_rows() -> dict:
    rows: dict = {}
    for k, v in _rows("clients_rollup_trading", TRADING_KEY, TRADING_VALUES).items():
        _add(rows, k, v)  # rows also split by quote currency and book
    return rows


def direct_ib() -> dict:
    """Per (day, IB, currency): the FTDs and deposits of its referred clients, and the
    commission lines it earned on the day's deals."""
    out: dict = {}
    partner_of = dict(Referral.objects.values_list("client_id", "partner_id"))
    for d in Deposit.objects.filter(status="completed", client__holder="client"):
        if d.client_id in partner_of:
            key = (d.completed_at.astimezone(UTC).date(), partner_of[d.client_id], d.currency)
            _add(out, key, (int(d.is_ftd), d.amount, 0))
    lines = CommissionLine.objects.exclude(status="cancelled").filter(client__holder="client")
    for line in lines:
        key = (line.deal_time.astimezone(UTC).date(), line.partner_id, line.currency)
        _add(out, key, (0, 0, line.amount))
    return out


def _ib_rows() -> dict:
    rows: dict = {}
    values = ["ftd_count", "deposit_amount", "commission_amount"]
    for k, v in _rows(
        "ib_rollup_quality", ["day", "partner_id", "currency", "desk_id", "country"], values
    ).items():
        if any(v):
            _add(rows, k[:3], v)
    return rows


def direct_psp() -> dict:
    """Deposits per (day started, desk, psp, country): started, completed, failed, expired."""
    out: dict = {}
    for d in Deposit.objects.filter(client__holder="client").values(
        "created_at", "client__desk_id", "psp", "client__country", "status"
    ):
        key = (d["created_at"].astimezone(UTC).date(), d["client__desk_id"], d["psp"])
        key += (d["client__country"],)
        status = d["status"]
        _add(out, key, (1, status == "completed", status == "failed", status == "expired"))
    return out


def direct_activity() -> dict:
    """Per (day, client, desk, country, account currency): the profit of the client's deals."""
    out: dict = {}
    traded = Deal.objects.filter(
        action__in=[0, 1], removed_at__isnull=True, client__holder="client"
    )
    for t in traded.values(
        "time", "client_id", "client__desk_id", "client__country", "account__currency",
        "profit_amount",
    ):  # fmt: skip
        key = (t["time"].astimezone(UTC).date(), t["client_id"], t["client__desk_id"])
        key += (t["client__country"], t["account__currency"])
        _add(out, key, (t["profit_amount"],))
    return out


def direct_traders() -> dict:
    """Per (client, desk, country): the days the client traded, and their result in USD
    summed up to each of those days (after a 0)."""
    activity = direct_activity()
    rates = usd_rates_by_day(sorted({k[0] for k in activity}))
    per_day: dict = {}
    for (day, client_id, desk_id, country, currency), (profit,) in activity.items():
        usd = _usd(rates, day, currency, profit) or Decimal(0)
        days = per_day.setdefault((client_id, desk_id, country), {})
        days[day] = days.get(day, Decimal(0)) + usd
    out = {}
    for key, days in per_day.items():
        sums, total = [Decimal(0)], Decimal(0)
        for day in sorted(days):
            total += days[day]
            sums.append(total)
        out[key] = (set(days), sums)
    return out


def _traders_rows() -> dict:
    """The traders' days as stored: each row's bits read back as days, and its sums."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT client_id, desk_id, country, first_day, days::text, pl_usd "
            "FROM clients_rollup_traders"
        )
        out = {}
        for client_id, desk_id, country, first, bits, sums in cur.fetchall():
            key = (client_id, desk_id, country)
            assert key not in out, f"two rows of traders' days for {key}"
            assert bits[0] == "1" and bits[-1] == "1", bits  # from the first day to the last
            days = {first + timedelta(days=i) for i, bit in enumerate(bits) if bit == "1"}
            out[key] = (days, sums)
        return out


def direct_retention() -> dict:
    """Per (day, desk, account manager, country): flags raised, reactivations, clients lost."""
    out: dict = {}
    for f in RetentionFlag.objects.filter(client__holder="client").select_related("client"):
        who = (f.client.desk_id, f.client.account_manager_id, f.client.country)
        _add(out, (f.flagged_at.astimezone(UTC).date(), *who), (1, 0, 0))
        if f.status == "cleared" and f.cleared_reason.startswith("Traded again"):
            _add(out, (f.cleared_at.astimezone(UTC).date(), *who), (0, 1, 0))
        if f.last_outcome in ("not_interested", "closed_account"):
            _add(out, (f.last_contacted_at.astimezone(UTC).date(), *who), (0, 0, 1))
    return out


def _money_rows() -> dict:
    key = ["day", "desk_id", "psp", "country", "currency"]
    return _rows("finance_rollup_money", key, MONEY_VALUES)


def _usd(rates: dict, day, currency: str, amount) -> Decimal | None:
    rate = rates[day].get(currency)
    return None if rate is None else Decimal(amount) * rate


def _add_usd(into: dict, key, values):
    """`_add` where a value may be None (an amount without a rate), as SQL's sum skips it."""
    current = into.get(key, tuple(None for _ in values))
    pairs = zip(current, values, strict=True)
    into[key] = tuple(a if b is None else (b if a is None else a + b) for a, b in pairs)


def assert_cards_equal_raw():
    """Each rollup's card table: its source's rows summed, and the money, funnel, trading and
    IB figures in it as computed from the raw records, at each day's USD rate."""
    from clients.rollups import CARDS as TRADING_CARDS
    from finance.rollups import CARDS as MONEY_CARDS
    from ib.rollups import CARDS_BY_IB as IB_CARDS
    from leads.rollups import CARDS as FUNNEL_CARDS

    for rollup in rollups():
        for cards in rollup.cards:
            keys = ["day", *cards.dims]
            with connection.cursor() as cur:
                cur.execute(
                    f"SELECT {', '.join(keys)}, {', '.join(cards.sums.values())} "
                    f"FROM {cards.source} GROUP BY {', '.join(keys)}"
                )
                summed = {tuple(r[: len(keys)]): tuple(r[len(keys) :]) for r in cur.fetchall()}
            stored = _rows(cards.table, keys, list(cards.sums))
            assert stored == summed, cards.table

    money, trades, ib_days = direct_money(), direct_trading(), direct_ib()
    rates = usd_rates_by_day(sorted({k[0] for k in [*money, *trades, *ib_days]}))
    expected: dict = {}
    for (day, desk, psp, country, currency), v in money.items():
        ftd_n, ftd_a, dep_n, dep_a, wd_n, wd_a, rf_n, rf_a, cb_n, cb_a = v
        usd = [_usd(rates, day, currency, a) for a in (ftd_a, dep_a, wd_a, rf_a, cb_a)]
        net = _usd(rates, day, currency, dep_a - wd_a - rf_a - cb_a)
        _add_usd(expected, (day, desk, country, psp), (ftd_n, dep_n, wd_n, cb_n, *usd, net))
    columns = ["ftd_count", "deposit_count", "withdrawal_count", "chargeback_count", "ftd_usd"]
    columns += ["deposit_usd", "withdrawal_usd", "refund_usd", "chargeback_usd", "net_usd"]
    assert _rows(MONEY_CARDS.table, ["day", *MONEY_CARDS.dims], columns) == expected

    funnel: dict = {}
    for (day, desk, _agent, country, _source, _campaign, code), v in direct_funnel().items():
        _add(funnel, (day, desk, country, code), v)
    keys = ["day", *FUNNEL_CARDS.dims]
    assert _rows(FUNNEL_CARDS.table, keys, FUNNEL_VALUES) == funnel

    trading: dict = {}
    for (day, desk, country, _symbol, currency), v in trades.items():
        _deals, volume, commission, swap, profit = v
        usd = [_usd(rates, day, currency, a) for a in (commission, swap, profit)]
        _add_usd(trading, (day, desk, country), (volume, *usd))
    columns = ["volume", "commission_usd", "swap_usd", "client_pl_usd"]
    assert _rows(TRADING_CARDS.table, ["day", *TRADING_CARDS.dims], columns) == trading

    ib: dict = {}
    for (day, partner, currency), (ftd, deposit, commission) in ib_days.items():
        usd = [_usd(rates, day, currency, a) for a in (deposit, commission)]
        _add_usd(ib, (day, partner), (ftd, *usd))
    stored: dict = {}
    for (day, partner), v in _rows(
        f"(SELECT day, partner_id, sum(ftd_count) AS f, sum(deposit_usd) AS d, "
        f"sum(commission_usd) AS c FROM {IB_CARDS.table} GROUP BY 1, 2) x",
        ["day", "partner_id"],
        ["f", "d", "c"],
    ).items():
        if any(v):
            stored[(day, partner)] = v
    assert stored == {k: v for k, v in ib.items() if any(v)}


def assert_rollups_equal_raw():
    money = _rows(
        "finance_rollup_money", ["day", "desk_id", "psp", "country", "currency"], MONEY_VALUES
    )
    assert money == direct_money()
    assert _rows("leads_rollup_funnel", FUNNEL_KEY, FUNNEL_VALUES) == direct_funnel()
    assert _trading_rows() == direct_trading()
    assert _ib_rows() == {k: v for k, v in direct_ib().items() if any(v)}
    activity_key = ["day", "client_id", "desk_id", "country", "currency"]
    assert _rows("clients_rollup_activity", activity_key, ["profit_amount"]) == direct_activity()
    assert _traders_rows() == direct_traders()
    psp_key = ["day", "desk_id", "psp", "country"]
    psp_values = ["started", "completed", "failed", "expired"]
    assert _rows("finance_rollup_psp", psp_key, psp_values) == direct_psp()
    retention = _rows(
        "clients_rollup_retention",
        ["day", "desk_id", "agent_id", "country"],
        ["flagged", "reactivated", "churned"],
    )
    assert retention == direct_retention()
    # Each day's rate is the day's: a row in EUR converts at EUR's rate at that day's end.
    with connection.cursor() as cur:
        cur.execute("SELECT day, currency, usd_rate FROM finance_rollup_money")
        rows = cur.fetchall()
    rates = usd_rates_by_day(sorted({r[0] for r in rows}))
    assert all(rate == rates[day].get(currency) for day, currency, rate in rows)
    assert_cards_equal_raw()


def _refer_half_the_book():
    """Two IBs, each credited with a quarter of the book's clients and paid on their deals."""
    from tests.conftest import make_partner_user

    partners = [make_partner_user(f"ib{n}@rollups.test", f"IBROLL{n}").partner for n in (1, 2)]
    clients = list(Client.objects.filter(holder="client").order_by("pk"))
    for n, client in enumerate(clients[: len(clients) // 2]):
        partner = partners[n % 2]
        Referral.objects.create(partner=partner, client=client, code=partner.referral_code)
        for deal in Deal.objects.filter(client=client, entry=1)[:3]:
            CommissionLine.objects.create(
                deal=deal, deal_time=deal.time, client=client, partner=partner, tier=0,
                symbol=deal.symbol, rate=Decimal("2.5"), volume=deal.volume,
                formula="2.5 x lots", currency="USD", amount=Decimal("0.125"),
                status=rnd_status(deal.pk),
            )  # fmt: skip


def rnd_status(n: int) -> str:
    return "cancelled" if n % 7 == 0 else "pending"


def test_the_rollups_equal_the_raw_records_on_the_demo_book():
    from demo.book import install_book_year

    make_book(60)
    install_book_year(now=timezone.now(), per_typology=1)
    _refer_half_the_book()
    assert Deposit.objects.filter(status="completed").count() > 50
    assert Lead.objects.exists() and Withdrawal.objects.filter(status="paid").exists()
    assert Lead.objects.filter(client__first_deposit_at__isnull=False).exists()
    assert Referral.objects.exists() and CommissionLine.objects.exists()
    call_command("rollups_rebuild", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert_rollups_equal_raw()
    assert set(RollupState.objects.values_list("name", flat=True)) == {r.name for r in rollups()}

    # The figures for a filter: FTDs and active traders as counted from the records.
    today = timezone.now().date()
    flt = Filter(start=today - timedelta(days=89), end=today)
    figures = {f.key: f for f in leadership_answer(flt, User(is_superuser=True)).figures}
    start = timezone.make_aware(
        timezone.datetime.combine(flt.start, timezone.datetime.min.time()), UTC
    )
    ftds = Deposit.objects.filter(
        status="completed", is_ftd=True, completed_at__gte=start, client__holder="client"
    )
    assert figures["ftds"].value == ftds.count() > 0
    traded = Deal.objects.filter(action__in=[0, 1], removed_at__isnull=True, time__gte=start)
    traded = traded.filter(client__holder="client", time__lt=start + timedelta(days=90))
    assert figures["active_traders"].value == traded.values("client").distinct().count() > 0
    # ... and in the 90 days before, from the same rows of traders' days
    before = Deal.objects.filter(action__in=[0, 1], removed_at__isnull=True)
    before = before.filter(client__holder="client", time__gte=start - timedelta(days=90))
    before = before.filter(time__lt=start).values("client").distinct().count()
    assert figures["active_traders"].previous == before


# --- Random data --------------------------------------------------------------------------------


def _methods():
    from finance.models import PaymentMethod

    FxRate.objects.update_or_create(currency="EUR", defaults={"usd_rate": Decimal("1.08")})
    return [
        PaymentMethod.objects.create(
            psp=psp, name=psp, currency=currency, min_amount=10, max_amount=50_000
        )
        for psp, currency in [("stripe", "USD"), ("skrill", "EUR"), ("checkout", "USD")]
    ]


def _round(rnd: random.Random, n: int, desks, methods, clients):
    """Some random changes, stamped now, as the services and the sync make them: leads come
    in and register, clients deposit and trade on random recent days."""
    from tests.clients.factories import make_account, make_deal
    from tests.finance.conftest import deposit_paid, verified_client

    now = timezone.now()
    for k in range(rnd.randint(1, 4)):
        client = verified_client(f"r{n}-{k}@rollups.test", rnd.choice(["GB", "DE", "AE"]))
        Client.objects.filter(pk=client.pk).update(desk=rnd.choice([*desks, None]))
        clients.append(Client.objects.get(pk=client.pk))
        assigned = now - timedelta(minutes=rnd.randint(1, 600)) if rnd.random() < 0.8 else None
        lead = Lead.objects.create(
            email=f"r{n}-{k}@rollups.test", country=client.country, channel="api",
            source=rnd.choice(["google", "meta", ""]), utm_campaign=rnd.choice(["spring", ""]),
            referral_code=rnd.choice(["", "ibone"]), desk=rnd.choice([*desks, None]),
            client=client if rnd.random() < 0.7 else None, assigned_at=assigned,
        )  # fmt: skip
        if assigned is not None and rnd.random() < 0.7:  # contacted, some after the SLA
            Lead.objects.filter(pk=lead.pk).update(
                first_contact_at=assigned + timedelta(minutes=rnd.choice([2, 5, 20, 90]))
            )
        if rnd.random() < 0.5:
            Client.objects.filter(pk=client.pk).update(account_manager=_manager())
    for client in rnd.sample(clients, k=min(len(clients), 3)):
        deposit_paid(client, rnd.choice(methods), str(rnd.randint(10, 900)))
    for client in rnd.sample(clients, k=min(len(clients), 2)):
        _deposit_ended(client, rnd.choice(methods), rnd.choice(["failed", "expired", "open"]))
    for client in rnd.sample(clients, k=min(len(clients), 3)):
        account = client.trading_accounts.first() or make_account(
            client, currency=rnd.choice(["USD", "EUR"])
        )
        for _ in range(rnd.randint(1, 5)):
            make_deal(
                account,
                at=now - timedelta(days=rnd.randint(0, 20), minutes=rnd.randint(0, 600)),
                action=rnd.choice([0, 1]),
                entry=rnd.choice([0, 1]),
                volume=rnd.randint(1, 50) * 1000,
                profit=f"{rnd.randint(-500, 500)}.{rnd.randint(0, 99):02d}",
                commission=f"-{rnd.randint(0, 9)}.50",
                swap=f"{rnd.randint(-3, 3)}.25",
            )
    if clients and rnd.random() < 0.5:
        RetentionFlag.objects.get_or_create(
            client=rnd.choice(clients),
            status="open",
            defaults={"days_inactive": 30, "flagged_at": now, "refreshed_at": now},
        )


def _manager() -> User:
    from tests.conftest import make_staff

    found = User.objects.filter(email="am@rollups.test").first()
    return found or make_staff("retention_agent", email="am@rollups.test")


def _deposit_ended(client, method, how: str):
    """A deposit the PSP declined or let expire, or one still open."""
    from finance.psp.base import EventKind
    from finance.services import deposit_create, psp_event_apply
    from tests.finance.conftest import event

    deposit = deposit_create(client=client, method=method, amount="20.00", actor="test")
    if how == "open":
        return
    Deposit.objects.filter(pk=deposit.pk).update(provider_reference=f"pay_{deposit.pk}")
    kind = EventKind.PAYMENT_FAILED if how == "failed" else EventKind.PAYMENT_EXPIRED
    psp_event_apply(
        psp=method.psp,
        event=event(
            kind,
            reference=deposit.reference,
            provider_reference=f"pay_{deposit.pk}",
            currency=method.currency,
        ),
    )


def assert_results_equal_raw(flt: Filter):
    """The dealing dashboard's clients winning and losing most over `flt`'s period: each
    client's deals' profit at each day's USD rate, as summed from the deals."""
    from clients.team_dashboards import answer_dealing

    deals = Deal.objects.filter(action__in=[0, 1], removed_at__isnull=True)
    deals = deals.filter(client__holder="client")
    if flt.desk_ids is not None:
        deals = deals.filter(client__desk_id__in=flt.desk_ids)
    rows = list(deals.values("time", "client_id", "account__currency", "profit_amount"))
    rates = usd_rates_by_day(sorted({r["time"].astimezone(UTC).date() for r in rows}))
    totals: dict = {}
    for r in rows:
        day = r["time"].astimezone(UTC).date()
        usd = _usd(rates, day, r["account__currency"], r["profit_amount"])
        if flt.start <= day <= flt.end and usd is not None:
            totals[r["client_id"]] = totals.get(r["client_id"], Decimal(0)) + usd
    winners = [(-v, c) for v, c in sorted((-v, c) for c, v in totals.items() if v > 0)[:10]]
    losers = sorted((v, c) for c, v in totals.items() if v < 0)[:10]
    tables = {t.id: t for t in answer_dealing(flt, User(is_superuser=True)).tables}
    for table, expected in (("top-winners", winners), ("top-losers", losers)):
        assert tables[table].personal["Client"] == [c for _, c in expected], table
        assert [row[1] for row in tables[table].rows] == [
            v.quantize(Decimal(1)) for v, _ in expected
        ], table


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_refresh_since_the_watermark_follows_random_changes(seed):
    """After each round of random changes, a refresh (which rebuilds only the days touched
    since its watermark) leaves the rollups equal to the raw records, as a rebuild would."""
    rnd = random.Random(seed)
    desks = [Desk.objects.create(name=f"Desk {seed}-{n}") for n in range(2)]
    methods, clients = _methods(), []
    _round(rnd, 0, desks, methods, clients)
    assert rollups_refresh() == {r.name: -1 for r in rollups()}  # never built: rebuilt whole
    assert_rollups_equal_raw()
    for n in range(1, 4):
        _round(rnd, n, desks, methods, clients)
        done = rollups_refresh()
        assert done["money"] >= 1 and done["trading"] >= 1
        assert_rollups_equal_raw()
        today = timezone.now().date()
        assert_results_equal_raw(Filter(start=today - timedelta(days=6), end=today))
        assert_results_equal_raw(
            Filter(today - timedelta(days=20), today - timedelta(days=n), desk_ids=(desks[0].pk,))
        )
    assert Deposit.objects.filter(status__in=["failed", "expired"]).exists()
    assert Lead.objects.filter(first_contact_at__isnull=False).exists()
    # Nothing new: the overlap re-reads the last minutes and changes nothing.
    before = _rows(
        "finance_rollup_money", ["day", "desk_id", "psp", "country", "currency"], MONEY_VALUES
    )
    rollups_refresh()
    assert (
        _rows(
            "finance_rollup_money", ["day", "desk_id", "psp", "country", "currency"], MONEY_VALUES
        )
        == before
    )
    # Past the overlap, nothing is touched.
    RollupState.objects.update(watermark=timezone.now() + OVERLAP + timedelta(seconds=1))
    assert set(rollups_refresh().values()) == {0}


def test_the_figures_read_a_fixed_number_of_queries_whatever_the_size():
    rnd = random.Random(7)
    desks = [Desk.objects.create(name=f"Desk q{n}") for n in range(2)]
    methods, clients = _methods(), []
    today = timezone.now().date()
    filters = [
        Filter(start=today - timedelta(days=29), end=today),
        Filter(start=today - timedelta(days=6), end=today, desk_ids=(desks[0].pk,)),
        Filter(start=today - timedelta(days=89), end=today, country="GB", psp="stripe", ib="IBONE"),
    ]
    root = User(is_superuser=True)
    counts = []
    for size in (1, 6):
        for n in range(size):
            _round(rnd, size * 10 + n, desks, methods, clients)
        rollups_refresh()
        for flt in filters:
            with CaptureQueriesContext(connection) as ctx:
                leadership_answer(flt, root)
            counts.append(len(ctx.captured_queries))
    assert len(set(counts)) == 1, counts


def test_a_deposit_queues_one_refresh_once_it_commits(
    django_capture_on_commit_callbacks, monkeypatch
):
    """The webhook that completes a deposit queues a refresh after its commit; deposits that
    commit while that refresh waits to start are served by it."""
    from brokerage import tasks
    from tests.finance.conftest import deposit_paid, verified_client

    queued = []
    monkeypatch.setattr(tasks.rollups_refresh_task, "apply_async", lambda **kw: queued.append(kw))
    method = _methods()[0]
    client = verified_client("queued@rollups.test")
    with django_capture_on_commit_callbacks(execute=True):
        deposit_paid(client, method, "100.00")
    # the trading days are left to the refresh the sync passes queue
    assert queued == [{"kwargs": {"skip": ("trading",)}, "countdown": 1}]
    with django_capture_on_commit_callbacks(execute=True):
        deposit_paid(client, method, "50.00")
    assert len(queued) == 1
    tasks.rollups_refresh_task.run(**queued[0]["kwargs"])  # the worker starts it: the next
    # commit queues again
    assert Deposit.objects.filter(status="completed").count() == 2
    assert _money_rows()[next(iter(_money_rows()))][2] == 2  # both deposits counted
    with django_capture_on_commit_callbacks(execute=True):
        deposit_paid(client, method, "25.00")
    assert len(queued) == 2


def test_sync_passes_queue_one_trading_refresh_every_few_seconds(
    django_capture_on_commit_callbacks, monkeypatch, settings
):
    """Sync passes come every 2 s while clients trade: their deals queue one refresh, which
    starts ROLLUPS_DEALS_REFRESH_SECONDS later and serves every pass until then; a money row's
    refresh leaves the trading days to it."""
    from django.core.cache import cache

    from brokerage import tasks
    from brokerage.models import RollupState
    from brokerage.rollups import DEALS_QUEUED_KEY, refresh_after_deals

    settings.ROLLUPS_DEALS_REFRESH_SECONDS = 5
    cache.delete(DEALS_QUEUED_KEY)
    queued = []
    monkeypatch.setattr(tasks.rollups_refresh_task, "apply_async", lambda **kw: queued.append(kw))
    for _ in range(3):  # three passes' deals while the refresh waits
        with django_capture_on_commit_callbacks(execute=True):
            refresh_after_deals()
    assert queued == [{"kwargs": {"deals": True}, "countdown": 5}]
    rollups_refresh()  # every rollup built
    built = RollupState.objects.get(name="trading").watermark
    tasks.rollups_refresh_task.run(skip=("trading",))  # a money row's refresh
    assert RollupState.objects.get(name="trading").watermark == built
    assert RollupState.objects.get(name="money").watermark > built
    tasks.rollups_refresh_task.run(**queued[0]["kwargs"])  # the worker starts it
    assert RollupState.objects.get(name="trading").watermark > built
    with django_capture_on_commit_callbacks(execute=True):
        refresh_after_deals()  # the next pass queues the next one
    assert len(queued) == 2


def test_the_rebuild_command_names_an_unknown_rollup():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No rollup named nope"):
        call_command("rollups_rebuild", "nope")
    call_command("rollups_rebuild", "money", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert list(RollupState.objects.values_list("name", flat=True)) == ["money"]
