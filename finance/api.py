"""PSP webhooks at /api/v1/webhooks/{psp}/: verified over the raw body, applied exactly once."""

from django.http import HttpResponse
from ninja import Router

from brokerage.services import client_ip

from . import psp as psp_registry
from .services.webhooks import psp_webhook_receive

router = Router(tags=["psp webhooks"])


@router.post(
    "/{psp}/",
    auth=None,
    summary="A payment provider's notification",
    response={200: None, 400: dict, 404: dict, 409: dict},
)
def webhook(request, psp: str):
    """Stripe (`Stripe-Signature`), Checkout.com (`Cko-Signature`), Skrill (status URL,
    `md5sig`) and CoinPayments (IPN, `HMAC` header). The signature is checked over the raw body
    before anything else; repeated and reordered deliveries are applied once. A refused
    delivery answers `{"error", "detail"}` with 400 (bad signature, stale, malformed, mismatch),
    404 (unknown transaction) or 409 (arrived before what it refers to: send it again)."""
    psp_webhook_receive(psp=psp, headers=request.headers, body=request.body, ip=client_ip(request))
    ack = psp_registry.adapter_for(psp).webhook_ack()
    return HttpResponse(ack.body, content_type=ack.content_type, status=ack.status)
