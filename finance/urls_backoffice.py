from django.urls import path

from . import views_backoffice as views
from . import views_figures, views_wires

app_name = "finance"

urlpatterns = [
    path("withdrawals/", views.withdrawals, name="withdrawals"),
    path("withdrawals/<id:withdrawal_id>/", views.withdrawal_detail, name="withdrawal"),
    path("deposits/", views.deposits, name="deposits"),
    path("figures/", views_figures.money_figures, name="figures"),
    path("deposits/<id:deposit_id>/", views.deposit_detail, name="deposit"),
    path("transactions/", views.transactions, name="transactions"),
    path("transactions.csv", views.transactions_csv, name="transactions_csv"),
    path("chargebacks/", views.chargebacks, name="chargebacks"),
    path("chargebacks/<id:chargeback_id>/", views.chargeback_detail, name="chargeback"),
    path(
        "chargebacks/evidence/<id:evidence_id>/",
        views.chargeback_evidence,
        name="chargeback_evidence",
    ),
    path("reconciliation/", views.reconciliations, name="reconciliations"),
    path("reconciliation/<id:run_id>/", views.reconciliation_detail, name="reconciliation"),
    path(
        "reconciliation/<id:run_id>/progress/",
        views.reconciliation_progress,
        name="reconciliation_progress",
    ),
    path(
        "reconciliation/<id:run_id>/close/",
        views.reconciliation_close,
        name="reconciliation_close",
    ),
    path(
        "reconciliation/items/<id:item_id>/resolve/",
        views.reconciliation_item_resolve,
        name="reconciliation_resolve",
    ),
    path("thresholds/", views.thresholds, name="thresholds"),
    path("fx/", views.fx_conversion, name="fx_conversion"),
    path("fx.csv", views.fx_conversion_csv, name="fx_conversion_csv"),
    path("wires/", views_wires.wires, name="wires"),
    path("wires/entries/<id:entry_id>/", views_wires.wire_entry, name="wire_entry"),
    path("wires/payments/", views_wires.wire_payments, name="wire_payments"),
    path("wires/batches/<id:batch_id>.xml", views_wires.wire_batch_file, name="wire_batch"),
    path(
        "wires/withdrawals/<id:withdrawal_id>/return/",
        views_wires.wire_return,
        name="wire_return",
    ),
    path("clients/<id:client_id>/statement.pdf", views.client_statement, name="client_statement"),
]
