"""Finance in the back-office (/backoffice/finance/): withdrawals queue, deposits, ledger
transactions and export, chargebacks, reconciliation, client statements, money thresholds."""

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from brokerage import exports
from brokerage.db import reads_from_replica
from brokerage.errors import DomainError, InvalidInput, NotAllowed
from brokerage.exports import Column
from brokerage.ids import parse_days, parse_id
from brokerage.intl import is_country
from brokerage.permissions import staff_required
from brokerage.selectors import audit_trail_for
from brokerage.uploads import stored_document_response
from brokerage.views import add_domain_error, paginate
from clients.access import personal_data_viewed
from clients.models import Client, PersonalDataView
from clients.standing import Purpose, client_standing

from . import psp as psp_registry
from . import selectors, services
from .forms_backoffice import (
    ITEM_KINDS,
    ChargebackForm,
    ChargebackResolveForm,
    DecisionForm,
    EvidenceForm,
    FxReportFilterForm,
    ReconciliationForm,
    RefundForm,
    ResolveItemForm,
    ThresholdDecisionForm,
    ThresholdProposeForm,
)
from .models import (
    Chargeback,
    ChargebackEvidence,
    Deposit,
    LedgerTransaction,
    PeriodClose,
    ReconciliationItem,
    ReconciliationRun,
    SavedMapping,
    Withdrawal,
)
from .models_thresholds import ThresholdChange
from .models_wires import BANK_WIRE
from .reconciliation import selectors as recon_selectors
from .reconciliation import services as recon_services
from .reconciliation.generic_csv import ColumnMapping
from .selectors_fx import fx_conversion_balances, fx_conversion_currencies, fx_conversion_days

VIEW = "finance.view_finance"
RECONCILE = "finance.reconcile"  # the broker's own accounts: finance officers only


def _date(value: str):
    """A date from a query string, or None; years outside 2000-2100 are not dates we keep."""
    try:
        parsed = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return parsed if parsed and 2000 <= parsed.year <= 2100 else None


# --- Exports of the lists --------------------------------------------------------------------


def _money_columns(kind: str, *extra: str) -> list[Column]:
    """A deposit's or a withdrawal's columns: its id and reference, the client (their id; name
    and email as personal data), PSP, amount, status, then `extra` ("header=path")."""
    return [
        *exports.columns(f"{kind}_id=pk", "reference", "client_id"),
        *exports.columns(
            "client_name=client.user.get_full_name()",
            "client_email=client.user.email",
            personal=True,
        ),  # fmt: skip
        Column("psp", lambda r: psp_registry.PSP_NAMES.get(r.psp, r.psp)),
        *exports.columns("amount", "currency", "status=get_status_display()", *extra),
    ]


DEPOSIT_COLUMNS = _money_columns(
    "deposit",
    "first_time_deposit=is_ftd",
    "refunded_amount",
    "charged_back_amount",
    "provider_reference",
    "created_at_utc=created_at",
    "completed_at_utc=completed_at",
)
WITHDRAWAL_COLUMNS = [
    *_money_columns("withdrawal", "requested_at_utc=requested_at", "decided_at_utc=decided_at"),
    exports.staff_column("first_approval_by", "first_approval_by"),
]
POSTING_COLUMNS = [
    Column("posted_at_utc", lambda p: p.posted_at),
    Column("transaction", lambda p: p.transaction_id),
    Column("kind", lambda p: p.transaction.get_kind_display()),
    Column("account", lambda p: str(p.account)),
    Column("client", lambda p: p.client_id),
    Column("client_email", lambda p: p.client.user.email if p.client_id else "", personal=True),
    Column("psp", lambda p: p.psp),
    Column("external_reference", lambda p: p.external_reference),
    Column("amount", lambda p: p.amount),
    Column("currency", lambda p: p.currency),
    Column("actor", lambda p: p.actor_label, personal=True),
    Column("description", lambda p: p.transaction.description, personal=True),
]


DEPOSITS = exports.Listing("finance.deposits", "Deposits", DEPOSIT_COLUMNS)
WITHDRAWALS = exports.Listing("finance.withdrawals", "Withdrawals", WITHDRAWAL_COLUMNS)
POSTINGS = exports.Listing("finance.ledger_postings", "Ledger postings", POSTING_COLUMNS)


# --- Withdrawals -----------------------------------------------------------------------------


