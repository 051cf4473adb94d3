"""Control endpoints (JSON) under `/_sandbox/`, the sandbox's own, not any provider's:

    POST   /_sandbox/<psp>/payments/<ref>/pay | /decline | /expire   complete a hosted payment
    GET    /_sandbox/<psp>/payments/<ref>      the payment as the sandbox sees it
    POST   /_sandbox/<psp>/disputes            {payment_reference, amount?, reason?}
    POST   /_sandbox/<psp>/disputes/<id>       {outcome: "won" | "lost"}
    GET    /_sandbox/<psp>/activity            every money movement, signed (+ in, - out)
    POST   /_sandbox/<psp>/history             [movement, ...]: what the provider did before
                                               this process started (it keeps its memory in
                                               memory); the /activity shape, known ones skipped
    GET    /_sandbox/<psp>/statement?from=&to=&format=stripe_csv|camt053|mt940|csv[&currency=]
    GET    /_sandbox/deliveries                the webhook delivery log
    GET    /_sandbox/faults, POST /_sandbox/faults {...}, DELETE /_sandbox/faults
    POST   /_sandbox/reset

`sync_delivery` (a query flag, or true in the JSON body) delivers the webhooks before answering.

Faults: duplicate_deliveries (n), shuffle, payout_delay_seconds, drop_after_request,
fail_payouts, sync_delivery, the delivery retry policy (delivery_attempts,
delivery_backoff_seconds), and the providers' APIs down: api_error_status (500-599: every call
to /stripe, /checkout, /skrill, /coinpayments answers that status, Stripe with its documented
`api_error` body; 0 off) and api_hang_seconds (every such call is held that long first, as a
PSP that hangs; 0 off). The control endpoints and webhook deliveries are not affected.

Statements: each row's reference is the id the provider's API and webhooks gave that operation
(pi_/re_/dp_ at Stripe, pay_/act_/dsp_ at Checkout.com, mb_transaction_id at Skrill, CP…/CW… at
CoinPayments). Categories: charge, refund, dispute, dispute_reversal; a client payout is
"refund" at Stripe (a card is paid back by refunding it) and "withdrawal" elsewhere, because
"payout" names the provider settling to the merchant's bank, which reconciliation skips.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from .. import statements as writers
from .config import DEFAULT_FAULTS, PSPS, STATEMENT_ACCOUNTS
from .money import major_text, parse_major
from .provider import Provider, Route
from .state import Dispute, Movement, Payment, Sandbox, StatementLine
from .web import Request, Resp, control_error, json_resp

HISTORY_KINDS = ("payment", "refund", "payout", "dispute", "dispute_reversal")


class Control:
    def __init__(self, sandbox: Sandbox, providers: dict[str, Provider]):
        self.sb = sandbox
        self.providers = providers

    def routes(self) -> list[Route]:
        psp = rf"(?P<psp>{'|'.join(PSPS)})"
        return [
            (
                "POST",
                rf"/_sandbox/{psp}/payments/(?P<ref>[^/]+)/(?P<outcome>pay|decline|expire)",
                self.complete,
            ),
            ("GET", rf"/_sandbox/{psp}/payments/(?P<ref>[^/]+)", self.payment),
            ("POST", rf"/_sandbox/{psp}/disputes", self.dispute_open),
            ("POST", rf"/_sandbox/{psp}/disputes/(?P<id>[^/]+)", self.dispute_close),
            ("GET", rf"/_sandbox/{psp}/activity", self.activity),
            ("POST", rf"/_sandbox/{psp}/history", self.history),
            ("GET", rf"/_sandbox/{psp}/statement", self.statement),
            ("GET", r"/_sandbox/deliveries", self.deliveries),
            ("GET", r"/_sandbox/faults", self.faults),
            ("POST", r"/_sandbox/faults", self.faults),
            ("DELETE", r"/_sandbox/faults", self.faults),
            ("POST", r"/_sandbox/reset", self.reset),
        ]

    def category(self, psp: str, kind: str) -> str:
        """The statement category of a movement. Stripe pays a card back as a refund; other
        client payouts are "withdrawal", since "payout" is the provider settling to the
        merchant's bank."""
        if kind == "payment":
            return "charge"
        if kind == "payout":
            return self.providers[psp].payout_category
        return kind

    def _sync(self, req: Request, body) -> bool:
        return req.flag("sync_delivery") or (
            isinstance(body, dict) and body.get("sync_delivery") is True
        )

    def payment(self, req: Request, psp: str, ref: str) -> Resp:
        with self.sb.lock:
            payment = self.sb.find_payment(psp, ref)
            if payment is None:
                return control_error(404, "not_found", f"no {psp} payment {ref}")
            return json_resp(payment.as_json())

    def complete(self, req: Request, psp: str, ref: str, outcome: str) -> Resp:
        body = req.json()
        with self.sb.lock:
            payment = self.sb.find_payment(psp, ref)
            if payment is None:
                return control_error(404, "not_found", f"no {psp} payment {ref}")
            if payment.status != "open":
                return control_error(409, "not_open", f"payment {ref} is already {payment.status}")
            deliveries = self.providers[psp].complete(payment, outcome)
            payload = {**payment.as_json(), "webhooks": len([d for d in deliveries if d])}
        return json_resp(payload, deliveries=deliveries, sync=self._sync(req, body))

    def dispute_open(self, req: Request, psp: str) -> Resp:
        body = req.json()
        if not isinstance(body, dict):
            return control_error(400, "malformed", "the body must be a JSON object")
        provider = self.providers[psp]
        if not provider.chargebacks:
            return control_error(400, "not_supported", "crypto payments cannot be charged back")
        sb = self.sb
        with sb.lock:
            payment = sb.find_payment(psp, str(body.get("payment_reference") or ""))
            if payment is None:
                return control_error(404, "not_found", "no such payment_reference")
            if payment.status != "succeeded":
                return control_error(409, "not_paid", f"the payment is {payment.status}")
            left = payment.unrefunded
            if body.get("amount") is None:
                amount = left
            else:
                amount = parse_major(str(body["amount"]), payment.currency)
                if amount is None:
                    return control_error(400, "bad_amount", f"amount {body['amount']!r}")
            if amount <= 0 or amount > left:
                return control_error(
                    409, "too_much", f"at most {major_text(left, payment.currency)} can be disputed"
                )
            reason = str(body.get("reason") or "fraudulent")
            dispute_id, provider_reference = provider.dispute_ids(payment)
            dispute = Dispute(
                psp=psp,
                id=dispute_id,
                provider_reference=provider_reference,
                payment=payment,
                amount=amount,
                currency=payment.currency,
                reason=reason,
                created_at=datetime.now(UTC),
            )
            sb.disputes[(psp, dispute_id)] = dispute
            payment.disputed += amount
            sb.book(
                psp,
                "dispute",
                dispute.provider_reference,
                payment.reference,
                -amount,
                payment.currency,
                f"Chargeback {reason}",
                payment.reported_reference,
            )
            deliveries = [provider.dispute_webhook(dispute, "open")]
            payload = dispute.as_json()
        return json_resp(payload, 201, deliveries=deliveries, sync=self._sync(req, body))

    def dispute_close(self, req: Request, psp: str, id: str) -> Resp:
        body = req.json()
        outcome = body.get("outcome") if isinstance(body, dict) else None
        if outcome not in ("won", "lost"):
            return control_error(400, "bad_outcome", "outcome must be won or lost")
        sb = self.sb
        with sb.lock:
            dispute = sb.disputes.get((psp, id))
            if dispute is None:
                return control_error(404, "not_found", f"no {psp} dispute {id}")
            if dispute.status != "open":
                return control_error(409, "closed", f"dispute {id} is already {dispute.status}")
            dispute.status = outcome
            payment = dispute.payment
            if outcome == "won":
                payment.disputed -= dispute.amount
                sb.book(
                    psp,
                    "dispute_reversal",
                    dispute.provider_reference,
                    payment.reference,
                    dispute.amount,
                    dispute.currency,
                    "Chargeback reversed (won)",
                    payment.reported_reference,
                )
            deliveries = [self.providers[psp].dispute_webhook(dispute, outcome)]
            payload = dispute.as_json()
        return json_resp(payload, deliveries=deliveries, sync=self._sync(req, body))

    def activity(self, req: Request, psp: str) -> Resp:
        with self.sb.lock:
            rows = [m.as_json() for m in self.sb.activity if m.psp == psp]
        return json_resp(rows)

    def history(self, req: Request, psp: str) -> Resp:
        """Movements the provider made before this process started, in the `/activity` shape.
        A payment is remembered as a succeeded payment too, so it can be refunded or disputed.
        A movement already known (same kind and provider reference) is skipped."""
        body = req.json()
        if not isinstance(body, list):
            return control_error(400, "malformed", "the body must be a JSON list of movements")
        moves = []
        for n, item in enumerate(body):
            try:
                kind = str(item["kind"])
                if kind not in HISTORY_KINDS:
                    raise ValueError(f"kind must be one of {', '.join(HISTORY_KINDS)}")
                currency = str(item["currency"]).upper()
                amount = parse_major(str(item["amount"]).lstrip("-"), currency)
                if amount is None or amount == 0:
                    raise ValueError(f"amount {item['amount']!r}")
                if str(item["amount"]).startswith("-"):
                    amount = -amount
                booked_at = datetime.fromisoformat(str(item["booked_at"]).replace("Z", "+00:00"))
                if booked_at.tzinfo is None:
                    raise ValueError("booked_at needs a time zone")
                ref = str(item["provider_reference"])
                if not ref:
                    raise ValueError("provider_reference is empty")
            except (KeyError, TypeError, ValueError) as exc:
                return control_error(400, "bad_movement", f"movement {n}: {exc}")
            moves.append(
                Movement(
                    psp,
                    kind,
                    ref,
                    str(item.get("reference") or ""),
                    str(item.get("payment_reference") or ""),
                    amount,
                    currency,
                    booked_at.astimezone(UTC),
                    str(item.get("description") or ""),
                )
            )
        added = 0
        with self.sb.lock:
            known = {(m.kind, m.provider_reference) for m in self.sb.activity if m.psp == psp}
            for move in moves:
                if (move.kind, move.provider_reference) in known:
                    continue
                known.add((move.kind, move.provider_reference))
                if (
                    move.kind == "payment"
                    and self.sb.find_payment(psp, move.provider_reference) is None
                ):
                    self.sb.add_payment(
                        Payment(
                            psp=psp,
                            provider_reference=move.provider_reference,
                            reference=move.reference,
                            amount=move.amount,
                            currency=move.currency,
                            notify_url="",
                            success_url="",
                            cancel_url="",
                            customer_email="",
                            created_at=move.booked_at,
                            status="succeeded",
                            paid_at=move.booked_at,
                        ),
                        move.reference,
                    )
                self.sb.activity.append(move)
                added += 1
            self.sb.activity.sort(key=lambda m: m.booked_at)
        return json_resp({"added": added, "known": len(moves) - added})

    def statement(self, req: Request, psp: str) -> Resp:
        fmt = req.query.get("format", "csv")
        if fmt not in ("stripe_csv", "camt053", "mt940", "csv"):
            return control_error(400, "bad_format", "format: stripe_csv, camt053, mt940 or csv")
        try:
            start = date.fromisoformat(req.query["from"]) if req.query.get("from") else date.min
            end = date.fromisoformat(req.query["to"]) if req.query.get("to") else date.max
        except ValueError:
            return control_error(400, "bad_date", "from and to are dates like 2026-01-31")
        with self.sb.lock:
            moves = [m for m in self.sb.activity if m.psp == psp]
        wanted = req.query.get("currency", "")
        period = [m for m in moves if start <= m.booked_at.date() <= end]
        if fmt in ("camt053", "mt940"):
            currencies = sorted({m.currency for m in period})
            if not wanted:
                if len(currencies) > 1:
                    return control_error(
                        400,
                        "currency_required",
                        f"the period has {', '.join(currencies)}: add ?currency=",
                    )
                wanted = currencies[0] if currencies else "USD"
        if wanted:
            period = [m for m in period if m.currency == wanted]
        rows = [
            StatementLine(
                line_no=n,
                reference=m.provider_reference,
                amount=m.amount,
                currency=m.currency,
                booked_on=m.booked_at.date(),
                description=m.description,
                category=self.category(psp, m.kind),
                payment_reference=m.payment_reference,
            )
            for n, m in enumerate(period, 1)
        ]
        name = f"{psp}-{req.query.get('from', 'start')}-{req.query.get('to', 'now')}"
        if fmt == "stripe_csv":
            body, ctype, ext = writers.write_stripe_itemized_csv(rows), "text/csv", "csv"
        elif fmt == "csv":
            body, ctype, ext = writers.write_generic_csv(rows), "text/csv", "csv"
        else:
            opening = sum(
                (m.amount for m in moves if m.currency == wanted and m.booked_at.date() < start),
                Decimal(0),
            )
            account = STATEMENT_ACCOUNTS[psp]
            if fmt == "camt053":
                body = writers.write_camt053(
                    rows,
                    account_iban=account,
                    currency=wanted,
                    opening_balance=opening,
                    statement_id=f"{psp.upper()}-{start if start != date.min else 'ALL'}",
                )
                ctype, ext = "application/xml", "xml"
            else:
                body = writers.write_mt940(
                    rows, account=account, currency=wanted, opening_balance=opening
                )
                ctype, ext = "text/plain; charset=latin-1", "sta"
        return Resp(
            200, body, ctype, {"Content-Disposition": f'attachment; filename="{name}.{ext}"'}
        )

    def deliveries(self, req: Request) -> Resp:
        with self.sb.lock:
            return json_resp([dict(d) for d in self.sb.deliveries])

    def faults(self, req: Request) -> Resp:
        sb = self.sb
        if req.method == "DELETE":
            with sb.lock:
                sb.faults = dict(DEFAULT_FAULTS)
            return json_resp(sb.faults)
        if req.method == "POST":
            body = req.json()
            if not isinstance(body, dict):
                return control_error(400, "malformed", "the body must be a JSON object")
            unknown = sorted(set(body) - set(DEFAULT_FAULTS))
            if unknown:
                return control_error(400, "unknown_fault", f"unknown: {', '.join(unknown)}")
            for name, value in body.items():
                kind = type(DEFAULT_FAULTS[name])
                ok = (
                    isinstance(value, bool)
                    if kind is bool
                    else (
                        isinstance(value, int | float)
                        and not isinstance(value, bool)
                        and value >= 0
                    )
                )
                if name == "api_error_status" and ok and value and not 500 <= value <= 599:
                    ok = False  # a provider failing on its side answers 5xx
                if not ok:
                    return control_error(400, "bad_fault", f"{name}: {value!r}")
            with sb.lock:
                sb.faults.update(body)
        with sb.lock:
            return json_resp(sb.faults)

    def reset(self, req: Request) -> Resp:
        self.sb.reset()
        return json_resp({"reset": True})
