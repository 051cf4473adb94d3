"""Fraud signals: each withholds the lines it suspects, with its reason, and stays quiet
where nothing is wrong; thresholds are IB managers' to change; a released line stays released."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from clients.models import Client, Deal, TradingAccount
from ib.engine import commissions_pay
from ib.fraud import fraud_thresholds_set
from ib.models import CommissionLine, FraudThresholds
from ib.periods import period_close
from ib.services import referral_attribute
from tests.clients.factories import make_account, make_server
from tests.conftest import make_client_user, make_partner_user
from tests.ib.test_commissions import ACTOR, pay_all, trade

pytestmark = pytest.mark.django_db
# The fraud page's form with every threshold (cycling raised to 3 accounts).
THRESHOLDS_FORM = {
    "related_clients": "on",
    "cycling_accounts": "3",
    "cycling_days": "30",
    "opposite_seconds": "10",
    "burst_hold_seconds": "60",
    "burst_share_pct": "50",
    "phantom_min_clients": "1",
}
NOON = (timezone.now() - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)


def statuses(deal):
    return {
        (line.partner.referral_code, line.tier): (line.status, line.hold_reasons)
        for line in CommissionLine.objects.filter(deal=deal).select_related("partner")
    }


def withheld_codes(deal):
    return {
        (line.partner.referral_code, reason["code"])
        for line in CommissionLine.objects.filter(deal=deal, status="withheld")
        for reason in line.hold_reasons
    }


def second_client(code="LEAFIB01", email="second@test.example"):
    client = make_client_user(email).client
    Client.objects.filter(pk=client.pk).update(created_at=NOON - timedelta(days=3))
    client.refresh_from_db()
    referral_attribute(client=client, code=code, actor=ACTOR)
    return make_account(client, server=make_server())


def test_a_clean_network_has_nothing_withheld(network):
    deals = [trade(network["account"], at=NOON + timedelta(minutes=i)) for i in range(3)]
    result = pay_all()
    assert result["lines"] == 9 and result["withheld"] == 0
    assert not CommissionLine.objects.exclude(status="pending").exists()
    assert all(status == "pending" for d in deals for status, _ in statuses(d).values())


def test_a_client_sharing_the_partners_phone_is_withheld_for_that_partner(network):
    leaf_holder = network["leaf"].holder
    Client.objects.filter(pk=leaf_holder.pk).update(phone="+447700900123")
    Client.objects.filter(pk=network["client"].pk).update(phone="+447700900123")
    deal = trade(network["account"])
    assert pay_all()["withheld"] == 1
    found = statuses(deal)
    status, reasons = found[("LEAFIB01", 0)]
    assert status == "withheld" and reasons[0]["code"] == "related_client"
    assert "Same phone" in reasons[0]["message"]
    assert found[("MIDIB001", 1)][0] == found[("TOPIB001", 2)][0] == "pending"


def test_a_different_phone_is_no_relation(network):
    Client.objects.filter(pk=network["leaf"].holder.pk).update(phone="+447700900123")
    Client.objects.filter(pk=network["client"].pk).update(phone="+447700900999")
    trade(network["account"])
    assert pay_all()["withheld"] == 0


def test_switched_off_the_related_check_withholds_nothing(network):
    fraud_thresholds_set(changes={"related_clients": False}, actor=ACTOR)
    for pk in (network["leaf"].holder.pk, network["client"].pk):
        Client.objects.filter(pk=pk).update(phone="+447700900123")
    trade(network["account"])
    assert pay_all()["withheld"] == 0


def opened(account, days_ago):
    TradingAccount.objects.filter(pk=account.pk).update(opened_at=NOON - timedelta(days=days_ago))


def test_three_accounts_in_thirty_days_is_account_cycling(network):
    client = network["client"]
    opened(network["account"], 20)
    for days in (10, 2):
        opened(make_account(client, server=make_server()), days)
    deal = trade(network["account"], at=NOON)
    pay_all()
    codes = withheld_codes(deal)
    assert codes == {(p, "account_cycling") for p in ("LEAFIB01", "MIDIB001", "TOPIB001")}
    line = CommissionLine.objects.filter(deal=deal).first()
    assert "Opened 3 trading accounts" in line.hold_reasons[0]["message"]
    assert "more than 2 within 30 days" in line.hold_reasons[0]["message"]


def test_accounts_further_apart_or_under_the_limit_are_not_cycling(network):
    client = network["client"]
    opened(network["account"], 80)
    opened(make_account(client, server=make_server()), 40)
    opened(make_account(client, server=make_server()), 2)
    trade(network["account"], at=NOON)
    assert pay_all()["withheld"] == 0


def test_a_manager_raising_the_limit_lets_the_same_accounts_through(network):
    client = network["client"]
    for days in (20, 10, 2):
        opened(make_account(client, server=make_server()), days)
    fraud_thresholds_set(changes={"cycling_accounts": 5}, actor=ACTOR)
    trade(network["account"], at=NOON)
    assert pay_all()["withheld"] == 0


def test_opposite_trades_in_one_network_withhold_both_sides(network):
    other = second_client()
    buy = trade(network["account"], at=NOON, action=Deal.Action.BUY)
    sell = trade(other, at=NOON + timedelta(seconds=4), action=Deal.Action.SELL)
    pay_all()
    for deal in (buy, sell):
        assert {code for _, code in withheld_codes(deal)} == {"opposite_trades"}
    message = CommissionLine.objects.filter(deal=buy).first().hold_reasons[0]["message"]
    assert "4 s apart" in message and "limit 10 s" in message and "EURUSD" in message


def test_opposite_trades_further_apart_or_in_another_network_are_not_flagged(network):
    other = second_client()
    trade(network["account"], at=NOON, action=Deal.Action.BUY)
    trade(other, at=NOON + timedelta(seconds=30), action=Deal.Action.SELL)
    make_partner_user("alone@test.example", "ALONEIB1")
    stranger = second_client(code="ALONEIB1", email="stranger@test.example")
    trade(stranger, at=NOON + timedelta(seconds=2), action=Deal.Action.SELL)
    assert pay_all()["withheld"] == 0


def test_opposite_trades_of_different_volumes_are_ordinary_trading(network):
    other = second_client()
    trade(network["account"], at=NOON, action=Deal.Action.BUY, volume=10000)
    trade(other, at=NOON + timedelta(seconds=2), action=Deal.Action.SELL, volume=30000)
    assert pay_all()["withheld"] == 0


def test_the_other_side_written_earlier_is_withheld_when_its_mirror_arrives(network):
    other = second_client()
    buy = trade(network["account"], at=NOON, action=Deal.Action.BUY)
    pay_all()
    assert withheld_codes(buy) == set()
    trade(other, at=NOON + timedelta(seconds=3), action=Deal.Action.SELL)
    pay_all()
    assert {code for _, code in withheld_codes(buy)} == {"opposite_trades"}


def test_a_sync_pass_finds_the_pairs_touching_its_own_positions(network):
    """Paid by id (as after a sync pass), each side is withheld when its own deal is paid: the
    check looks at the pairs touching the pass's positions."""
    from ib.engine import commissions_pay

    other = second_client()
    buy = trade(network["account"], at=NOON, action=Deal.Action.BUY)
    sell = trade(other, at=NOON + timedelta(seconds=3), action=Deal.Action.SELL)
    assert commissions_pay(deal_ids=[sell.pk])["withheld"] > 0
    assert {code for _, code in withheld_codes(sell)} == {"opposite_trades"}
    assert commissions_pay(deal_ids=[buy.pk])["withheld"] > 0
    assert {code for _, code in withheld_codes(buy)} == {"opposite_trades"}
    lonely = trade(network["account"], at=NOON + timedelta(hours=1), action=Deal.Action.BUY)
    assert commissions_pay(deal_ids=[lonely.pk])["withheld"] == 0