@staff_required(VIEW)
def withdrawals(request):
    status = request.GET.get("status", "in_review")
    status = status if status in Withdrawal.Status.values or status == "" else "in_review"
    q = request.GET.get("q", "").strip()[:100]
    rows = selectors.withdrawal_queue(user=request.user, status=status, q=q)
    if "export" in request.GET:
        return exports.list_export(request, WITHDRAWALS, rows)
    page, query = paginate(request, rows)
    return render(
        request,
        "finance/withdrawals.html",
        {
            "export_query": exports.export_query(request.GET),
            "page": page,
            "query": query,
            "status": status,
            "q": q,
            "statuses": Withdrawal.Status.choices,
        },
    )


@staff_required(VIEW)
@require_http_methods(["GET", "POST"])
def withdrawal_detail(request, withdrawal_id: int):
    w = get_object_or_404(
        Withdrawal.objects.select_related("client__user", "funding_deposit", "hold"),
        pk=withdrawal_id,
    )
    form = DecisionForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("finance.manage_withdrawals"):
            raise PermissionDenied("Only finance officers decide withdrawals.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                if data["action"] == "approve":
                    w = services.withdrawal_approve(
                        withdrawal=w, actor=request.user, reason=data["reason"]
                    )
                    done = (
                        "Approved: the payout is queued."
                        if w.status == Withdrawal.Status.APPROVED
                        else "First approval recorded: a second officer must approve."
                    )
                else:
                    services.withdrawal_reject(
                        withdrawal=w, actor=request.user, reason=data["reason"]
                    )
                    done = "Rejected: the funds are released to the client."
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, done)
                return redirect("finance:withdrawals")
    capacity = services.closed_loop_capacity(w.client)
    ctx = {
        "w": w,
        "form": form,
        "client": w.client,
        "wallets": selectors.wallets_for_client(w.client),
        "capacity": [
            {"psp": psp_registry.PSP_NAMES.get(p, p), "currency": c, "amount": a}
            for (p, c), a in sorted(capacity.items())
        ],
        "recent": Withdrawal.objects.filter(client=w.client).exclude(pk=w.pk)[:10],
        "trail": audit_trail_for(w, limit=30),
        "four_eyes_usd": services.threshold_values()["four_eyes_usd"],
        # Nobody approves past a blocking reason (an open AML case) while it stands.
        "blocked": client_standing(w.client, Purpose.WITHDRAW).refusal(reviewable=True),
    }
    personal_data_viewed(  # the client's bank details and payment history
        request=request,
        client_id=w.client_id,
        what=PersonalDataView.What.WITHDRAWAL,
        detail=f"withdrawal {w.reference}",
    )
    return render(request, "finance/withdrawal.html", ctx, status=400 if form.errors else 200)


# --- Deposits --------------------------------------------------------------------------------


@staff_required(VIEW)
def deposits(request):
    status = request.GET.get("status", "")
    status = status if status in Deposit.Status.values else ""
    psp = request.GET.get("psp", "")
    psp = psp if psp in psp_registry.METHOD_CODES else ""
    q = request.GET.get("q", "").strip()[:100]
    country = request.GET.get("country", "").strip().upper()
    narrowed = {
        "completed": parse_days(request.GET, "start", "end"),
        "created": parse_days(request.GET, "created_from", "created_to"),
        "desk_id": parse_id(request.GET.get("desk")),
        "country": country if is_country(country) else "",
        "ftd": request.GET.get("ftd") == "1",
    }
    rows = selectors.deposit_list(user=request.user, status=status, psp=psp, q=q, **narrowed)
    if "export" in request.GET:
        return exports.list_export(request, DEPOSITS, rows)
    page, query = paginate(request, rows)
    summary = selectors.deposits_by_psp(user=request.user)
    chart = {
        "id": "deposits-by-psp",
        "kind": "bar",
        "labels": [psp_registry.PSP_NAMES[p] for p in psp_registry.METHOD_CODES],
        "datasets": [
            {
                "label": label,
                "data": [
                    sum(r["n"] for r in summary if r["psp"] == p and r["status"] == value)
                    for p in psp_registry.METHOD_CODES
                ],
            }
            for value, label in Deposit.Status.choices
            if value != Deposit.Status.CREATED
        ],
    }
    return render(
        request,
        "finance/deposits.html",
        {
            "export_query": exports.export_query(request.GET),
            "page": page,
            "query": query,
            "status": status,
            "psp": psp,
            "q": q,
            "statuses": Deposit.Status.choices,
            "status_labels": dict(Deposit.Status.choices),
            "psps": psp_registry.METHOD_CHOICES,
            "start": request.GET.get("start", "")[:10],
            "end": request.GET.get("end", "")[:10],
            "narrowed": narrowed,
            "summary": summary,
            "charts": [chart],
        },
    )


