"""Disputes of commission lines, and the review of withheld lines: every decision audited in
its transaction.

- `dispute_open`: a partner disputes one of its own lines (pending or settled; commission or
  reversal) with a reason. One open dispute per line (the database says so too). A pending
  line becomes `disputed`, so no period close settles it while the dispute is open; a settled
  line stays settled and its correction, if any, is paid in a later period.
- `dispute_reject` and `dispute_adjust` (IB managers): a rejection puts a disputed line back to
  pending (or leaves it settled); an adjustment is a signed amount in cents, written as a line
  of its own (kind `adjustment`, no deal, `reverses` the disputed line, its time the moment
  it was decided), pending until the next period close settles it with the partner's other
  lines. Lines of kind `adjustment` have no deal, so the unique (deal, partner, tier, kind)
  key never stops a second dispute of the same line from being adjusted too.
- The engine's recompute of the disputed deal for the partner is kept on the dispute when it
  is opened; `dispute_recompute` (IB managers, audited) makes it again on demand. The
  dispute's page reads what is kept.
- Four eyes: an adjustment above `settings.IB_ADJUSTMENT_APPROVAL_THRESHOLD` (either sign) is
  proposed, and `dispute_approve` by a different IB manager writes it (the database refuses
  an approval by its proposer as well).
- The partner is emailed the outcome in its language (`clients.notify.client_notify`: on its
  account holder's communication history, once per dispute, sent after commit).
- `lines_release` and `lines_cancel` (IB managers): withheld lines back to pending (settled at
  the next close) or cancelled (never paid), one or a selection, each with a reason.

Locks: the line first, then its dispute (`_lock`), the same order as `dispute_open`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.money import format_money, to_amount
from brokerage.services import Actor, audit_record
from clients.notify import client_notify

from . import audit_events
from .engine import deal_recompute
from .models import CommissionDispute, CommissionLine, Partner
from .models_disputes import REASON_MAX
from .permissions import actor_label, require_manager
from .revisions import reversals_follow

Line = CommissionLine
Dispute = CommissionDispute
DISPUTABLE_KINDS = (Line.Kind.COMMISSION, Line.Kind.REVERSAL)
MAX_SELECTION = 200


def _reason(text, what: str = "reason") -> str:
    text = " ".join(str(text or "").split())
    if not text:
        raise InvalidInput(f"Give a {what}.", code="no_reason", fields={what: ["Required."]})
    if len(text) > REASON_MAX:
        raise InvalidInput(
            f"A {what} is at most {REASON_MAX} characters.",
            code="reason_too_long",
            fields={what: [f"At most {REASON_MAX} characters."]},
        )
    return text


def signed_amount(value, currency: str) -> Decimal:
    """ "-12.50" -> Decimal("-12.50"): a signed, non-zero amount in the currency's cents."""
    text = str(value if value is not None else "").strip().replace(",", "")
    sign = -1 if text.startswith("-") else 1
    try:
        amount = to_amount(text[1:] if text[:1] in "+-" else text, currency)
    except (InvalidOperation, TypeError):
        raise InvalidInput("The amount is not a number.", code="bad_amount") from None
    return amount * sign


def threshold() -> Decimal:
    return Decimal(str(settings.IB_ADJUSTMENT_APPROVAL_THRESHOLD))


def disputable(line: CommissionLine) -> bool:
    """Whether the partner may dispute `line` (its open disputes aside)."""
    return line.kind in DISPUTABLE_KINDS and line.status in (
        Line.Status.PENDING,
        Line.Status.SETTLED,
    )