def test_a_day_of_mostly_short_holds_is_a_burst(network):
    """Three positions held 20 s (under the plan's minimum: they earn nothing) and one held an
    hour: the hour's lines are withheld as part of the burst."""
    for i in range(3):
        trade(network["account"], at=NOON + timedelta(minutes=i), held=timedelta(seconds=20))
    longer = trade(network["account"], at=NOON + timedelta(hours=2), held=timedelta(hours=1))
    assert pay_all()["lines"] == 3
    assert {code for _, code in withheld_codes(longer)} == {"short_hold_burst"}
    message = CommissionLine.objects.filter(deal=longer).first().hold_reasons[0]["message"]
    assert "3 of 4 closed lots (75%) were held under 60 s" in message


def test_a_few_short_holds_in_a_day_are_no_burst(network):
    trade(network["account"], at=NOON, held=timedelta(seconds=20))
    for i in range(2):
        trade(network["account"], at=NOON + timedelta(hours=i + 1), held=timedelta(minutes=10))
    assert pay_all()["withheld"] == 0


def test_a_burst_counts_a_position_opened_just_before_midnight_and_a_sync_pass_finds_it(network):
    """A position opened in the seconds before the day began and closed just after is a short
    hold of that day; a sync pass paying only the day's last deal reads the whole day."""
    midnight = NOON.replace(hour=0)
    for i in range(3):  # opened 20 s before the close: the first straddles midnight
        trade(network["account"], at=midnight + timedelta(seconds=10 + i * 60),
              held=timedelta(seconds=20))  # fmt: skip
    last = trade(network["account"], at=midnight + timedelta(hours=3), held=timedelta(hours=1))
    assert commissions_pay(deal_ids=[last.pk])["withheld"] == 3
    message = CommissionLine.objects.filter(deal=last).first().hold_reasons[0]["message"]
    assert "3 of 4 closed lots (75%) were held under 60 s" in message


