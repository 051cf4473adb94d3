"""The hosted payment page every provider shows: the merchant, amount and currency, and three
buttons (Pay, Decline, Let it expire); once decided, what became of the payment."""

from __future__ import annotations

import html

from .config import MERCHANT_NAME
from .money import major_text
from .state import Payment

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;
margin:0;color:#111827}}
main{{max-width:420px;margin:64px auto;background:#fff;border-radius:12px;padding:32px;
box-shadow:0 4px 24px rgba(0,0,0,.08)}}
h1{{font-size:1.1rem;margin:0 0 4px}} .psp{{color:#6b7280;font-size:.85rem;margin-bottom:24px}}
.amount{{font-size:2rem;font-weight:700;margin:8px 0 4px}} .muted{{color:#6b7280}}
dl{{display:grid;grid-template-columns:auto 1fr;gap:6px 12px;font-size:.9rem}}
dt{{color:#6b7280}} dd{{margin:0;word-break:break-all}}
form{{display:grid;gap:10px;margin-top:24px}}
button{{font:inherit;padding:12px;border-radius:8px;border:1px solid #d1d5db;
background:#fff;cursor:pointer}}
button.pay{{background:#2563eb;border-color:#2563eb;color:#fff;font-weight:600}}
.done{{padding:12px;border-radius:8px;background:#f3f4f6}}
</style></head>
<body><main>
<h1>{merchant}</h1>
<div class="psp">{psp} &middot; sandbox checkout</div>
<div class="muted">Amount due</div>
<div class="amount">{amount} {currency}</div>
<dl><dt>Reference</dt><dd>{reference}</dd><dt>Payment</dt><dd>{provider_reference}</dd>
{extra}</dl>
{action}
</main></body></html>
"""


def render_page(payment: Payment, action_url: str, psp_name: str, details: str = "") -> bytes:
    """The page of `payment`, posting its outcome to `action_url`; `details` are more <dt>/<dd>
    rows (escaped by the caller)."""
    if payment.status == "open":
        action = (
            f'<form method="post" action="{html.escape(action_url)}">'
            '<button class="pay" type="submit" name="outcome" value="pay">Pay</button>'
            '<button type="submit" name="outcome" value="decline">Decline</button>'
            '<button type="submit" name="outcome" value="expire">Let it expire</button>'
            "</form>"
        )
    else:
        action = f'<p class="done">This payment is {html.escape(payment.status)}.</p>'
    extra = details
    if payment.customer_email:
        extra += f"<dt>Customer</dt><dd>{html.escape(payment.customer_email)}</dd>"
    return _PAGE.format(
        title=html.escape(f"Pay {MERCHANT_NAME}"),
        merchant=html.escape(MERCHANT_NAME),
        psp=html.escape(psp_name),
        amount=html.escape(major_text(payment.amount, payment.currency)),
        currency=html.escape(payment.currency),
        reference=html.escape(payment.reference or "-"),
        provider_reference=html.escape(payment.reported_reference),
        extra=extra,
        action=action,
    ).encode()