@transaction.atomic
def dispute_open(*, partner: Partner, line_id: int, reason: str, actor: Actor) -> Dispute:
    """The partner's dispute of its line `line_id` (see the module)."""
    if not isinstance(actor, str) and getattr(actor, "partner", None) != partner:
        raise NotAllowed("A partner disputes only its own lines.")
    reason = _reason(reason)
    line = Line.objects.select_for_update().filter(pk=line_id, partner=partner).first()
    if line is None:
        raise InvalidInput("You have no such commission line.", code="no_line", status=404)
    if Dispute.objects.filter(line=line, status__in=Dispute.OPEN_STATUSES).exists():
        raise InvalidInput("This line is disputed already.", code="dispute_open")
    if line.status == Line.Status.WITHHELD:
        raise InvalidInput(
            "This line is withheld for review: it is decided before it is paid.",
            code="line_withheld",
        )
    if not disputable(line):
        raise InvalidInput(
            f"A line that is {line.get_status_display().lower()} cannot be disputed.",
            code="not_disputable",
        )
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(
                line=line,
                partner=partner,
                reason=reason,
                line_status=line.status,
                opened_by=partner.user if isinstance(actor, str) else actor,
            )
    except IntegrityError:
        raise InvalidInput("This line is disputed already.", code="dispute_open") from None
    if line.status == Line.Status.PENDING:
        line.status = Line.Status.DISPUTED
        line.save(update_fields=["status"])
    _recompute_keep(dispute)
    _audit(
        dispute,
        audit_events.DISPUTE_OPENED,
        actor,
        reason,
        deal=line.deal_id,
        amount=f"{line.amount.normalize():f}",
        currency=line.currency,
        line_status=dispute.line_status,
    )
    return dispute


def _recompute_keep(dispute: Dispute) -> list[dict]:
    """Run the engine's recompute of the disputed deal for the partner (nothing written but
    here) and keep it on the dispute, amounts as exact decimal strings."""
    line = dispute.line
    rows = deal_recompute(deal_id=line.deal_id, partner_id=line.partner_id) if line.deal_id else []
    dispute.recomputed = [
        {k: (f"{v.normalize():f}" if isinstance(v, Decimal) else v) for k, v in row.items()}
        for row in rows
    ]
    dispute.recomputed_at = timezone.now()
    dispute.save(update_fields=["recomputed", "recomputed_at"])
    return rows


def recomputed_rows(dispute: Dispute) -> list[dict] | None:
    """The recompute kept on the dispute, amounts as Decimals (None: never made)."""
    if dispute.recomputed is None:
        return None
    return [
        {**row, **{k: Decimal(row[k]) for k in ("amount", "rate") if row.get(k) is not None}}
        for row in dispute.recomputed
    ]


@transaction.atomic
def dispute_recompute(*, dispute: Dispute, actor: Actor) -> Dispute:
    """Recompute the disputed deal now (an IB manager's demand: the plan, tree or deal may have
    changed since the dispute was opened) and keep it on the dispute; audited with the totals
    before and after."""
    require_manager(actor)
    dispute = Dispute.objects.select_for_update().select_related("line").get(pk=dispute.pk)
    if not dispute.line.deal_id:
        raise InvalidInput("This line has no deal to recompute.", code="no_deal")
    before = sum((r["amount"] for r in recomputed_rows(dispute) or []), Decimal(0))
    rows = _recompute_keep(dispute)
    _audit(
        dispute,
        audit_events.DISPUTE_RECOMPUTED,
        actor,
        "",
        before=f"{before.normalize():f}",
        after=f"{sum((r['amount'] for r in rows), Decimal(0)).normalize():f}",
    )
    return dispute


def _audit(dispute: Dispute, action: str, actor: Actor, reason: str, **evidence) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=dispute,
        subject=dispute.partner.holder,
        reason=reason,
        evidence={"line": dispute.line_id, **evidence},
    )


def _lock(dispute: Dispute) -> tuple[Dispute, CommissionLine]:
    line = Line.objects.select_for_update().get(pk=dispute.line_id)
    dispute = (
        Dispute.objects.select_for_update(of=("self",))
        .select_related("partner__holder")
        .get(pk=dispute.pk)
    )
    return dispute, line