def test_volume_added_after_a_close_does_not_make_it_a_short_hold(network):
    """A position partly closed after an hour, then added to: the close was held an hour."""
    first = trade(network["account"], at=NOON, held=timedelta(hours=1), volume=20000)
    Deal.objects.create(  # added to the same position 10 s after the close
        server=first.server, ticket=990001, account=first.account, client=first.client,
        time=NOON + timedelta(seconds=10), action=first.action, entry=Deal.Entry.IN,
        symbol=first.symbol, volume=10000, price=first.price, position_id=first.position_id,
    )  # fmt: skip
    other = trade(network["account"], at=NOON + timedelta(hours=2), held=timedelta(hours=1))
    assert pay_all()["withheld"] == 0
    assert CommissionLine.objects.filter(deal=other, status="pending").exists()


def test_the_client_time_index_carries_what_the_burst_check_reads():
    """The burst check reads a client's day from the (client, time) index alone: a sync pass
    pays within seconds because of it (bench/ib.py)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'clients_deal_client_time'")
        definition = cur.fetchone()[0]
    assert '(client_id, "time") INCLUDE (server_id, position_id, entry, action, volume)' in (
        definition
    )


def test_a_sub_ib_with_no_clients_of_its_own_is_a_phantom(network):
    from ib.models import ReferralLink

    ReferralLink.objects.filter(partner=network["mid"]).delete()
    deal = trade(network["account"])
    pay_all()
    found = statuses(deal)
    status, reasons = found[("MIDIB001", 1)]
    assert status == "withheld" and reasons[0]["code"] == "phantom_sub_ib"
    assert "1 sub-IB(s) of its own and 0 client(s) of its own" in reasons[0]["message"]
    assert found[("LEAFIB01", 0)][0] == found[("TOPIB001", 2)][0] == "pending"


def test_a_released_line_is_not_withheld_again_and_withheld_lines_wait_for_settlement(network):
    for pk in (network["leaf"].holder.pk, network["client"].pk):
        Client.objects.filter(pk=pk).update(phone="+447700900123")
    deal = trade(network["account"])
    pay_all()
    line = CommissionLine.objects.get(deal=deal, tier=0)
    assert line.status == "withheld"
    programme = network["top"].plans.first().plan.programme
    start, end = timezone.now() - timedelta(days=3), timezone.now() - timedelta(minutes=1)
    period = period_close(programme=programme, start=start, end=end, actor=ACTOR)
    assert period.lines == 2  # mid's and top's; the withheld line waits
    line.refresh_from_db()
    assert line.status == "withheld" and line.period_id is None
    CommissionLine.objects.filter(pk=line.pk).update(status="pending")  # released
    pay_all()
    line.refresh_from_db()
    assert line.status == "pending" and line.hold_reasons  # the reasons stay on record


def test_thresholds_are_checked_and_audited(network):
    from brokerage.errors import InvalidInput
    from brokerage.models import AuditEvent

    with pytest.raises(InvalidInput, match="Opposite trades"):
        fraud_thresholds_set(changes={"opposite_seconds": 0}, actor=ACTOR)
    with pytest.raises(InvalidInput, match="not a setting"):
        fraud_thresholds_set(changes={"nonsense": 1}, actor=ACTOR)
    fraud_thresholds_set(changes={"burst_share_pct": "75.5"}, actor=ACTOR)
    assert FraudThresholds.current().burst_share_pct == Decimal("75.5")
    event = AuditEvent.objects.filter(action="fraud.thresholds_changed").latest("id")
    assert event.evidence["before"]["burst_share_pct"] == "50.00"
    assert event.evidence["after"]["burst_share_pct"] == "75.50"


def test_an_ib_manager_reads_and_changes_the_thresholds(client, network):
    from tests.conftest import login, make_staff

    manager = make_staff("ib_manager")
    login(client, manager)
    for pk in (network["leaf"].holder.pk, network["client"].pk):
        Client.objects.filter(pk=pk).update(phone="+447700900123")
    trade(network["account"])
    pay_all()
    page = client.get("/backoffice/ib/fraud/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Related to the partner" in html and "1 withheld" in html
    assert "Account cycling: accounts opened" in html
    form = THRESHOLDS_FORM
    assert client.post("/backoffice/ib/fraud/", form).status_code == 302
    assert FraudThresholds.current().cycling_accounts == 3
    assert FraudThresholds.current().updated_by == manager
    refused = client.post("/backoffice/ib/fraud/", {**form, "cycling_days": "soon"})
    assert refused.status_code == 400
    assert "Account cycling: within days" in refused.content.decode()
    assert 'value="soon"' in refused.content.decode()
    assert FraudThresholds.current().cycling_days == 30


def test_the_opening_deals_index_carries_what_the_opposite_trade_probes_read():
    """A sync pass's opposite-trade check probes the opening deals of a symbol within seconds
    of each of its positions' openings (`clients.links.TOUCHING_SQL`): from the index alone."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'clients_deal_opening_symbol'"
        )
        definition = cur.fetchone()[0]
    assert '(symbol, "time") INCLUDE (id, action, client_id, account_id)' in definition