@staff_required(VIEW)
@require_http_methods(["GET", "POST"])
def deposit_detail(request, deposit_id: int):
    deposit = get_object_or_404(
        Deposit.objects.select_related("client__user", "method", "instrument"), pk=deposit_id
    )
    refund_form = RefundForm(request.POST if request.POST.get("form") == "refund" else None)
    chargeback_form = ChargebackForm(
        request.POST if request.POST.get("form") == "chargeback" else None
    )
    if request.method == "POST":
        try:
            if refund_form.is_bound and refund_form.is_valid():
                services.refund_request(
                    deposit=deposit,
                    amount=refund_form.cleaned_data["amount"],
                    reason=refund_form.cleaned_data["reason"],
                    actor=request.user,
                    request=request,
                )
                messages.success(request, "Refund sent to the PSP.")
                return redirect("finance:deposit", deposit.pk)
            if chargeback_form.is_bound and chargeback_form.is_valid():
                data = chargeback_form.cleaned_data
                cb = services.chargeback_open(
                    deposit=deposit,
                    amount=data["amount"],
                    provider_reference=data["provider_reference"],
                    reason=data["reason"],
                    actor=request.user,
                )
                messages.success(request, "Chargeback recorded.")
                return redirect("finance:chargeback", cb.pk)
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            add_domain_error(refund_form if refund_form.is_bound else chargeback_form, exc)
    ctx = {
        "d": deposit,
        "wallets": selectors.wallets_for_client(deposit.client),
        "refund_form": refund_form,
        "chargeback_form": chargeback_form,
        "refunds": deposit.refunds.select_related("requested_by"),
        "chargebacks": deposit.chargebacks.all(),
        "events": _psp_events(deposit),
        "payer": selectors.deposit_payer(deposit),
        "trail": audit_trail_for(deposit, limit=30),
        # A bank wire goes back by a withdrawal by wire, and has no card to charge back.
        "can_refund": request.user.has_perm("finance.manage_refunds") and deposit.psp != BANK_WIRE,
        "can_chargeback": request.user.has_perm("finance.manage_chargebacks")
        and deposit.psp != BANK_WIRE,
    }
    bound = refund_form.is_bound or chargeback_form.is_bound
    return render(request, "finance/deposit.html", ctx, status=400 if bound else 200)


def _psp_events(deposit: Deposit):
    from django.db.models import Q

    from .models import PspEvent

    refs = [r for r in (deposit.reference, deposit.provider_reference) if r]
    return PspEvent.objects.filter(
        Q(reference__in=refs) | Q(provider_reference__in=refs), psp=deposit.psp
    ).order_by("-received_at")[:20]


# --- Ledger transactions ---------------------------------------------------------------------


def _transaction_filters(request) -> dict:
    kind = request.GET.get("kind", "")
    psp = request.GET.get("psp", "")
    return {
        "q": request.GET.get("q", "").strip()[:100],
        "kind": kind if kind in LedgerTransaction.Kind.values else "",
        "psp": psp if psp in psp_registry.METHOD_CODES else "",
        "start": _date(request.GET.get("start", "")),
        "end": _date(request.GET.get("end", "")),
    }


@staff_required(VIEW)
@reads_from_replica()
def transactions(request):
    if "export" in request.GET:
        return transactions_csv(request)
    filters = _transaction_filters(request)
    page, query = paginate(request, selectors.transaction_list(user=request.user, **filters), 50)
    return render(
        request,
        "finance/transactions.html",
        {
            "export_query": exports.export_query(request.GET),
            "page": page,
            "query": query,
            "f": filters,
            "kinds": LedgerTransaction.Kind.choices,
            "psps": psp_registry.METHOD_CHOICES,
        },
    )


