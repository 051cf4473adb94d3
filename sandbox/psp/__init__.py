"""Payment providers in one server: Stripe, Checkout.com, Skrill and CoinPayments, the subset the
product's adapters call, with hosted payment pages and signed webhooks.

Each provider lives under its own prefix (`/stripe`, `/checkout`, `/skrill`, `/coinpayments`), so
`{SANDBOX_PSP_URL}/stripe` is Stripe's API base URL, and so on. Credentials and webhook secrets
are read from the same environment variables as the product's settings, with the same sandbox
defaults (see `sandbox_config`).

Provider APIs (what the adapters in the product call), one module each, whose docstring is that
provider's contract:

- stripe.py: Checkout Sessions, refunds (client payouts too); `Stripe-Signature` webhooks.
- checkout.py: hosted payments, refunds, card payouts, payment search and actions;
  `Cko-Signature` webhooks.
- skrill.py: prepared payments (SID), refunds and transfers in two steps, status_trn; status
  posts signed with `md5sig`.
- coinpayments.py: the `api.php` commands (transactions, withdrawals); IPNs signed with `HMAC`.

Hosted pages (pages.py) show the merchant, amount and currency with three buttons (Pay, Decline,
Let it expire). The outcome (provider.py: a payment's lifecycle) is delivered as the provider's
webhook(s) to the payment's notify URL in a background thread, with retries on anything but a
2xx answer (delivery.py); `sync_delivery` (query flag or fault) delivers before answering.
Refunds and payouts also deliver their webhook. The control endpoints under `/_sandbox/`
(complete a payment, disputes, activity, statements, the delivery log, faults, reset) and the
statement files are described in control.py. Shared: config.py (providers, credentials, fault
defaults), money.py, signing.py (the four signing schemes), state.py (payments, operations,
disputes, movements), web.py (request and answer), server.py (routes and HTTP).

Where the sandbox is simpler than the real providers: every operation's outcome is decided at
once (a "pending" answer is followed by its webhook);
Checkout.com's payment_id in the hosted-payment answer, Skrill's status_trn for refunds and
transfers, and CoinPayments' sender_address and get_withdrawal_info by note are served as the
product's adapters call them; Skrill posts nothing when a chargeback is decided; card payouts
at Checkout.com and wallet/crypto payouts are not limited by the funding payment or a balance.

This package imports nothing from the product: the signing schemes and the money rules are
written out here again, so that a mistake in the product's shows against them.
"""

from .checkout import checkout_event
from .coinpayments import coinpayments_ipn
from .config import MERCHANT_NAME, PSPS, sandbox_config
from .server import serve
from .signing import signed_webhook
from .skrill import skrill_status
from .stripe import stripe_event

__all__ = [
    "MERCHANT_NAME",
    "PSPS",
    "checkout_event",
    "coinpayments_ipn",
    "sandbox_config",
    "serve",
    "signed_webhook",
    "skrill_status",
    "stripe_event",
]
