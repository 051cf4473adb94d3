"""Which providers there are, their credentials (the product's environment variables, with the
same sandbox defaults), and the faults' defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping

PSPS = ("stripe", "checkout", "skrill", "coinpayments")
PSP_NAMES = {
    "stripe": "Stripe",
    "checkout": "Checkout.com",
    "skrill": "Skrill",
    "coinpayments": "CoinPayments",
}
MERCHANT_NAME = os.environ.get("SANDBOX_MERCHANT_NAME", "Brokerage (sandbox)")

# Account identifiers printed on bank-format statements (example IBANs with valid check digits).
STATEMENT_ACCOUNTS = {
    "stripe": "GB82WEST12345698765432",
    "checkout": "GB33BUKB20201555555555",
    "skrill": "GB94BARC10201530093459",
    "coinpayments": "DE89370400440532013000",
}

DEFAULT_FAULTS = {
    "duplicate_deliveries": 1,
    "shuffle": False,
    "payout_delay_seconds": 0.0,
    "drop_after_request": False,
    "fail_payouts": False,
    "sync_delivery": False,
    "delivery_attempts": 5,
    "delivery_backoff_seconds": 0.5,
    # The providers' own APIs (not the control endpoints) down: every call answers this 5xx
    # status (0: off), or is held this many seconds before it is handled (0: off).
    "api_error_status": 0,
    "api_hang_seconds": 0.0,
}
DELIVERY_TIMEOUT_SECONDS = 10.0


def sandbox_config() -> dict[str, dict[str, str]]:
    """Each provider's credentials: the product's environment variables, with the sandbox
    defaults that `brokerage.settings.dev` gives them."""
    env = os.environ.get
    return {
        "stripe": {
            "secret_key": env("STRIPE_SECRET_KEY", "sk_test_sandbox"),
            "webhook_secret": env("STRIPE_WEBHOOK_SECRET", "whsec_sandbox"),
        },
        "checkout": {
            "secret_key": env("CHECKOUT_SECRET_KEY", "sk_sbox_sandbox"),
            "webhook_secret": env("CHECKOUT_WEBHOOK_SECRET", "cko_whsec_sandbox"),
        },
        "skrill": {
            "merchant_id": env("SKRILL_MERCHANT_ID", "5000001"),
            "pay_to_email": env("SKRILL_PAY_TO_EMAIL", "payments@brokerage.example"),
            "secret_word": env("SKRILL_SECRET_WORD", "skrill-sandbox-secret"),
            "api_password": env("SKRILL_API_PASSWORD", "skrill-sandbox-api"),
        },
        "coinpayments": {
            "merchant_id": env("COINPAYMENTS_MERCHANT_ID", "cp-sandbox-merchant"),
            "ipn_secret": env("COINPAYMENTS_IPN_SECRET", "cp-ipn-sandbox"),
            "public_key": env("COINPAYMENTS_PUBLIC_KEY", "cp-public-sandbox"),
            "private_key": env("COINPAYMENTS_PRIVATE_KEY", "cp-private-sandbox"),
        },
    }


def psp_config(psp: str, config: Mapping[str, str] | None) -> Mapping[str, str]:
    """`config`, or the sandbox's settings of `psp` when None."""
    if psp not in PSPS:
        raise ValueError(f"unknown PSP {psp!r} (known: {', '.join(PSPS)})")
    return config if config is not None else sandbox_config()[psp]