@staff_required(VIEW)
def transactions_csv(request):
    """Every posting matching the filters, streamed (no row limit, constant memory); CSV
    unless `?export=xlsx`."""
    filters = _transaction_filters(request)
    rows = selectors.transaction_list(user=request.user, **filters)
    return exports.list_export(request, POSTINGS, rows, default="csv")


# --- The FX conversion account ----------------------------------------------------------------

FX_CONVERSION = exports.Listing(
    "finance.fx_conversion",
    "FX conversion",
    exports.columns(
        "day_utc=day",
        "received_currency=source",
        "paid_currency=target",
        "conversions",
        "received_amount=source_amount",
        "paid_amount=target_amount",
        "rate",
        "rate_lowest=rate_low",
        "rate_highest=rate_high",
        "balance_received_currency=source_balance",
        "balance_paid_currency=target_balance",
        "fx_result_usd=result_usd",
    ),
)


def _fx_filters(request):
    """The bound filter form and its rows (all of them: a day and pair each, few per day)."""
    currencies = fx_conversion_currencies()
    form = FxReportFilterForm(request.GET or None, currencies=currencies)
    if request.GET and not form.is_valid():
        return form, []
    data = form.cleaned_data if request.GET else {}
    rows = fx_conversion_days(
        start=data.get("start"), end=data.get("end"), currency=data.get("currency") or ""
    )
    return form, rows


@staff_required(RECONCILE)
@reads_from_replica()
def fx_conversion(request):
    """The FX conversion account by day and currency pair: rates used, running balances and
    the broker's FX result (`finance.selectors_fx`); filters, 25 a page, CSV and XLSX."""
    if "export" in request.GET:
        return fx_conversion_csv(request)
    form, rows = _fx_filters(request)
    page, query = paginate(request, rows, 25)
    fx_conversion_balances(list(page.object_list))
    return render(
        request,
        "finance/fx_conversion.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "export_query": exports.export_query(request.GET),
        },
        status=400 if form.errors else 200,
    )


@staff_required(RECONCILE)
@reads_from_replica()
def fx_conversion_csv(request):
    form, rows = _fx_filters(request)
    if form.errors:
        return exports.filter_errors_response(form)
    fx_conversion_balances(rows)
    return exports.list_export(request, FX_CONVERSION, rows, default="csv")


# --- Chargebacks -----------------------------------------------------------------------------


@staff_required(VIEW)
def chargebacks(request):
    status = request.GET.get("status", "")
    status = status if status in Chargeback.Status.values else ""
    page, query = paginate(request, selectors.chargeback_list(user=request.user, status=status))
    return render(
        request,
        "finance/chargebacks.html",
        {"page": page, "query": query, "status": status, "statuses": Chargeback.Status.choices},
    )


@staff_required(VIEW)
@require_http_methods(["GET", "POST"])
def chargeback_detail(request, chargeback_id: int):
    cb = get_object_or_404(
        Chargeback.objects.select_related("deposit__client__user"), pk=chargeback_id
    )
    resolve_form = ChargebackResolveForm(
        request.POST if request.POST.get("form") == "resolve" else None
    )
    evidence_form = EvidenceForm(
        request.POST if request.POST.get("form") == "evidence" else None,
        request.FILES if request.POST.get("form") == "evidence" else None,
    )
    if request.method == "POST":
        try:
            if resolve_form.is_bound and resolve_form.is_valid():
                services.chargeback_resolve(
                    chargeback=cb,
                    outcome=resolve_form.cleaned_data["outcome"],
                    reason=resolve_form.cleaned_data["reason"],
                    actor=request.user,
                )
                messages.success(request, "Dispute outcome posted.")
                return redirect("finance:chargeback", cb.pk)
            if evidence_form.is_bound and evidence_form.is_valid():
                services.chargeback_evidence_add(
                    chargeback=cb,
                    uploaded_file=evidence_form.cleaned_data["file"],
                    note=evidence_form.cleaned_data["note"],
                    actor=request.user,
                )
                messages.success(request, "Evidence attached.")
                return redirect("finance:chargeback", cb.pk)
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            add_domain_error(resolve_form if resolve_form.is_bound else evidence_form, exc)
    ctx = {
        "cb": cb,
        "wallets": selectors.wallets_for_client(cb.deposit.client),
        "resolve_form": resolve_form,
        "evidence_form": evidence_form,
        "evidence": cb.evidence.select_related("uploaded_by"),
        "trail": audit_trail_for(cb, limit=30),
        "can_manage": request.user.has_perm("finance.manage_chargebacks"),
    }
    bound = resolve_form.is_bound or evidence_form.is_bound
    return render(request, "finance/chargeback.html", ctx, status=400 if bound else 200)