def _close(dispute: Dispute, line: CommissionLine, status: str, reason: str, by: str) -> None:
    if line.status == Line.Status.DISPUTED:
        line.status = Line.Status.PENDING
        line.save(update_fields=["status"])
        # a reversal of the line (the platform corrected its deal) waited for the dispute
        reversals_follow(lines=[line], status=Line.Status.PENDING, code="reverses_disputed")
    dispute.status = status
    dispute.decision_reason = reason
    dispute.decided_by = by
    dispute.decided_at = timezone.now()


def _tell(dispute: Dispute, line: CommissionLine, actor: Actor) -> None:
    holder = dispute.partner.holder
    if holder is None:
        return
    amount = dispute.adjustment.amount if dispute.adjustment_id else None
    client_notify(
        holder,
        email="commission_dispute_decided",
        key=f"ib.dispute:{dispute.pk}:decided",
        actor=actor,
        url_name="partners:disputes",
        context={
            "dispute": dispute.pk,
            "adjusted": dispute.status == Dispute.Status.ADJUSTED,
            "line_amount": format_money(line.amount, line.currency),
            "amount": "" if amount is None else format_money(amount, line.currency),
            "reason": dispute.decision_reason,
            "partner_area": True,
        },
        data={"dispute": dispute.pk},
    )


def _decidable(dispute: Dispute, *statuses) -> None:
    if dispute.status not in statuses:
        raise InvalidInput(
            f"This dispute is {dispute.get_status_display().lower()}: nothing to decide.",
            code="dispute_decided",
        )


@transaction.atomic
def dispute_reject(*, dispute: Dispute, reason: str, actor: Actor) -> Dispute:
    """Reject the dispute (an open one, or one whose adjustment awaits approval)."""
    require_manager(actor)
    reason = _reason(reason)
    dispute, line = _lock(dispute)
    _decidable(dispute, *Dispute.OPEN_STATUSES)
    _close(dispute, line, Dispute.Status.REJECTED, reason, actor_label(actor))
    dispute.save()
    _audit(dispute, audit_events.DISPUTE_REJECTED, actor, reason, line_status=line.status)
    _tell(dispute, line, actor)
    return dispute


@transaction.atomic
def dispute_adjust(*, dispute: Dispute, amount, reason: str, actor: Actor) -> Dispute:
    """Adjust the disputed line by `amount` (signed, in cents): written now, or proposed for a
    second IB manager's approval above the threshold."""
    require_manager(actor)
    reason = _reason(reason)
    dispute, line = _lock(dispute)
    amount = signed_amount(amount, line.currency)
    _decidable(dispute, Dispute.Status.OPEN)
    if abs(amount) > threshold():
        dispute.status = Dispute.Status.AWAITING_APPROVAL
        dispute.proposed_amount, dispute.proposed_reason = amount, reason
        dispute.proposed_by, dispute.proposed_at = actor_label(actor), timezone.now()
        dispute.save()
        _audit(
            dispute,
            audit_events.DISPUTE_ADJUSTMENT_PROPOSED,
            actor,
            reason,
            amount=f"{amount:f}",
            currency=line.currency,
            threshold=f"{threshold():f}",
        )
        return dispute
    return _adjust(dispute, line, amount, reason, by=actor_label(actor), actor=actor)


@transaction.atomic
def dispute_approve(*, dispute: Dispute, actor: Actor) -> Dispute:
    """A second IB manager approves the proposed adjustment: it is written."""
    require_manager(actor)
    dispute, line = _lock(dispute)
    _decidable(dispute, Dispute.Status.AWAITING_APPROVAL)
    if actor_label(actor) == dispute.proposed_by:
        raise NotAllowed(
            "Four eyes: the IB manager who proposed an adjustment cannot approve it.",
            code="four_eyes",
        )
    return _adjust(
        dispute,
        line,
        dispute.proposed_amount,
        dispute.proposed_reason,
        by=dispute.proposed_by,
        actor=actor,
        approved_by=actor_label(actor),
    )


