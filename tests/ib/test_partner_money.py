"""IB partners hold money like clients: an account holder of kind partner, its commissions
wallet, its own KYC before the first payout, paid by wire to an account in its name."""

from decimal import Decimal

import pytest

from brokerage.errors import InvalidInput
from clients.models import Client
from clients.permissions import is_client
from clients.selectors import client_for_user, clients_visible_to, holder_for_user
from clients.services import client_kyc_level_set, client_register
from finance.ledger import Leg, ledger_post, system_account, wallet_for
from finance.models import LedgerAccount, Withdrawal
from finance.services.withdrawals import WithdrawalNotAllowed, withdrawal_request
from ib.services import partner_create
from tests.conftest import make_client_user, make_partner_user, make_staff

pytestmark = pytest.mark.django_db
IBAN = "DE89370400440532013000"


def commission_paid(holder, amount, currency="USD", key="c1"):
    """What a settled commission period books: IB commissions payable -> the partner's wallet."""
    ledger_post(
        kind="commission",
        idempotency_key=f"test-commission-{key}",
        legs=[
            Leg(system_account(LedgerAccount.Kind.IB_COMMISSIONS_PAYABLE, currency), -amount),
            Leg(wallet_for(holder, currency), amount),
        ],
        actor="test",
        client=holder,
    )


def test_a_partner_has_an_account_holder_that_is_not_a_client():
    user = make_partner_user()
    partner = user.partner
    holder = partner.holder
    assert holder.holder == Client.Holder.PARTNER and holder.user == user
    assert holder_for_user(user) == holder
    assert client_for_user(user) is None and not is_client(user)
    assert not clients_visible_to(make_staff("ops_admin")).filter(pk=holder.pk).exists()
    # a second call changes nothing; a partner's login cannot register as a client
    assert partner_create(actor="test", user=user).holder == holder
    with pytest.raises(InvalidInput, match="IB partner"):
        client_register(user=user, actor="test")
    # and a client's login cannot become a partner
    with pytest.raises(InvalidInput, match="is a client"):
        partner_create(actor="test", user=make_client_user())


def test_partner_payout_waits_for_its_kyc_then_goes_by_wire_in_its_name():
    user = make_partner_user()
    partner = user.partner
    partner.company_name = "Ian Broker Ltd"
    partner.save()
    holder = partner_create(actor="test", user=user).holder
    holder.refresh_from_db()
    assert holder.legal_name == "Ian Broker Ltd"
    commission_paid(holder, Decimal("250.00"))
    assert wallet_for(holder, "USD").balance_amount == Decimal("250.00")

    # Never deposited, yet not refused as "never funded": commissions go by wire...
    with pytest.raises(WithdrawalNotAllowed, match="bank wire") as refused:
        withdrawal_request(client=holder, amount="100", currency="USD", psp="skrill", actor=user)
    assert refused.value.code == "partner_pays_by_wire"
    # ...and not before the partner's own KYC
    with pytest.raises(WithdrawalNotAllowed, match="Verify your identity"):
        withdrawal_request(
            client=holder, amount="100", currency="USD", psp="bank_wire", actor=user, iban=IBAN
        )
    assert not Withdrawal.objects.exists()

    client_kyc_level_set(client=holder, level=1, actor="test", reason="Partner KYC verified")
    w = withdrawal_request(
        client=holder, amount="100", currency="USD", psp="bank_wire", actor=user, iban=IBAN
    )
    assert w.status == Withdrawal.Status.APPROVED, w.check_reasons
    assert w.wire.beneficiary_name == "Ian Broker Ltd"
    wallet = wallet_for(holder, "USD")
    assert wallet.balance_amount == Decimal("250.00") and wallet.held_amount == Decimal("100.00")
