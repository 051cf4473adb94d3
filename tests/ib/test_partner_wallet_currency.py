"""A partner's commissions wallet kept in its own currency (`ib.wallets`): chosen at sign-up or
set by an IB manager (audited), each line settled into it at the rate of the line's date through
the FX conversion account, exact to the cent, the statement showing both; payouts in it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brokerage.errors import InvalidInput
from brokerage.models import AuditEvent, User
from clients.models import ClientActivity
from finance.ledger import ledger_verify, system_account, wallet_for
from finance.models import FxRate, LedgerAccount, Withdrawal
from ib.models import CommissionLine, Partner, PartnerStatement
from ib.periods import period_close
from ib.statements import statement_csv
from ib.wallets import partner_wallet_currency_set
from tests.conftest import login, make_staff
from tests.ib.test_commissions import ACTOR, trade
from tests.ib.test_onboarding import apply, programme  # noqa: F401 (the open programme)

pytestmark = pytest.mark.django_db
D = Decimal


def euro_moves(*steps):
    """The euro's USD rate through time: (rate, hours ago) each, recorded in its history."""
    for rate, hours in steps:
        eur, _ = FxRate.objects.update_or_create(currency="EUR", defaults={"usd_rate": D(rate)})
        eur.history.filter(usd_rate=D(rate)).update(
            history_date=timezone.now() - timedelta(hours=hours)
        )


def close(network, start, end):
    standard = network["top"].plans.first().plan.programme
    return period_close(programme=standard, start=start, end=end, actor=ACTOR)


def test_lines_settle_into_a_euro_wallet_each_at_the_rate_of_its_date(network):
    leaf = network["leaf"]
    euro_moves(("1.10", 48))
    partner_wallet_currency_set(partner=leaf, currency="EUR", actor=ACTOR, reason="Paid in EUR")
    now = timezone.now()
    first = trade(network["account"], volume=20000, at=now - timedelta(minutes=90))  # 10 USD
    euro_moves(("1.25", 1))  # the euro moves between the two deals
    second = trade(network["account"], volume=10000, at=now - timedelta(minutes=30))  # 5 USD
    period = close(network, now - timedelta(hours=2), now - timedelta(minutes=1))
    one = CommissionLine.objects.get(deal=first, partner=leaf)
    two = CommissionLine.objects.get(deal=second, partner=leaf)
    # each line keeps its currency and amount, and gains the rate of its own date
    assert (one.currency, one.amount, one.wallet_currency) == ("USD", D("10"), "EUR")
    assert (one.wallet_rate, two.wallet_rate) == (D("0.909091"), D("0.8"))
    statement = PartnerStatement.objects.get(period=period, partner=leaf)
    # 10 x 0.909091 + 5 x 0.8 = 13.09091 EUR, rounded once, half up
    assert (statement.currency, statement.amount) == ("USD", D("15.00"))
    assert (statement.wallet_currency, statement.wallet_exact_amount) == ("EUR", D("13.09091"))
    assert statement.wallet_amount == D("13.09") and statement.outcome == "credited"
    holder = leaf.holder
    assert wallet_for(holder, "EUR").balance_amount == D("13.09")
    assert wallet_for(holder, "USD").balance_amount == 0
    # the payable is debited in dollars, the wallet credited in euros, through the FX account
    fx_usd = system_account(LedgerAccount.Kind.FX_CONVERSION, "USD")
    fx_eur = system_account(LedgerAccount.Kind.FX_CONVERSION, "EUR")
    assert (fx_usd.balance_amount, fx_eur.balance_amount) == (D("15.00"), D("-13.09"))
    # the partners above keep the programme's currency
    mid = PartnerStatement.objects.get(period=period, partner=network["mid"])
    assert mid.wallet_currency == "" and mid.amount == D("9.00")
    assert wallet_for(network["mid"].holder, "USD").balance_amount == D("9.00")
    counts, problem = ledger_verify()
    assert problem is None, problem
    # the statement shows both: each line's rate and converted amount, and what was credited
    csv = "".join(statement_csv(statement))
    assert "wallet rate" in csv and "0.909091,9.09091,EUR" in csv
    assert '"credited (rounded once, half up)",13.09,EUR' in csv
    # the euro moves again: nothing settled changes
    euro_moves(("2", 0))
    one.refresh_from_db()
    assert one.wallet_rate == D("0.909091")