def _adjust(dispute, line, amount, reason, *, by, actor, approved_by="") -> Dispute:
    adjustment = Line.objects.create(
        deal=None,
        deal_time=timezone.now(),
        client_id=line.client_id,
        partner_id=line.partner_id,
        tier=line.tier,
        kind=Line.Kind.ADJUSTMENT,
        version_id=line.version_id,
        symbol=line.symbol,
        rate=Decimal(0),
        formula=f"adjustment of line {line.pk} (dispute {dispute.pk}): {reason}"[:255],
        currency=line.currency,
        amount=amount,
        reverses=line,
    )
    _close(dispute, line, Dispute.Status.ADJUSTED, reason, by)
    dispute.approved_by, dispute.adjustment = approved_by, adjustment
    dispute.save()
    _audit(
        dispute,
        audit_events.DISPUTE_ADJUSTED,
        actor,
        reason,
        adjustment_line=adjustment.pk,
        amount=f"{amount:f}",
        currency=line.currency,
        proposed_by=by,
        approved_by=approved_by or "(under the threshold: no second approval)",
    )
    _tell(dispute, line, actor)
    return dispute


# --- Withheld lines ---------------------------------------------------------------------------


def _withheld(line_ids) -> list[CommissionLine]:
    ids = sorted({int(i) for i in line_ids})
    if not ids:
        raise InvalidInput("Choose at least one line.", code="no_lines")
    if len(ids) > MAX_SELECTION:
        raise InvalidInput(f"At most {MAX_SELECTION} lines at once.", code="too_many_lines")
    lines = list(Line.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    stale = [line.pk for line in lines if line.status != Line.Status.WITHHELD]
    if len(lines) != len(ids) or stale:
        raise InvalidInput(
            "Some of these lines are no longer withheld (decided by someone else?): "
            "nothing was changed.",
            code="not_withheld",
        )
    following = sorted(
        line.reverses_id
        for line in lines
        if line.reverses_id not in ids
        and any(h.get("code") == "reverses_withheld" for h in (line.hold_reasons or []))
    )
    if following:
        raise InvalidInput(
            f"A reversal is decided with the line it reverses: choose line "
            f"{', '.join(map(str, following))} instead. Nothing was changed.",
            code="reversal_follows",
        )
    return lines


def _decide_withheld(line_ids, reason, actor, status, action) -> int:
    require_manager(actor)
    reason = _reason(reason)
    lines = _withheld(line_ids)
    Line.objects.filter(pk__in=[line.pk for line in lines]).update(status=status)
    # the withheld reversals of these lines (their deals corrected on the platform) follow
    followed = reversals_follow(lines=lines, status=status, code="reverses_withheld")
    lines += list(Line.objects.filter(pk__in=followed).order_by("pk"))
    for line in lines:
        audit_record(
            actor=actor,
            action=action,
            target=line,
            reason=reason,
            evidence={
                "partner": line.partner_id,
                "deal": line.deal_id,
                "amount": f"{line.amount.normalize():f}",
                "currency": line.currency,
                "held_for": [r.get("message", "") for r in (line.hold_reasons or [])],
            },
        )
    return len(lines)


@transaction.atomic
def lines_release(*, line_ids, reason: str, actor: Actor) -> int:
    """Withheld lines back to pending: the next period close settles them."""
    return _decide_withheld(
        line_ids, reason, actor, Line.Status.PENDING, audit_events.LINE_RELEASED
    )


@transaction.atomic
def lines_cancel(*, line_ids, reason: str, actor: Actor) -> int:
    """Withheld lines cancelled: never paid."""
    return _decide_withheld(
        line_ids, reason, actor, Line.Status.CANCELLED, audit_events.LINE_CANCELLED
    )