@staff_required(VIEW)
def chargeback_evidence(request, evidence_id: int):
    evidence = get_object_or_404(ChargebackEvidence, pk=evidence_id)
    extension = evidence.file.name.rsplit(".", 1)[-1]
    return stored_document_response(
        evidence.file,
        content_type=evidence.content_type,
        filename=f"evidence-{evidence.pk}.{extension}",
    )


# --- Reconciliation --------------------------------------------------------------------------


@staff_required("finance.reconcile")
@require_http_methods(["GET", "POST"])
def reconciliations(request):
    form = ReconciliationForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = _start_run(request, data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Reconciliation started.")
            return redirect("finance:reconciliation", run.pk)
    page, query = paginate(request, selectors.reconciliation_runs(user=request.user))
    closes = PeriodClose.objects.select_related("closed_by")[:12]
    return render(
        request,
        "finance/reconciliations.html",
        {"form": form, "page": page, "query": query, "closes": closes},
        status=400 if form.errors else 200,
    )


def _start_run(request, data) -> ReconciliationRun:
    mapping = None
    if data["format"] == "csv":
        if data["saved_mapping"]:
            mapping = ColumnMapping.from_dict(data["saved_mapping"].mapping)
        else:
            missing = [f"col_{c}" for c in ("reference", "amount", "date") if not data[f"col_{c}"]]
            if missing:
                raise InvalidInput(
                    "Name the CSV's columns, or pick a saved mapping.",
                    fields={m: ["Required for a CSV."] for m in missing},
                )
            mapping = ColumnMapping(
                reference=data["col_reference"],
                amount=data["col_amount"],
                currency=data["col_currency"] or None,
                date=data["col_date"],
                date_format=data["date_format"] or "%Y-%m-%d",
                decimal_comma=data["decimal_comma"],
            )
    month = date.fromisoformat(data["month"])
    start, end = recon_selectors.month_bounds(month)
    with transaction.atomic():
        run = recon_services.reconciliation_start(
            psp=data["psp"],
            fmt=data["format"],
            uploaded_file=data["file"],
            period_start=start,
            period_end=end,
            mapping=mapping,
            actor=request.user,
        )
        if mapping and data["save_mapping_as"]:
            SavedMapping.objects.update_or_create(
                name=data["save_mapping_as"],
                defaults={"psp": data["psp"], "mapping": mapping.to_dict()},
            )
    return run


@staff_required("finance.reconcile")
@require_http_methods(["GET", "POST"])
def reconciliation_detail(request, run_id: int):
    run = get_object_or_404(ReconciliationRun.objects.select_related("created_by"), pk=run_id)
    kind = request.GET.get("kind", "")
    kind = kind if kind in ReconciliationItem.Kind.values else ""
    show = request.GET.get("show", "open")
    if show == "matched":  # the pairs found, line by line
        matched = run.lines.filter(posting__isnull=False).select_related("posting")
        page, query = paginate(request, matched.order_by("line_no"), 50)
    elif show == "noted":  # what the reader had to assume to read a line
        page, query = paginate(request, run.lines.exclude(note="").order_by("line_no"), 50)
    else:
        items = run.items.select_related(
            "resolved_by", "line", "posting__transaction__client__user"
        )
        if kind:
            items = items.filter(kind=kind)
        if show == "open":
            items = items.filter(resolved_at__isnull=True)
        page, query = paginate(request, items.order_by("kind", "id"), 50)
        recon_selectors.attach_payments(page.object_list)
    closed = PeriodClose.objects.filter(run=run).first()
    ctx = {
        "run": run,
        "progress": recon_selectors.progress(run),
        "page": page,
        "query": query,
        "kind": kind,
        "show": show,
        "kinds": ITEM_KINDS,
        "closed": closed,
        "open_count": run.items.filter(resolved_at__isnull=True).count(),
        "resolve_form": ResolveItemForm(),
        "psp_name": psp_registry.PSP_NAMES.get(run.psp, run.psp),
        "fee_totals": recon_selectors.fee_totals(run),
    }
    return render(request, "finance/reconciliation.html", ctx)


@staff_required("finance.reconcile")
def reconciliation_progress(request, run_id: int):
    run = get_object_or_404(ReconciliationRun, pk=run_id)
    running = run.status in (ReconciliationRun.Status.QUEUED, ReconciliationRun.Status.RUNNING)
    if not running and request.htmx:
        return HttpResponseClientRedirect(f"/backoffice/finance/reconciliation/{run.pk}/")
    return render(
        request,
        "finance/_reconciliation_progress.html",
        {"run": run, "progress": recon_selectors.progress(run)},
    )


@staff_required("finance.reconcile")
@require_POST
def reconciliation_item_resolve(request, item_id: int):
    item = get_object_or_404(ReconciliationItem.objects.select_related("run"), pk=item_id)
    form = ResolveItemForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write an explanation.")
    else:
        try:
            recon_services.reconciliation_item_resolve(
                item=item, reason=form.cleaned_data["reason"], actor=request.user
            )
            messages.success(request, "Difference explained.")
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect(f"/backoffice/finance/reconciliation/{item.run_id}/?{request.GET.urlencode()}")


@staff_required("finance.reconcile")
@require_POST
def reconciliation_close(request, run_id: int):
    run = get_object_or_404(ReconciliationRun, pk=run_id)
    try:
        close = recon_services.period_close(run=run, actor=request.user)
        messages.success(request, f"{close.month:%B %Y} closed for {run.psp}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("finance:reconciliation", run.pk)


# --- Money thresholds -----------------------------------------------------------------------


@staff_required(VIEW)
@require_http_methods(["GET", "POST"])
def thresholds(request):
    """The money thresholds in force; finance officers lower them, or propose and approve a
    raise (four eyes). Compliance reads."""
    which = request.POST.get("form")
    propose = ThresholdProposeForm(request.POST if which == "propose" else None)
    decide = ThresholdDecisionForm(request.POST if which == "decide" else None)
    if request.method == "POST":
        if not request.user.has_perm("finance.manage_thresholds"):
            raise PermissionDenied("Only finance officers change money thresholds.")
        form = decide if which == "decide" else propose
        if form.is_valid():
            try:
                done = _threshold_decide(request.user, which, form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, done)
                return redirect("finance:thresholds")
    ctx = {
        **selectors.threshold_overview(user=request.user),
        "propose_form": propose,
        "decide_form": decide,
        "can_manage": request.user.has_perm("finance.manage_thresholds"),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "finance/thresholds.html", ctx, status=status)


def _threshold_decide(user, which: str, data: dict) -> str:
    if which == "propose":
        change = services.threshold_propose(
            key=data["key"], value=data["value"], actor=user, reason=data["reason"]
        )
        if change.status == ThresholdChange.Status.APPLIED:
            return f"{change.get_key_display()}: {change.value} from now on."
        return "Raise proposed: a second finance officer must approve it."
    change = ThresholdChange.objects.filter(pk=data["change"]).first()
    if change is None:
        raise InvalidInput("That change no longer exists.")
    if data["action"] == "approve":
        services.threshold_approve(change=change, actor=user, reason=data["reason"])
        return f"Raise approved: {change.get_key_display()} is {change.value} from now on."
    services.threshold_reject(change=change, actor=user, reason=data["reason"])
    return "Raise rejected: the value in force stays."


# --- Client statement ------------------------------------------------------------------------


@staff_required(VIEW)
def client_statement(request, client_id: int):
    """A client's wallet statement as PDF (any client: finance and compliance see every wallet)."""
    from .documents import statement_pdf

    client = get_object_or_404(Client.objects.select_related("user"), pk=client_id)
    currency = request.GET.get("currency", "USD")
    wallets = {w.currency for w in selectors.wallets_for_client(client)}
    if currency not in wallets:
        raise Http404("No wallet in that currency.")
    today = date.today()
    start = _date(request.GET.get("start", "")) or today.replace(day=1)
    end = _date(request.GET.get("end", "")) or today
    if end < start or (end - start).days > 366:
        return HttpResponse("The period must run forwards and be at most 366 days.", status=400)
    pdf = statement_pdf(client=client, currency=currency, start=start, end=end)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"statement-{client.pk}-{currency}-{start:%Y%m%d}-{end:%Y%m%d}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