def test_an_automatic_payout_withdraws_in_the_wallets_currency(network):
    leaf = network["leaf"]
    standard = network["top"].plans.first().plan.programme
    standard.auto_payout_threshold = D("1")
    standard.save()
    Partner.objects.filter(pk=leaf.pk).update(payout_iban="DE89370400440532013000")
    leaf.refresh_from_db()
    leaf.holder.__class__.objects.filter(pk=leaf.holder_id).update(kyc_level=1)
    euro_moves(("1.25", 48))
    partner_wallet_currency_set(partner=leaf, currency="EUR", actor=ACTOR, reason="Paid in EUR")
    now = timezone.now()
    trade(network["account"], volume=20000, at=now - timedelta(minutes=30))  # 10 USD = 8 EUR
    period = close(network, now - timedelta(hours=2), now - timedelta(minutes=1))
    statement = PartnerStatement.objects.get(period=period, partner=leaf)
    assert (statement.wallet_currency, statement.wallet_amount) == ("EUR", D("8.00"))
    assert statement.payout_reference, statement.payout_note
    payout = Withdrawal.objects.get(reference=statement.payout_reference)
    assert (payout.currency, payout.amount) == ("EUR", D("8.00"))


def test_without_a_rate_for_the_wallet_the_lines_settle_in_their_own_currency(network):
    leaf = network["leaf"]
    euro_moves(("1.25", 48))
    partner_wallet_currency_set(partner=leaf, currency="EUR", actor=ACTOR, reason="Paid in EUR")
    FxRate.objects.filter(currency="EUR").delete()
    FxRate.history.filter(currency="EUR").delete()
    now = timezone.now()
    trade(network["account"], volume=20000, at=now - timedelta(minutes=30))
    period = close(network, now - timedelta(hours=2), now - timedelta(minutes=1))
    statement = PartnerStatement.objects.get(period=period, partner=leaf)
    assert statement.wallet_currency == "" and statement.amount == D("10.00")
    assert wallet_for(leaf.holder, "USD").balance_amount == D("10.00")


def test_an_ib_manager_sets_the_wallet_currency_with_a_reason_audited(client, network):
    euro_moves(("1.25", 48))
    leaf = network["leaf"]
    url = f"/backoffice/ib/partners/{leaf.pk}/"

    def post(**fields):
        data = {"action": "wallet", **{f"wallet-{k}": v for k, v in fields.items()}}
        return client.post(url, data)

    login(client, make_staff("finance_officer"))
    assert post(currency="EUR", reason="Asked by email").status_code == 403
    manager = make_staff("ib_manager")
    login(client, manager)
    page = client.get(url)
    assert page.status_code == 200 and b'data-form="wallet"' in page.content
    bad = post(currency="XXX", reason="Asked by email")
    assert bad.status_code == 400 and b"Select a valid choice" in bad.content
    assert post(currency="EUR", reason="").status_code == 400
    leaf.refresh_from_db()
    assert leaf.wallet_currency == ""
    done = post(currency="EUR", reason="Asked by email")
    assert done.status_code == 302
    leaf.refresh_from_db()
    assert leaf.wallet_currency == "EUR"
    event = AuditEvent.objects.get(action="partner.wallet_currency_set", actor=manager)
    assert event.evidence == {"from": "programme's", "to": "EUR"}
    assert event.reason == "Asked by email"
    with pytest.raises(InvalidInput):
        partner_wallet_currency_set(partner=leaf, currency="EUR", actor=ACTOR, reason="Again!")


def test_a_partner_chooses_its_wallet_currency_when_it_applies(client, programme):  # noqa: F811
    euro_moves(("1.25", 48))
    response = apply(client, "eur@example.com", programme, wallet_currency="EUR")
    assert response.status_code == 302, response.content[:2000]
    partner = Partner.objects.get(user=User.objects.get(email="eur@example.com"))
    assert partner.wallet_currency == "EUR"
    event = AuditEvent.objects.get(action="partner.applied", target_id=str(partner.pk))
    assert event.evidence["wallet_currency"] == "EUR"
    unknown = apply(client, "xxx@example.com", programme, wallet_currency="XXX")
    assert unknown.status_code == 200 and b"Select a valid choice" in unknown.content


def test_the_partner_is_emailed_each_change_in_its_language_with_the_reason(
    network, django_capture_on_commit_callbacks, mailoutbox
):
    euro_moves(("1.25", 48))
    leaf = network["leaf"]
    holder = leaf.holder
    holder.language = "es"
    holder.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        partner_wallet_currency_set(
            partner=leaf, currency="EUR", actor=ACTOR, reason="Asked by email"
        )
    with django_capture_on_commit_callbacks(execute=True):
        partner_wallet_currency_set(partner=leaf, currency="", actor=ACTOR, reason="Back again")
    told = ClientActivity.objects.filter(
        client=holder, event_key__startswith=f"ib.wallet_currency:{leaf.pk}:"
    ).order_by("id")
    assert [t.subject for t in told] == [
        "Sus comisiones se pagarán en EUR",
        "Sus comisiones se pagarán en su propia divisa",
    ]
    assert "Asked by email" in told[0].body and "/partners/statements/" in told[0].body
    assert "sin conversión" in told[1].body and "Back again" in told[1].body
    assert [m.subject for m in mailoutbox] == [t.subject for t in told]
    assert all(m.to == [holder.user.email] for m in mailoutbox)
